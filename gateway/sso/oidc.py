"""Upstream OpenID Connect sign-in: the community portal as a provider, through authlib's
Flask client (discovery, state, nonce, PKCE S256, the code exchange).

What authlib's client leaves out is done here, before any claim is trusted
(SECURITY.md): the discovery document must name the configured issuer; the RFC 9207
`iss` of the authorization response is checked; id_tokens are accepted only with the
provider's advertised asymmetric algorithms (never `none` or HS256), and their iss,
aud, exp, iat and nonce are checked with explicit claims options, because custom
options drop authlib's iss check and authlib never compares aud with our client id.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, MutableMapping
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from authlib.oidc.core import CodeIDToken
from flask import Flask, current_app
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from gateway.settings import Settings
from gateway.sso.errors import SignInError
from gateway.sso.identity import Identity

log = logging.getLogger(__name__)

CALLBACK_PATH = "/sso/oidc/callback"
CLIENT_NAME = "portal"
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LEEWAY_SECONDS = 60
HTTP_TIMEOUT = 10


class OidcSignInRejected(SignInError):
    """The portal's answer failed a check; nothing in it is trusted."""

    event = "oidc.signin_rejected"


class OidcProviderUnavailable(SignInError):
    status = 502
    title = "The community portal's sign-in is not answering"
    event = "oidc.provider_unavailable"


def current_oidc() -> UpstreamOidc:
    """The upstream OpenID Connect client of the app handling the request."""
    upstream: UpstreamOidc | None = current_app.extensions.get("upstream_oidc")
    if upstream is None:
        raise OidcSignInRejected("Sign-in through OpenID Connect is not configured here.")
    return upstream


def check_issuer_parameter(metadata: Mapping[str, Any], iss: str | None, issuer: str) -> None:
    """RFC 9207: required when the provider advertises it; when present, it must match."""
    required = metadata.get("authorization_response_iss_parameter_supported") is True
    if (required and iss is None) or (iss is not None and iss != issuer):
        raise OidcSignInRejected(
            "The sign-in answer does not come from the community portal.",
            reason="iss parameter",
            iss=(iss or "")[:200],
        )


def allowed_algorithms(metadata: Mapping[str, Any]) -> list[str]:
    """The asymmetric id_token algorithms the provider advertises; never none or HMAC."""
    advertised = metadata.get("id_token_signing_alg_values_supported") or []
    allowed = sorted(ASYMMETRIC_ALGORITHMS.intersection(advertised))
    if not allowed:
        raise OidcSignInRejected(
            "The community portal signs with no algorithm we accept.", reason="algorithms"
        )
    return allowed


def id_token_claims(
    token: Mapping[str, Any],
    *,
    key_set: KeySet,
    algorithms: list[str],
    issuer: str,
    client_id: str,
    nonce: str,
) -> dict[str, Any]:
    """Verify the id_token's signature and claims; its claims, or a JoseError."""
    decoded = jwt.decode(str(token.get("id_token") or ""), key_set, algorithms=algorithms)
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    params = {"nonce": nonce, "client_id": client_id, "access_token": token.get("access_token")}
    claims = CodeIDToken(decoded.claims, decoded.header, options, params)
    claims.validate(leeway=LEEWAY_SECONDS)
    return dict(claims)


def identity_from_claims(
    claims: Mapping[str, Any], claim_map: Mapping[str, str], issuer: str
) -> Identity:
    """Our identity fields from verified claims, named as GATEWAY_OIDC_CLAIM_MAP says."""

    def value(field: str, *, required: bool) -> str:
        raw = claims.get(claim_map[field])
        text = raw.strip() if isinstance(raw, str) else ""
        if required and not text:
            raise OidcSignInRejected(
                f"The community portal did not send your {field.replace('_', ' ')}.",
                reason="claims",
                claim=claim_map[field],
            )
        return text

    if claims.get("email_verified") is False:
        # Imported users are linked by email: an unverified address could take one over.
        raise OidcSignInRejected(
            "Your email address is not verified at the community portal.",
            reason="email_verified",
        )
    return Identity(
        subject=value("subject", required=True),
        email=value("email", required=True).lower(),
        first_name=value("first_name", required=False),
        last_name=value("last_name", required=False),
        account_number=value("account_number", required=True),
        issuer=issuer,
        groups=claim_groups(claims, claim_map),
    )


def claim_groups(claims: Mapping[str, Any], claim_map: Mapping[str, str]) -> frozenset[str]:
    """The optional group memberships (they grant roles such as vendor IT, as in SAML)."""
    groups = claims.get(claim_map.get("groups", "groups"))
    if not isinstance(groups, list):
        return frozenset()
    return frozenset(g.strip() for g in groups if isinstance(g, str) and g.strip())


