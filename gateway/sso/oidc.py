"""Upstream OpenID Connect sign-in: the community portal as a provider, through authlib's
Flask client (discovery, state, nonce, PKCE S256, the code exchange, userinfo).

What authlib's client leaves out is done here, before any claim is trusted: the
discovery document must name the configured issuer; the RFC 9207 `iss` of the
authorization response is checked; id_tokens are accepted only with the provider's
advertised asymmetric algorithms, with iss, aud, exp, iat and nonce checked
explicitly (gateway.sso.oidc_claims); claims the id_token lacks come from userinfo
with the same `sub`. The pending sign-in lives in this browser's server-side session,
keyed by its state, so a callback opened in another browser finds nothing. Every
request to the provider goes through OutboundSession: no redirects, one deadline.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, current_app
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from gateway.core.outbound import (
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_MAX_BYTES,
    OutboundError,
    OutboundSession,
)
from gateway.core.settings import Settings
from gateway.sso.errors import SignInError
from gateway.sso.identity import Identity
from gateway.sso.oidc_claims import (
    OidcSignInRejected,
    claims_request,
    id_token_claims,
    identity_from_claims,
    lacking,
    signed_in_at,
    with_userinfo,
)

log = logging.getLogger(__name__)

CALLBACK_PATH = "/sso/oidc/callback"
CLIENT_NAME = "portal"
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
UNREACHABLE = "We could not reach the community portal's sign-in. Please try again shortly."
__all__ = ["OidcProviderUnavailable", "OidcSignInRejected", "UpstreamOidc", "current_oidc"]


class OidcProviderUnavailable(SignInError):
    status = 503
    title = "The community portal's sign-in is not answering"
    event = "oidc.provider_unavailable"


class OutboundOAuth2Session(OAuth2Session, OutboundSession):  # type: ignore[misc]
    """authlib's requests client over OutboundSession: discovery, keys, token and
    userinfo requests follow no redirect and each has one overall deadline."""

    def __init__(
        self, *args: Any, deadline_seconds: float = DEFAULT_DEADLINE_SECONDS, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # OAuth2Session initialises requests.Session itself, skipping OutboundSession's.
        self.deadline_seconds = deadline_seconds
        self.max_bytes = DEFAULT_MAX_BYTES
        self.trust_env = False


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


def unreachable(step: str, error: Exception) -> OidcProviderUnavailable:
    """The 503 for a provider that failed, redirected or ran past the deadline at `step`."""
    return OidcProviderUnavailable(UNREACHABLE, step=step, error=str(error)[:200])


class UpstreamOidc:
    """The portal as our OpenID Connect provider, through one authlib Flask client.

    Usage::

        url = current_oidc().start_login(target, fresh=False)          # GET /sso/oidc/login
        identity, target = current_oidc().finish_login(args, session)  # the callback
    """

    def __init__(self, app: Flask, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id  # checked by Settings
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.claim_map = dict(settings.oidc_claim_map)
        self.callback_url = settings.base_url + CALLBACK_PATH
        self.leeway = settings.oidc_clock_skew_seconds
        self.client: Any = OAuth(app).register(
            CLIENT_NAME,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=self.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.oidc_scope,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic",
                "deadline_seconds": settings.oidc_http_deadline_seconds,
            },
        )
        self.client.client_cls = OutboundOAuth2Session

    def metadata(self) -> dict[str, Any]:
        """The discovery document (fetched once by authlib); it must name our issuer."""
        try:
            metadata: dict[str, Any] = self.client.load_server_metadata()
        except (OutboundError, requests.RequestException, ValueError) as error:
            raise unreachable("discovery", error) from None
        if metadata.get("issuer") != self.issuer:
            raise OidcSignInRejected(
                "The community portal's configuration names another issuer.",
                reason="discovery issuer",
            )
        return metadata

    def start_login(self, target: str | None, *, fresh: bool = False) -> str:
        """The authorization request URL; state, nonce, PKCE verifier, `target` and, for
        a fresh sign-in, when it was asked for are kept in this browser's session."""
        metadata = self.metadata()
        extra: dict[str, str] = {}
        if metadata.get("claims_parameter_supported") is True:
            extra["claims"] = claims_request(self.claim_map)
        if fresh:  # the person must authenticate again, whatever session the portal has
            extra.update(prompt="login", max_age="0")
        started = self.client.create_authorization_url(
            self.callback_url, nonce=secrets.token_urlsafe(24), **extra
        )
        fresh_since = int(time.time()) if fresh else None
        self.client.save_authorize_data(
            redirect_uri=self.callback_url, target=target, fresh_since=fresh_since, **started
        )
        url: str = started["url"]
        return url

    def finish_login(
        self, args: Mapping[str, str], session: MutableMapping[str, Any]
    ) -> tuple[Identity, str | None]:
        """Check the authorization response, redeem the code, verify the id_token and
        complete its claims from userinfo."""
        pending = self.pending_signin(args.get("state") or "", session)
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
        auth_time = signed_in_at(
            claims, now=int(time.time()), fresh_since=pending.get("fresh_since"), leeway=self.leeway
        )
        if lacking(claims, self.claim_map) and metadata.get("userinfo_endpoint"):
            claims = with_userinfo(claims, self.userinfo(token))
        identity = identity_from_claims(claims, self.claim_map, self.issuer, auth_time)
        return identity, pending.get("target")

    def pending_signin(self, state: str, session: MutableMapping[str, Any]) -> dict[str, Any]:
        """The sign-in this browser started with `state`, removed (single use)."""
        pending = self.client.framework.get_state_data(session, state) if state else None
        if not pending:  # a state this browser does not hold leaves its session untouched
            raise OidcSignInRejected(
                "This sign-in was not started in this browser, or it has expired.",
                reason="state",
            )
        self.client.framework.clear_state_data(session, state)
        return dict(pending)

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
        except (OutboundError, requests.RequestException, ValueError) as error:
            raise unreachable("token", error) from None
        return token

    def userinfo(self, token: Mapping[str, Any]) -> Any:
        """The userinfo response (a JSON object) for the access token in `token`."""
        try:
            return self.client.userinfo(token=token)
        except requests.HTTPError as error:
            if error.response is not None and error.response.status_code < 500:
                raise OidcSignInRejected(
                    "The community portal refused to tell us who you are.",
                    reason="userinfo",
                    error=str(error)[:200],
                ) from None
            raise unreachable("userinfo", error) from None
        except ValueError as error:  # not JSON (a signed answer we never registered for)
            raise OidcSignInRejected(
                "The community portal's user information could not be read.",
                reason="userinfo",
                error=type(error).__name__,
            ) from None
        except (OutboundError, requests.RequestException) as error:
            raise unreachable("userinfo", error) from None

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
                leeway=self.leeway,
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
        except (OutboundError, requests.RequestException) as error:
            raise unreachable("jwks", error) from None
