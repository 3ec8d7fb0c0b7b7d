"""Login CSRF at the ACS: a response signs in only the browser that started the sign-in.

The attacker starts /saml/login in their own browser, has pysaml2 (the portal) sign
a valid response for the attacker's account, and makes the victim's browser post
it. The victim's browser must be refused and left signed out; the attacker's own
browser can still use the response, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.models import Account
from gateway.core.settings import Settings, SettingsError
from gateway.sso.binding import BINDING_COOKIE
from tests.conftest import _reset, https_client, make_app
from tests.saml_idp import PortalIdP
from tests.sso.conftest import ACCOUNT, assert_refused

ATTACKER = "mallory@acme.example"
OTHER_BROWSER = ("started in another browser", "Start the sign-in again here")


def attacker_response(idp: PortalIdP, attacker: FlaskClient) -> str:
    request = idp.login_request(attacker)
    return idp.pysaml2_response(attacker, request, email=ATTACKER, account=ACCOUNT)


def test_response_posted_by_the_victims_browser_is_refused_and_still_works_in_the_starter(
    app: Flask,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attacker, victim = https_client(app), https_client(app)
    xml = attacker_response(idp, attacker)
    assert_refused(
        idp.post(victim, xml),
        victim,
        dbs,
        caplog,
        reason=OTHER_BROWSER,
        event="saml.browser_mismatch",
    )
    # Nothing was consumed: the browser that started it finishes it, exactly once.
    assert idp.post(attacker, xml).status_code == 302
    assert attacker.get("/api/v1/me").get_json()["email"] == ATTACKER
    assert idp.post(attacker, xml).status_code == 400


def test_victim_with_a_sign_in_of_their_own_is_still_refused(
    app: Flask,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attacker, victim = https_client(app), https_client(app)
    idp.login_request(victim)  # the victim's browser holds its own binding cookie
    xml = attacker_response(idp, attacker)
    assert_refused(
        idp.post(victim, xml),
        victim,
        dbs,
        caplog,
        reason=OTHER_BROWSER,
        event="saml.browser_mismatch",
    )


def test_a_forged_binding_cookie_is_refused(
    app: Flask,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attacker, victim = https_client(app), https_client(app)
    xml = attacker_response(idp, attacker)
    victim.set_cookie(BINDING_COOKIE, "A" * 43, domain="sso.test")
    assert_refused(
        idp.post(victim, xml),
        victim,
        dbs,
        caplog,
        reason=OTHER_BROWSER,
        event="saml.browser_mismatch",
    )


def test_two_tabs_of_one_browser_can_both_finish(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    first = idp.login_request(client)
    second = idp.login_request(client)  # keeps the cookie the first tab was given
    for request in (second, first):
        xml = idp.pysaml2_response(client, request, email=ATTACKER, account=ACCOUNT)
        assert idp.post(client, xml).status_code == 302


def binding_set_cookie(client: FlaskClient, path: str = "/saml/login") -> str:
    reply = client.get(path)
    assert reply.status_code == 302
    headers = [h for h in reply.headers.getlist("Set-Cookie") if h.startswith(BINDING_COOKIE)]
    assert len(headers) == 1, reply.headers
    return headers[0]


@pytest.mark.parametrize("path", ["/saml/login", "/login"])
def test_binding_cookie_is_httponly_samesite_none_and_secure_on_https(
    client: FlaskClient, path: str
) -> None:
    header = binding_set_cookie(client, path)
    attributes = {part.strip().split("=")[0].lower(): part for part in header.split(";")}
    assert "httponly" in attributes and "secure" in attributes
    assert attributes["samesite"].strip() == "SameSite=None"
    value = header.split(";")[0].split("=", 1)[1]
    assert len(value) >= 43  # 256 random bits


@pytest.fixture
def app_at(settings: Settings, request: pytest.FixtureRequest) -> Iterator[FlaskClient]:
    """A client of an app whose public URL is `request.param`."""
    app = make_app(settings.model_copy(update={"base_url": request.param}))
    yield app.test_client()
    _reset(app)


@pytest.mark.parametrize(
    "app_at", ["http://localhost:8000", "http://127.0.0.1:8000"], indirect=True
)
def test_binding_cookie_is_not_secure_only_on_plain_http_loopback(app_at: FlaskClient) -> None:
    header = binding_set_cookie(app_at).lower()
    assert "httponly" in header and "secure" not in header
    # Browsers drop SameSite=None without Secure; the loopback dev IdP is same-site.
    assert "samesite=lax" in header


def test_refusal_is_logged_with_the_request_it_answers(
    app: Flask, idp: PortalIdP, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    attacker, victim = https_client(app), https_client(app)
    request = idp.login_request(attacker)
    xml = idp.pysaml2_response(attacker, request, email=ATTACKER, account=ACCOUNT)
    idp.post(victim, xml)
    records = [r for r in caplog.records if getattr(r, "event", None) == "saml.browser_mismatch"]
    assert [getattr(r, "in_response_to", None) for r in records] == [request.id]


def test_idp_initiated_sign_in_is_the_documented_exception(
    app_idp_initiated: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    # No AuthnRequest, so no browser to bind: allowed only when enabled.
    xml = idp.response_xml(idp.spec(email=ATTACKER, account=ACCOUNT))
    assert app_idp_initiated.get_cookie(BINDING_COOKIE, domain="sso.test") is None
    assert idp.post(app_idp_initiated, xml, relay_state="/api/v1/me").status_code == 302


def test_saml_on_a_plain_http_public_url_stops_start_up(settings: Settings) -> None:
    # Browsers drop the Secure binding cookie on plain http: every sign-in would fail.
    with pytest.raises(SettingsError, match="^GATEWAY_BASE_URL: SAML sign-in needs an https"):
        make_app(settings.model_copy(update={"base_url": "http://sso.example.com"}))