class UpstreamOidc:
    """The portal as our OpenID Connect provider, through one authlib Flask client.

    Usage::

        url = current_oidc().start_login(target)                 # GET /login
        identity, target = current_oidc().finish_login(args, session)  # the callback
    """

    def __init__(self, app: Flask, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id  # checked by Settings
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.claim_map = dict(settings.oidc_claim_map)
        self.callback_url = settings.base_url + CALLBACK_PATH
        self.client: Any = OAuth(app).register(
            CLIENT_NAME,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=self.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.oidc_scope,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic",
                "default_timeout": HTTP_TIMEOUT,
            },
        )

    def metadata(self) -> dict[str, Any]:
        """The discovery document (fetched once by authlib); it must name our issuer."""
        try:
            metadata: dict[str, Any] = self.client.load_server_metadata()
        except (requests.RequestException, ValueError) as error:
            raise OidcProviderUnavailable(
                "We could not reach the community portal's sign-in. Please try again shortly.",
                error=type(error).__name__,
            ) from None
        if metadata.get("issuer") != self.issuer:
            raise OidcSignInRejected(
                "The community portal's configuration names another issuer.",
                reason="discovery issuer",
            )
        return metadata

    def start_login(self, target: str | None) -> str:
        """The authorization request URL; state, nonce, PKCE verifier and `target` are
        kept in the (server-side) session by authlib, keyed by the state."""
        self.metadata()
        started = self.client.create_authorization_url(
            self.callback_url, nonce=secrets.token_urlsafe(24)
        )
        self.client.save_authorize_data(redirect_uri=self.callback_url, target=target, **started)
        url: str = started["url"]
        return url

    def finish_login(
        self, args: Mapping[str, str], session: MutableMapping[str, Any]
    ) -> tuple[Identity, str | None]:
        """Check the authorization response, redeem the code, verify the id_token."""
        state = args.get("state") or ""
        pending = self.client.framework.get_state_data(session, state) if state else None
        if state:
            self.client.framework.clear_state_data(session, state)  # single use
        if not pending:
            raise OidcSignInRejected(
                "This sign-in was not started in this browser, or it has expired.",
                reason="state",
            )
        metadata = self.metadata()
        check_issuer_parameter(metadata, args.get("iss"), self.issuer)
        if args.get("error") or not args.get("code"):
            raise OidcSignInRejected(
                "The community portal did not sign you in.",
                reason="authorization error",
                error=(args.get("error") or "no code")[:100],
            )
        token = self.redeem(args["code"], pending)
        claims = self.verified_claims(token, metadata, pending["nonce"])
        return identity_from_claims(claims, self.claim_map, self.issuer), pending.get("target")

    def redeem(self, code: str, pending: Mapping[str, Any]) -> dict[str, Any]:
        """The token response for `code`, sent with our PKCE verifier (client_secret_basic)."""
        try:
            token: dict[str, Any] = self.client.fetch_access_token(
                redirect_uri=pending["redirect_uri"],
                code=code,
                code_verifier=pending["code_verifier"],
            )
        except AuthlibBaseError as error:
            raise OidcSignInRejected(
                "The community portal refused to complete the sign-in.",
                reason="token endpoint",
                error=str(error)[:200],
            ) from None
        except requests.RequestException as error:
            raise OidcProviderUnavailable(
                "We could not reach the community portal's sign-in. Please try again shortly.",
                error=type(error).__name__,
            ) from None
        return token

    def verified_claims(
        self, token: Mapping[str, Any], metadata: Mapping[str, Any], nonce: str
    ) -> dict[str, Any]:
        """The id_token's claims after every check, or OidcSignInRejected."""
        algorithms = allowed_algorithms(metadata)

        def verify(*, refresh: bool) -> dict[str, Any]:
            keys = KeySet.import_key_set(self.client.fetch_jwk_set(force=refresh))
            return id_token_claims(
                token,
                key_set=keys,
                algorithms=algorithms,
                issuer=self.issuer,
                client_id=self.client_id,
                nonce=nonce,
            )

        try:
            try:
                return verify(refresh=False)
            except InvalidKeyIdError:  # the portal may have rotated its keys since
                return verify(refresh=True)
        except (JoseError, ValueError) as error:
            raise OidcSignInRejected(
                "The community portal's identity token did not pass our checks.",
                reason="id_token",
                error=f"{type(error).__name__}: {error}"[:200],
            ) from None
        except requests.RequestException as error:
            raise OidcProviderUnavailable(
                "We could not reach the community portal's sign-in. Please try again shortly.",
                error=type(error).__name__,
            ) from None
