"""A real OpenID Connect relying party for the demo's license centers.

It is deliberately built on libraries independent of our provider's authlib:
requests-oauthlib runs the code flow (state, PKCE S256, client_secret_basic) and
PyJWT verifies id_tokens and logout_tokens against the provider's JWKS. So the
demo proves the hand-off with code that is not ours on the relying-party side.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests_oauthlib import OAuth2Session

log = logging.getLogger(__name__)

# Only signatures that need the provider's private key; never `none` or HMAC.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LICENSE_CENTER_SCOPE = "openid email profile account entitlements"
LEEWAY_SECONDS = 30
PENDING_SECONDS = 600
HTTP_TIMEOUT = 5


class LoginRefused(Exception):
    """A sign-in, callback or logout message this relying party does not accept."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelyingPartyConfig:
    """What a license center knows about itself and about Switchyard."""

    issuer: str
    client_id: str
    client_secret: str
    base_url: str
    scope: str = LICENSE_CENTER_SCOPE

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/oidc/callback"

    @property
    def initiate_login_uri(self) -> str:
        return f"{self.base_url}/oidc/login"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}/signed-out"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.base_url}/oidc/backchannel-logout"

    @property
    def home(self) -> str:
        return f"{self.base_url}/start"


@dataclass(frozen=True)
class PendingLogin:
    """A code flow started in one browser and not yet finished."""

    state: str
    nonce: str
    code_verifier: str
    target: str
    browser: str
    login_hint: str | None = None
    expires_at: float = field(default_factory=lambda: time.time() + PENDING_SECONDS)


@dataclass(frozen=True)
class SignedIn:
    """A browser's session at this license center, from a verified id_token."""

    claims: dict[str, Any]
    id_token: str
    kid: str
    target: str
    login_hint: str | None = None


class CenterSessions:
    """This center's own server-side sessions, kept in memory (the demo is one process).

    Server-side, so that a back-channel logout, which arrives without the browser's
    cookie, can really end them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, PendingLogin] = {}
        self._signed_in: dict[str, SignedIn] = {}
        self._logout_jtis: dict[str, float] = {}

    def add_pending(self, pending: PendingLogin) -> None:
        with self._lock:
            now = time.time()
            self._pending = {k: v for k, v in self._pending.items() if v.expires_at > now}
            self._pending[pending.state] = pending

    def take_pending(self, state: str, browser: str) -> PendingLogin | None:
        """The login `state` names, once, and only in the browser that started it."""
        with self._lock:
            pending = self._pending.get(state)
            # Another browser presenting the state must not use up the real one's login.
            if pending is None or pending.browser != browser:
                return None
            del self._pending[state]
        return pending if pending.expires_at > time.time() else None

    def sign_in(self, browser: str, signed_in: SignedIn) -> None:
        with self._lock:
            self._signed_in[browser] = signed_in

    def current(self, browser: str) -> SignedIn | None:
        with self._lock:
            return self._signed_in.get(browser)

    def sign_out(self, browser: str) -> None:
        with self._lock:
            self._signed_in.pop(browser, None)

    def end_matching(self, *, sub: str | None, sid: str | None) -> int:
        """End every session of `sid` (or, without one, of `sub`); how many ended."""
        with self._lock:
            ended = [
                browser
                for browser, signed_in in self._signed_in.items()
                if (sid is not None and signed_in.claims.get("sid") == sid)
                or (sid is None and sub is not None and signed_in.claims.get("sub") == sub)
            ]
            for browser in ended:
                del self._signed_in[browser]
        return len(ended)

    def first_use(self, jti: str, expires_at: float) -> bool:
        """True the first time a logout_token's `jti` is seen (replay protection)."""
        with self._lock:
            now = time.time()
            self._logout_jtis = {k: v for k, v in self._logout_jtis.items() if v > now}
            if jti in self._logout_jtis:
                return False
            self._logout_jtis[jti] = expires_at
            return True


def allow_loopback_http(issuer: str) -> None:
    """Let oauthlib speak plain http when the provider is on this machine (the demo).

    oauthlib refuses http outright unless this documented switch is set; it only
    affects oauthlib, which nothing but these stand-in relying parties uses.
    """
    parts = urlsplit(issuer)
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


