"""The authorization server: authlib's Flask adapter wired to our clients, keys and store."""

from __future__ import annotations

import logging
import time
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import UserInfoEndpoint
from flask import Flask

from gateway.core.db import get_session
from gateway.core.settings import Settings, current_settings
from gateway.core.store import get_store
from gateway.provider import grants
from gateway.provider.claims import SCOPES_SUPPORTED, user_claims
from gateway.provider.clients import RegisteredClient, find_client
from gateway.provider.keys import KeyCache
from gateway.provider.tokens import (
    AccessToken,
    find_access_token,
    issue_access_token,
    new_access_token,
)

log = logging.getLogger(__name__)


def query_client(client_id: str) -> RegisteredClient | None:
    return find_client(get_session(), client_id)


def save_token(token: dict[str, Any], request: Any) -> None:
    """Store the access token (hashed); tokens from a code join that code's family."""
    code = getattr(request, "authorization_code", None)
    now = time.time()
    user = getattr(request, "user", None)
    record = AccessToken(
        client_id=request.client.client_id,
        user_id=user.id if user is not None else None,
        scope=token.get("scope", ""),
        family=code.code_hash if code is not None else None,
        expires_at=now + int(token["expires_in"]),
        issued_at=now,
        # The session the code was issued in: the token ends with it.
        session_sid=code.session_sid if code is not None else None,
        generation=code.generation if code is not None else 0,
    )
    issue_access_token(get_store(), token["access_token"], record)
    grants.audit_token(record.client_id, request.payload.grant_type, record.scope, record.user_id)


class LiveToken:
    """An access token found in the store, with its (active) client and what authlib's
    endpoints ask of it."""

    def __init__(self, record: AccessToken, client: RegisteredClient) -> None:
        self.record = record
        self.client = client
        self.scope = record.scope

    def get_scope(self) -> str:
        return self.record.scope

    def is_expired(self) -> bool:
        return self.record.is_expired()

    def is_revoked(self) -> bool:
        return False

    def get_client(self) -> RegisteredClient:
        return self.client

    def get_user(self) -> Any:
        return grants.active_user(self.record.user_id) if self.record.user_id else None


class StoreTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> LiveToken | None:
        """A live token of a client that is still registered; a revoked client's
        tokens die with it (authlib then answers invalid_token, 401)."""
        record = find_access_token(get_store(), token_string)
        if record is None:
            return None
        client = find_client(get_session(), record.client_id)
        if client is None:
            log.warning(
                "access token of a revoked client refused",
                extra={"event": "oidc.token_client_revoked", "client_id": record.client_id},
            )
            return None
        return LiveToken(record, client)


class SwitchyardUserInfo(UserInfoEndpoint):
    def get_issuer(self) -> str:
        return grants.issuer()

    def generate_user_info(self, user: Any, scope: str) -> dict[str, Any]:
        if user is None:  # a machine token, or the user was switched off since
            from authlib.oauth2.rfc6750 import InvalidTokenError

            raise InvalidTokenError()
        token = self.resource_protector.acquire_token("openid")
        client = token.get_client()
        return user_claims(
            get_session(),
            user,
            scope,
            system_key=client.system_key,
            settings=current_settings(),
        )

    def resolve_private_key(self) -> Any:
        return grants.keyring().signing


def build_server(app: Flask, settings: Settings) -> tuple[AuthorizationServer, ResourceProtector]:
    """The authorization server and the bearer-token guard for our APIs."""
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": settings.oidc_access_token_seconds,
        "client_credentials": settings.oidc_access_token_seconds,
    }
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = new_access_token
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = False
    app.extensions["provider_keys"] = KeyCache()
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.scopes_supported = list(SCOPES_SUPPORTED)
    server.register_client_auth_method(
        grants.PrivateKeyJWT.CLIENT_AUTH_METHOD, grants.PrivateKeyJWT()
    )
    server.register_grant(
        grants.AuthorizationCodeGrant,
        [
            grants.S256CodeChallenge(required=True),
            grants.SwitchyardOpenIDCode(require_nonce=True),
        ],
    )
    server.register_grant(grants.ClientCredentialsGrant)
    protector = ResourceProtector()
    protector.register_token_validator(StoreTokenValidator())
    server.register_endpoint(SwitchyardUserInfo(resource_protector=protector))
    return server, protector
