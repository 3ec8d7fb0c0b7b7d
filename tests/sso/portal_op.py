"""A stand-in for the community portal as an OpenID Connect provider, on loopback.

It speaks the real protocol over HTTP (discovery, JWKS, an authorization endpoint that
redirects with a code, a token endpoint with client_secret_basic and PKCE S256, a
userinfo endpoint for the bearer token) and, for attack tests, mints whatever id_token
a test asks for, answers an endpoint with a redirect, or holds its answer until the
test ends. The conformant peer is panva's oidc-provider (tests/interop); this one is
for answers no conformant provider gives.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.serving import make_server

from tests.jwt_forge import RsaKey

CLIENT_ID = "switchyard-at-portal"
CLIENT_SECRET = "portal-client-secret-0123456789"
REDIRECT_URI = "https://sso.test/sso/oidc/callback"
DELETE = object()  # a claim change that removes the claim


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Behaviour:
    """What the provider does for the next sign-in; tests change one thing."""

    user: dict[str, Any] = field(default_factory=dict)
    claim_changes: dict[str, Any] = field(default_factory=dict)
    mint: Callable[[dict[str, Any]], str] | None = None  # None: RS256 with the portal key
    discovery_changes: dict[str, Any] = field(default_factory=dict)
    in_id_token: frozenset[str] | None = None  # the user's claims in the id_token (None: all)
    userinfo_changes: dict[str, Any] = field(default_factory=dict)
    redirect: frozenset[str] = frozenset()  # paths answered with a 302 to /elsewhere
    hold: frozenset[str] = frozenset()  # paths whose answer waits for `released`
    drip: frozenset[str] = frozenset()  # paths answered a space at a time until `released`
    userinfo_status: int | None = None  # an error status for userinfo instead of claims
    userinfo_body: str | None = None  # a body for userinfo instead of the JSON claims


@dataclass
class PortalOP:
    """The provider's state: its key, the sign-ins in flight, what it was asked."""

    issuer: str = ""
    key: RsaKey = field(default_factory=lambda: RsaKey.generate("portal-key-1"))
    behaviour: Behaviour = field(default_factory=Behaviour)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorization_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    userinfo_requests: list[str] = field(default_factory=list)  # the bearer tokens shown
    access_tokens: set[str] = field(default_factory=set)
    followed: list[str] = field(default_factory=list)  # redirects someone followed
    released: threading.Event = field(default_factory=threading.Event)

    def reset(self, user: dict[str, Any]) -> None:
        self.released.set()  # whatever a previous test held goes now
        self.released = threading.Event()
        self.behaviour = Behaviour(user=dict(user))
        for record in (self.codes, self.access_tokens):
            record.clear()
        for log in (self.authorization_requests, self.token_requests, self.userinfo_requests):
            log.clear()
        self.followed.clear()

    def discovery(self) -> dict[str, Any]:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "authorization_response_iss_parameter_supported": True,
        }
        return {**document, **self.behaviour.discovery_changes}

    def id_token(self, nonce: str | None, access_token: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **self.person_claims(self.behaviour.in_id_token),
        }
        mint = self.behaviour.mint or self.key.sign
        return mint(changed(claims, self.behaviour.claim_changes))

    def person_claims(self, names: frozenset[str] | None = None) -> dict[str, Any]:
        user = self.behaviour.user
        return {k: v for k, v in user.items() if names is None or k in names or k == "sub"}

    def userinfo(self) -> dict[str, Any]:
        return changed(self.person_claims(), self.behaviour.userinfo_changes)


def drip(released: threading.Event) -> Iterator[bytes]:
    """A JSON answer sent one space every 50 ms (at most 30 s), ended by `released`."""
    for _ in range(600):
        if released.wait(0.05):
            return
        yield b" "
    yield b"{}"


def changed(claims: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`claims` with `changes` applied (DELETE removes a claim)."""
    result = dict(claims)
    for name, value in changes.items():
        if value is DELETE:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def create_portal_app(op: PortalOP) -> Flask:
    """The provider's endpoints over `op`."""
    app = Flask("portal-op")

    @app.before_request
    def misbehave() -> Any:
        if request.path in op.behaviour.redirect:
            return redirect(f"{op.issuer}/elsewhere", code=302)
        if request.path in op.behaviour.hold:
            op.released.wait()
        if request.path in op.behaviour.drip:
            return Response(drip(op.released), mimetype="application/json")
        return None

    @app.get("/elsewhere")
    def elsewhere() -> Any:  # a valid-looking answer, so following would seem to work
        op.followed.append(request.path)
        return jsonify(op.discovery())

    @app.get("/userinfo")
    def userinfo() -> Any:
        scheme, _, bearer = (request.headers.get("Authorization") or "").partition(" ")
        op.userinfo_requests.append(bearer)
        if scheme != "Bearer" or bearer not in op.access_tokens:
            return jsonify(error="invalid_token"), 401
        if op.behaviour.userinfo_status is not None:
            return jsonify(error="server_error"), op.behaviour.userinfo_status
        if op.behaviour.userinfo_body is not None:
            return Response(op.behaviour.userinfo_body, mimetype="application/jwt")
        return jsonify(op.userinfo())

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(op.discovery())

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(keys=[op.key.public_jwk])

    @app.get("/authorize")
    def authorize() -> Any:
        args = request.args.to_dict()
        op.authorization_requests.append(args)
        valid = (
            args.get("client_id") == CLIENT_ID
            and args.get("redirect_uri") == REDIRECT_URI
            and args.get("response_type") == "code"
            and args.get("code_challenge_method") == "S256"
        )
        if not valid:
            return jsonify(error="invalid_request"), 400
        code = secrets.token_urlsafe(16)
        op.codes[code] = args
        query = {"code": code, "state": args.get("state", ""), "iss": op.issuer}
        return redirect(f"{REDIRECT_URI}?{urlencode(query)}")

    @app.post("/token")
    def token() -> Any:
        form = request.form.to_dict()
        auth = request.authorization
        op.token_requests.append({"form": form, "client_id": auth.username if auth else None})
        if not auth or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
            return jsonify(error="invalid_client"), 401
        asked = op.codes.pop(form.get("code", ""), None)
        if asked is None or form.get("redirect_uri") != REDIRECT_URI:
            return jsonify(error="invalid_grant"), 400
        if s256(form.get("code_verifier", "")) != asked.get("code_challenge"):
            return jsonify(error="invalid_grant", error_description="PKCE"), 400
        access_token = secrets.token_urlsafe(16)
        op.access_tokens.add(access_token)
        id_token = op.id_token(asked.get("nonce"), access_token)
        return jsonify(
            access_token=access_token, token_type="Bearer", expires_in=300, id_token=id_token
        )

    return app


@contextmanager
def serve_portal() -> Iterator[PortalOP]:
    """Run the stand-in provider on a free loopback port until the block ends."""
    op = PortalOP()
    server = make_server("127.0.0.1", 0, create_portal_app(op), threaded=True)
    op.issuer = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=server.serve_forever, name="portal-op", daemon=True)
    thread.start()
    try:
        yield op
    finally:
        op.released.set()
        server.shutdown()
        server.server_close()
        thread.join()