class RelyingParty:
    """The protocol steps of one license center as Switchyard's client."""

    def __init__(self, config: RelyingPartyConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None
        allow_loopback_http(config.issuer)

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once; its issuer must be ours."""
        with self._lock:
            if self._metadata is None:
                url = f"{self.config.issuer}/.well-known/openid-configuration"
                try:
                    document = requests.get(url, timeout=HTTP_TIMEOUT)
                    document.raise_for_status()
                    metadata: dict[str, Any] = document.json()
                except (requests.RequestException, ValueError) as error:
                    raise LoginRefused(f"Switchyard's discovery document: {error}") from None
                if metadata.get("issuer") != self.config.issuer:
                    raise LoginRefused("The discovery document names another issuer.")
                self._metadata = metadata
                self._jwks = jwt.PyJWKClient(metadata["jwks_uri"], timeout=HTTP_TIMEOUT)
            return self._metadata

    def algorithms(self) -> list[str]:
        """The asymmetric signing algorithms the provider advertises."""
        advertised = self.metadata().get("id_token_signing_alg_values_supported", ["RS256"])
        allowed = sorted(ASYMMETRIC_ALGORITHMS.intersection(advertised))
        if not allowed:
            raise LoginRefused("Switchyard advertises no asymmetric signing algorithm.")
        return allowed

    def own_target(self, target: str | None) -> str:
        """`target` when it is on this center's own origin; else the home page."""
        if not target:
            return self.config.home
        parts, home = urlsplit(target), urlsplit(self.config.base_url)
        if (parts.scheme, parts.netloc) == (home.scheme, home.netloc) and not parts.username:
            return target
        return self.config.home

    def start(
        self, browser: str, *, login_hint: str | None, target: str
    ) -> tuple[str, PendingLogin]:
        """The authorization request URL (state, nonce, PKCE S256) and what to keep."""
        client = WebApplicationClient(self.config.client_id)
        oauth = OAuth2Session(
            client=client,
            redirect_uri=self.config.redirect_uri,
            scope=self.config.scope,
            pkce="S256",
        )
        nonce = secrets.token_urlsafe(24)
        extra = {"nonce": nonce, **({"login_hint": login_hint} if login_hint else {})}
        url, state = oauth.authorization_url(
            self.metadata()["authorization_endpoint"], state=secrets.token_urlsafe(24), **extra
        )
        pending = PendingLogin(state, nonce, client.code_verifier, target, browser, login_hint)
        return url, pending

    def check_issuer_parameter(self, args: dict[str, str]) -> None:
        """RFC 9207: an authorization response must name the issuer we asked."""
        supported = self.metadata().get("authorization_response_iss_parameter_supported")
        iss = args.get("iss")
        if (supported and iss is None) or (iss is not None and iss != self.config.issuer):
            raise LoginRefused("The authorization response does not come from Switchyard (iss).")

    def finish(self, pending: PendingLogin, query_string: str, args: dict[str, str]) -> SignedIn:
        """Check the callback, redeem the code, verify the id_token."""
        self.check_issuer_parameter(args)
        client = WebApplicationClient(self.config.client_id)
        try:
            # Rebuilt from our own redirect URI, never from the request's Host header.
            client.parse_request_uri_response(
                f"{self.config.redirect_uri}?{query_string}", state=pending.state
            )
            token = OAuth2Session(
                client=client, redirect_uri=self.config.redirect_uri, scope=self.config.scope
            ).fetch_token(
                self.metadata()["token_endpoint"],
                code=client.code,
                client_secret=self.config.client_secret,
                code_verifier=pending.code_verifier,
                timeout=HTTP_TIMEOUT,
            )
        except (OAuth2Error, requests.RequestException, Warning) as error:
            raise LoginRefused(f"The code exchange failed: {error}") from None
        claims, kid = self.verify_id_token(str(token.get("id_token", "")), pending.nonce)
        return SignedIn(claims, token["id_token"], kid, pending.target, pending.login_hint)

    def _verified(
        self, token: str, *, require: list[str], typ: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """Signature (JWKS), issuer, audience and expiry of a token from Switchyard."""
        algorithms = self.algorithms()
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in algorithms:
                raise LoginRefused(f"Token signed with {header.get('alg')!r}, not {algorithms}.")
            if typ is not None and header.get("typ") != typ:
                raise LoginRefused(f"Token type {header.get('typ')!r}, expected {typ!r}.")
            assert self._jwks is not None  # set with the metadata
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=algorithms,
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", *require]},
            )
        except jwt.PyJWTError as error:
            raise LoginRefused(f"Token refused: {error}") from None
        audience = claims["aud"]
        several = isinstance(audience, list) and len(audience) > 1
        if several and claims.get("azp") != self.config.client_id:
            raise LoginRefused("Token for several audiences without us as azp.")
        return claims, str(key.key_id)

    def verify_id_token(self, token: str, nonce: str) -> tuple[dict[str, Any], str]:
        """The id_token's claims and signing key id, or LoginRefused."""
        claims, kid = self._verified(token, require=["sub", "nonce"])
        if not secrets.compare_digest(str(claims["nonce"]), nonce):
            raise LoginRefused("The id_token answers another sign-in (nonce).")
        return claims, kid

    def verify_logout_token(self, token: str, sessions: CenterSessions) -> dict[str, Any]:
        """A back-channel logout_token's claims (OIDC Back-Channel Logout 1.0 §2.6)."""
        claims, _ = self._verified(token, require=["jti", "events"], typ="logout+jwt")
        events = claims.get("events")
        if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
            raise LoginRefused("The logout_token carries no back-channel logout event.")
        if "nonce" in claims:
            raise LoginRefused("A logout_token must not carry a nonce.")
        if not claims.get("sub") and not claims.get("sid"):
            raise LoginRefused("The logout_token names neither sub nor sid.")
        if not sessions.first_use(str(claims["jti"]), float(claims["exp"])):
            raise LoginRefused("This logout_token was already used.")
        return claims

    def end_session_url(self, signed_in: SignedIn) -> str:
        """RP-initiated logout at Switchyard, back to our registered post-logout URI."""
        query = {
            "id_token_hint": signed_in.id_token,
            "post_logout_redirect_uri": self.config.post_logout_redirect_uri,
        }
        return f"{self.metadata()['end_session_endpoint']}?{urlencode(query)}"
