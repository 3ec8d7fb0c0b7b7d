"""A stand-in for the community portal as an OpenID Connect provider, on loopback.

It speaks the real protocol over HTTP (discovery, JWKS, an authorization endpoint that
redirects with a code, a token endpoint with client_secret_basic and PKCE S256) and,
for attack tests, mints whatever id_token a test asks for.
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

from flask import Flask, jsonify, redirect, request
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


@dataclass
class PortalOP:
    """The provider's state: its key, the sign-ins in flight, what it was asked."""

    issuer: str = ""
    key: RsaKey = field(default_factory=lambda: RsaKey.generate("portal-key-1"))
    behaviour: Behaviour = field(default_factory=Behaviour)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorization_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)

    def reset(self, user: dict[str, Any]) -> None:
        self.behaviour = Behaviour(user=dict(user))
        self.codes.clear()
        self.authorization_requests.clear()
        self.token_requests.clear()

    def discovery(self) -> dict[str, Any]:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
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
            **self.behaviour.user,
        }
        for name, value in self.behaviour.claim_changes.items():
            if value is DELETE:
                claims.pop(name, None)
            else:
                claims[name] = value
        mint = self.behaviour.mint or self.key.sign
        return mint(claims)


def create_portal_app(op: PortalOP) -> Flask:
    """The provider's endpoints over `op`."""
    app = Flask("portal-op")

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
        server.shutdown()
        server.server_close()
        thread.join()
