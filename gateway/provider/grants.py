"""authlib grants and extensions, with the library's unsafe defaults closed:

- a missing redirect_uri is refused (authlib would use the first registered one);
- PKCE with S256 is required of every client, `plain` is refused;
- the code is consumed atomically before tokens are made, and its expiry checked;
- a reused code revokes the tokens issued from it;
- a code of a session that has ended since (signed out, or all the user's sessions
  ended), or of a user no longer active, is refused (invalid_grant).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    grants,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from authlib.oidc.core.errors import LoginRequiredError
from flask import current_app, g, session
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from gateway.core import audit
from gateway.core.db import get_session
from gateway.core.models import User
from gateway.core.secret_keys import secret_keys
from gateway.core.session import recorded_generation
from gateway.core.settings import Settings, current_settings
from gateway.core.store import get_store, set_once
from gateway.provider.claims import user_claims
from gateway.provider.clients import RegisteredClient
from gateway.provider.freshness import session_auth_time
from gateway.provider.keys import KeyCache, KeyRing, key_encryption
from gateway.provider.tokens import (
    AuthorizationCode,
    digest,
    new_code,
    redeem_code,
    save_code,
    session_ended,
)

log = logging.getLogger(__name__)
TOKEN_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]
# The longest a private_key_jwt client assertion may be valid for (exp - now).
ASSERTION_MAX_SECONDS = 300


def issuer() -> str:
    return current_settings().base_url


def keyring() -> KeyRing:
    """The current signing key and published keys, cached per worker (and per request:
    one token response asks several times, and one version check is enough)."""
    ring: KeyRing | None = g.get("oidc_keyring")
    if ring is not None:
        return ring
    settings = current_settings()
    cache: KeyCache = current_app.extensions["provider_keys"]
    publish_for = timedelta(
        seconds=max(settings.oidc_id_token_seconds, settings.oidc_access_token_seconds) + 300
    )
    ring = cache.get(
        get_session(),
        get_store(),
        key_encryption(secret_keys()),
        alg=settings.oidc_signing_alg,
        publish_for=publish_for,
    )
    g.oidc_keyring = ring
    return ring


def nonce_key(client_id: str, nonce: str) -> str:
    return f"oidc:nonce:{client_id}:{digest(nonce)}"


def active_user(user_id: int) -> User | None:
    """The user with their account and permissions, in one query (the claims read all)."""
    statement = (
        select(User)
        .options(joinedload(User.permissions))
        .where(User.id == user_id, User.status == "active")
    )
    return get_session().scalars(statement).unique().one_or_none()


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def generate_authorization_code(self) -> str:
        return new_code()

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: RegisteredClient) -> str:
        redirect_uri: str | None = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("Redirect URI is not registered for this client.")
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        settings: Settings = current_settings()
        data = request.payload.data
        # The portal's authentication instant, never "now": the authorize view sent a
        # session without one to sign in again, so a missing one here is refused.
        auth_time = session_auth_time(session)
        if auth_time is None:
            raise LoginRequiredError(
                redirect_uri=request.payload.redirect_uri, state=request.payload.state
            )
        record = AuthorizationCode(
            code_hash=digest(code),
            client_id=request.client.client_id,
            user_id=request.user.id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            auth_time=auth_time,
            expires_at=time.time() + settings.oidc_code_seconds,
            session_sid=session.get("sid"),
            generation=recorded_generation(session),
        )
        save_code(get_store(), code, record, settings.oidc_code_seconds)
        if record.nonce:
            ttl = settings.oidc_id_token_seconds + settings.oidc_code_seconds
            set_once(get_store(), nonce_key(record.client_id, record.nonce), "1", ttl)

    def query_authorization_code(
        self, code: str, client: RegisteredClient
    ) -> AuthorizationCode | None:
        settings = current_settings()
        family_ttl = settings.oidc_access_token_seconds + settings.oidc_code_seconds
        record = redeem_code(get_store(), code, client.client_id, family_ttl=family_ttl)
        if record is not None and session_ended(
            get_store(), record.user_id, record.session_sid, record.generation
        ):
            log.warning(
                "code of an ended session refused",
                extra={"event": "oidc.code_session_ended", "client_id": client.client_id},
            )
            return None
        return record

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing to do: the code was consumed atomically when it was looked up."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return active_user(authorization_code.user_id)


class S256CodeChallenge(CodeChallenge):
    """PKCE for every client, S256 only (authlib enforces it for public clients only
    and accepts `plain`)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE 'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class SwitchyardOpenIDCode(OpenIDCode):
    """id_tokens signed with our current key, carrying the scoped claims."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Only a look-up: authlib validates the request twice (consent, then
        # response); the nonce is recorded when the code is saved.
        return bool(get_store().exists(nonce_key(request.payload.client_id, nonce)))

    def resolve_client_private_key(self, client: RegisteredClient) -> Any:
        return keyring().signing

    def get_client_algorithm(self, client: RegisteredClient) -> str:
        return keyring().alg

    def get_encode_header(self, client: RegisteredClient) -> dict[str, str]:
        ring = keyring()
        return {"alg": ring.alg, "kid": ring.signing.kid or "", "typ": "JWT"}

    def get_client_claims(self, client: RegisteredClient) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer(),
            "aud": [client.client_id],
            "iat": now,
            "exp": now + current_settings().oidc_id_token_seconds,
        }
        code: AuthorizationCode | None = g.get("oidc_code")
        if code is not None and code.session_sid:
            claims["sid"] = code.session_sid  # the token request carries no session
        return claims

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        client: RegisteredClient = g.oidc_client  # this extension is shared by all requests
        return user_claims(
            get_session(), user, scope, system_key=client.system_key, settings=current_settings()
        )

    def process_token(self, grant: Any, response: Any) -> Any:
        g.oidc_client = grant.request.client
        g.oidc_code = grant.request.authorization_code
        return super().process_token(grant, response)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Machine access (the community portal's server reading entitlement data)."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        # authlib would silently narrow the scope; a machine asking for more than it
        # was given is misconfigured or hostile, so say so.
        requested = set((self.request.payload.scope or "").split())
        if not requested <= set(self.request.client.scope.split()):
            raise InvalidScopeError()


class PrivateKeyJWT(JWTBearerClientAssertion):
    """private_key_jwt client authentication (RFC 7523), each assertion used once.

    An assertion may live at most ASSERTION_MAX_SECONDS, and its jti is remembered
    until the assertion expires (plus the clock leeway authlib grants past exp), so
    it cannot be replayed once the jti memory has gone.
    """

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self) -> list[str]:
        return [f"{issuer()}/oidc/token", issuer()]

    def validate_jti(self, claims: Any, jti: str) -> bool:
        # authlib has checked exp (essential, an int) before it asks about the jti.
        remaining = int(claims["exp"]) - int(time.time())
        if remaining > ASSERTION_MAX_SECONDS:
            raise InvalidClientError(
                description=f"The client assertion must expire within {ASSERTION_MAX_SECONDS} s."
            )
        key = f"oidc:client-assertion:{claims['sub']}:{digest(str(jti))}"
        return set_once(get_store(), key, "1", remaining + self.leeway + 1)

    def resolve_client_public_key(self, client: RegisteredClient) -> KeySet:
        return KeySet.import_key_set(client.jwks or {"keys": []})  # type: ignore[arg-type]


def audit_token(client_id: str, grant_type: str, scope: str, user_id: int | None) -> None:
    """Machine tokens are audited; user sign-ins are logged instead."""
    if grant_type == "client_credentials":
        db = get_session()
        audit.record(
            db,
            f"client:{client_id}",
            "provider.token_issued",
            f"client:{client_id}",
            after={"scope": scope, "grant_type": grant_type},
            reason="client_credentials",
        )
        db.commit()
