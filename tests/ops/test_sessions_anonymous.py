"""Anonymous visitors cost no server-side session: only a sign-in creates one, and
the CSRF token of an anonymous form travels in a signed cookie instead."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import https_client
from tests.forms import csrf_token
from tests.saml_idp import PortalIdP
from tests.signin import sign_in

PUBLIC_PAGES = (
    "/",
    "/route",
    "/login",
    "/saml/login",
    "/logout",
    "/oidc/logout",
    "/no-access",
    "/no-entitlements",
    "/unavailable",
    "/choose",
    "/saml/metadata",
    "/.well-known/openid-configuration",
    "/oidc/jwks",
    "/healthz",
    "/readyz",
    "/api/v1/me",
    "/it/",
)
SAME_ORIGIN = {"Referer": "https://sso.test/logout"}


def session_keys(app: Flask) -> list[bytes]:
    return sorted(app.extensions["store"].keys("session:*"))


def test_anonymous_pages_store_no_session(app: Flask, client: FlaskClient) -> None:
    for path in PUBLIC_PAGES:
        reply = client.get(path)
        assert reply.status_code < 500, (path, reply.status_code)
        assert session_keys(app) == [], path


@pytest.mark.parametrize("path", ["/logout", "/oidc/logout"])
def test_an_anonymous_sign_out_form_still_carries_a_working_csrf_token(
    app: Flask, client: FlaskClient, path: str
) -> None:
    token = csrf_token(client.get(path).get_data(as_text=True))
    reply = client.post("/logout", data={"csrf_token": token}, headers=SAME_ORIGIN)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert "signed out" in reply.get_data(as_text=True).lower()
    assert session_keys(app) == []


def test_the_anonymous_form_without_its_token_is_refused(app: Flask, client: FlaskClient) -> None:
    client.get("/logout")
    assert client.post("/logout", data={}, headers=SAME_ORIGIN).status_code == 400


def test_a_token_from_another_browser_is_refused(app: Flask, client: FlaskClient) -> None:
    """The token is bound to its browser's cookie, as it was to its server-side session."""
    token = csrf_token(https_client(app).get("/logout").get_data(as_text=True))
    client.get("/logout")  # this browser has its own token cookie
    reply = client.post("/logout", data={"csrf_token": token}, headers=SAME_ORIGIN)
    assert reply.status_code == 400


def test_a_sign_in_creates_exactly_one_session(
    app: Flask, client: FlaskClient, dbs: Session, idp: PortalIdP
) -> None:
    factories.account(dbs, "ACME-1", "Acme Corp")
    client.get("/logout")  # an anonymous page first: its CSRF cookie must not get in the way
    reply = sign_in(client, idp, email="pat@acme.example", account="ACME-1")
    assert reply.status_code == 302, reply.get_data(as_text=True)
    assert len(session_keys(app)) == 1
    assert client.get("/api/v1/me").get_json()["email"] == "pat@acme.example"
    token = csrf_token(client.get("/logout").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token}, headers=SAME_ORIGIN)
    assert session_keys(app) == []
    assert client.get("/api/v1/me").status_code == 401
