"""A relying party for provider tests: a registered client, PKCE by hand (so tests
can break it), and id_token checks with PyJWT, a library independent of authlib."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core.models import Account, System
from gateway.core.settings import Settings
from gateway.provider.clients import add_client
from tests import factories
from tests.conftest import BASE_URL, SECRET
from tests.saml_idp import PortalIdP
from tests.signin import sign_in

REDIRECT_URI = "https://legacy.licenses.test/oidc/callback"
ACCOUNT = "ACME-1"
EMAIL = "pat@acme.example"


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


@dataclass
class AuthorizationAttempt:
    state: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))


@dataclass
class RelyingParty:
    client_id: str
    client_secret: str
    redirect_uri: str = REDIRECT_URI

    def authorize_query(
        self, attempt: AuthorizationAttempt, **overrides: str | None
    ) -> dict[str, str]:
        query: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid email profile account entitlements",
            "state": attempt.state,
            "nonce": attempt.nonce,
            "code_challenge": s256(attempt.verifier),
            "code_challenge_method": "S256",
        }
        query.update(overrides)
        return {k: v for k, v in query.items() if v is not None}

    def authorize(
        self, browser: FlaskClient, attempt: AuthorizationAttempt, **overrides: str | None
    ) -> TestResponse:
        return browser.get(
            "/oidc/authorize", query_string=self.authorize_query(attempt, **overrides)
        )

    def code_from(self, reply: TestResponse, attempt: AuthorizationAttempt) -> str:
        assert reply.status_code == 302, reply.get_data(as_text=True)
        query = parse_qs(urlsplit(reply.location).query)
        assert reply.location.startswith(self.redirect_uri + "?")
        assert query["state"] == [attempt.state]
        assert query["iss"] == [BASE_URL]
        return query["code"][0]

    def basic_auth(self, secret: str | None = None) -> dict[str, str]:
        raw = f"{self.client_id}:{secret or self.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def redeem(
        self,
        client: FlaskClient,
        code: str,
        attempt: AuthorizationAttempt,
        *,
        secret: str | None = None,
        **overrides: str | None,
    ) -> TestResponse:
        form: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": attempt.verifier,
        }
        form.update(overrides)
        return client.post(
            "/oidc/token",
            data={k: v for k, v in form.items() if v is not None},
            headers=self.basic_auth(secret),
        )

    def sign_in_and_redeem(
        self, browser: FlaskClient
    ) -> tuple[dict[str, Any], AuthorizationAttempt]:
        attempt = AuthorizationAttempt()
        code = self.code_from(self.authorize(browser, attempt), attempt)
        reply = self.redeem(browser.application.test_client(), code, attempt)
        assert reply.status_code == 200, reply.get_data(as_text=True)
        return reply.get_json(), attempt


def verify_id_token(
    client: FlaskClient, token: str, audience: str, nonce: str | None = None
) -> dict[str, Any]:
    """Verify as an independent relying party would: JWKS, signature, iss, aud, exp."""
    keys = client.get("/oidc/jwks").get_json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(key for key in keys if key["kid"] == kid)
    algorithm = jwt.get_unverified_header(token)["alg"]
    public = jwt.PyJWK.from_dict(jwk).key
    claims: dict[str, Any] = jwt.decode(
        token,
        public,
        algorithms=[algorithm],
        audience=audience,
        issuer=BASE_URL,
        options={"require": ["exp", "iat", "sub"]},
    )
    if nonce is not None:
        assert claims["nonce"] == nonce
    return claims


@pytest.fixture
def systems(dbs: Session) -> dict[str, System]:
    return {key: factories.system(dbs, key) for key in ("legacy", "new")}


@pytest.fixture
def account(dbs: Session) -> Account:
    return factories.account(dbs, ACCOUNT, "Acme Corp")


def register_legacy_center(dbs: Session) -> RelyingParty:
    """The legacy license center, registered as `gateway client add` registers it."""
    new = add_client(
        dbs,
        name="Legacy license center",
        redirect_uris=[REDIRECT_URI],
        actor="test",
        secret_key=SECRET,
        initiate_login_uri="https://legacy.licenses.test/oidc/login",
        post_logout_redirect_uris=["https://legacy.licenses.test/bye"],
        system_key="legacy",
    )
    assert new.client_secret
    return RelyingParty(new.client_id, new.client_secret)


@pytest.fixture
def rp(dbs: Session, systems: dict[str, System]) -> RelyingParty:
    return register_legacy_center(dbs)


@pytest.fixture
def browser(app: Flask, client: FlaskClient, idp: PortalIdP, account: Account) -> FlaskClient:
    """A browser signed in at Switchyard through SAML."""
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT).status_code == 302
    return client


@pytest.fixture
def cli_env(settings: Settings, saml_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url or "")
    if settings.redis_url:
        monkeypatch.setenv("GATEWAY_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", settings.secret_key or "")
    monkeypatch.setenv("GATEWAY_SAML_DIR", str(saml_dir))
    monkeypatch.setenv("GATEWAY_BASE_URL", settings.base_url)
    return CliRunner()
