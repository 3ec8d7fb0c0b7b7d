"""Upstream OpenID Connect sign-in against panva's oidc-provider (OpenID Certified),
run with Node.js on loopback: the whole flow over HTTP, /sso/oidc/login -> the
provider's login form -> our callback -> signed in. With the library's defaults the
id_token carries only sub (and iss, aud, exp, iat, nonce, ...): email and profile
claims are in userinfo, or in the id_token when we send the claims parameter."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.models import Account, System, User
from tests import factories
from tests.conftest import BASE_URL
from tests.interop.certified_op import PortalBrowser, run_provider
from tests.sso.portal_op import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.interop

ACCOUNT = "ACME-1"
PERSON = {
    "email": "Pat@Acme.example",
    "email_verified": True,
    "given_name": "Pat",
    "family_name": "Lee",
    "account_number": ACCOUNT,
}
ACCOUNTS = {
    "portal-user-42": PERSON,
    "unverified": {**PERSON, "email": "unverified@acme.example", "email_verified": False},
    "silent-on-verified": {
        k: v for k, v in {**PERSON, "email": "silent@acme.example"}.items() if k != "email_verified"
    },
    "mismatched-userinfo": {**PERSON, "email": "mismatch@acme.example"},
}
# A provider gone wrong: userinfo for this account's token speaks of someone else.
USERINFO_SUBJECT = {"mismatched-userinfo": "someone-else"}


@pytest.fixture(scope="module")
def userinfo_only_issuer() -> Iterator[str]:
    """The claims parameter disabled: profile and email only ever in userinfo."""
    with run_provider(
        ACCOUNTS, claims_parameter=False, userinfo_subject=USERINFO_SUBJECT
    ) as issuer:
        yield issuer


@pytest.fixture(scope="module")
def claims_parameter_issuer() -> Iterator[str]:
    with run_provider(ACCOUNTS, claims_parameter=True, userinfo_subject=USERINFO_SUBJECT) as issuer:
        yield issuer


@pytest.fixture
def issuer(request: pytest.FixtureRequest) -> str:
    """The provider a test signs in at (parametrize indirectly with a fixture name)."""
    return str(request.getfixturevalue(getattr(request, "param", "userinfo_only_issuer")))


@pytest.fixture
def settings_overrides(issuer: str) -> dict[str, object]:
    return {
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "login_method": "oidc",
    }


@pytest.fixture
def legacy(dbs: Session) -> System:
    account: Account = factories.account(dbs, ACCOUNT, "Acme Corp")
    system = factories.system(dbs, "legacy", "https://legacy.licenses.test/start")
    line = factories.product_line(dbs, "NETGUARD", "legacy")
    factories.entitlement(dbs, account, line, [system])
    return system


def start(client: FlaskClient, issuer: str, **query: str) -> str:
    """Begin at /sso/oidc/login; the authorization request URL at the provider."""
    reply = client.get("/sso/oidc/login", query_string=query)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    assert reply.location.startswith(f"{issuer}/auth?"), reply.location
    return str(reply.location)


def authorization_query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def signed_in_subject(client: FlaskClient) -> str | None:
    me = client.get("/api/v1/me")
    return str(me.get_json()["subject"]) if me.status_code == 200 else None


def session_value(client: FlaskClient, name: str) -> Any:
    with client.session_transaction(base_url=BASE_URL) as session:
        return session.get(name)


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("switchyard_session")
    return cookie.value if cookie else None


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "oidc.signin_rejected"]


def users(dbs: Session) -> int:
    dbs.expire_all()
    return int(dbs.scalar(select(func.count()).select_from(User)) or 0)


def test_profile_claims_are_read_from_userinfo(
    client: FlaskClient, issuer: str, dbs: Session, legacy: System
) -> None:
    url = start(client, issuer)
    assert "claims" not in authorization_query(url)  # not advertised by this provider
    browser = PortalBrowser()
    reply = client.get(browser.authorize(url, "portal-user-42"))
    assert reply.status_code == 302 and reply.location.startswith("https://legacy.licenses.test/")
    assert browser.prompts == ["login"]
    user = dbs.scalar(select(User).where(User.subject == "portal-user-42"))
    assert user is not None
    assert (user.email, user.first_name, user.last_name) == ("pat@acme.example", "Pat", "Lee")
    assert signed_in_subject(client) == "portal-user-42"


@pytest.mark.parametrize("issuer", ["claims_parameter_issuer"], indirect=True)
def test_claims_parameter_puts_the_claims_in_the_id_token(
    client: FlaskClient, issuer: str, legacy: System
) -> None:
    """This account's userinfo names someone else: signing in proves the claims came
    from the id_token alone, as the claims parameter asked."""
    url = start(client, issuer)
    asked = json.loads(authorization_query(url)["claims"])
    assert asked["id_token"]["email"] == {"essential": True}
    assert asked["id_token"]["email_verified"] == {"essential": True}
    assert "given_name" in asked["id_token"] and "given_name" in asked["userinfo"]
    reply = client.get(PortalBrowser().authorize(url, "mismatched-userinfo"))
    assert reply.status_code == 302, reply.get_data(as_text=True)
    assert signed_in_subject(client) == "mismatched-userinfo"


def test_userinfo_about_another_subject_is_refused(
    client: FlaskClient,
    issuer: str,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply = client.get(PortalBrowser().authorize(start(client, issuer), "mismatched-userinfo"))
    assert reply.status_code == 400
    assert "about someone else" in reply.get_data(as_text=True)
    assert signed_in_subject(client) is None and users(dbs) == 0
    assert getattr(refusals(caplog)[-1], "reason", None) == "userinfo sub"


@pytest.mark.parametrize("login", ["unverified", "silent-on-verified"])
def test_email_not_confirmed_verified_is_refused(
    login: str,
    client: FlaskClient,
    issuer: str,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply = client.get(PortalBrowser().authorize(start(client, issuer), login))
    assert reply.status_code == 400
    assert signed_in_subject(client) is None and users(dbs) == 0
    assert getattr(refusals(caplog)[-1], "reason", None) == "email_verified"


def test_callback_replayed_into_another_browser_is_refused(
    app: Flask,
    client: FlaskClient,
    issuer: str,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Login CSRF: the attacker starts a sign-in in browser A, signs in at the portal
    as themself, and makes the victim's browser B open the redirect back to us."""
    attacker, victim = client, app.test_client()
    victim_own_start = start(victim, issuer)  # B even has a sign-in of its own pending
    callback = PortalBrowser().authorize(start(attacker, issuer), "portal-user-42")

    victim_cookie = session_cookie(victim)
    reply = victim.get(callback)
    assert reply.status_code == 400
    assert "not started in this browser" in reply.get_data(as_text=True)
    assert session_cookie(victim) == victim_cookie  # no new session was started in B
    assert signed_in_subject(victim) is None and users(dbs) == 0
    assert getattr(refusals(caplog)[-1], "reason", None) == "state"

    assert attacker.get(callback).status_code == 302  # A's own sign-in still completes
    assert signed_in_subject(attacker) == "portal-user-42"
    # B's own pending sign-in was not consumed by the attempt.
    own_callback = PortalBrowser().authorize(victim_own_start, "portal-user-42")
    assert victim.get(own_callback).status_code == 302


def test_fresh_sign_in_makes_the_portal_authenticate_again(
    client: FlaskClient, issuer: str, legacy: System
) -> None:
    browser = PortalBrowser()
    assert client.get(browser.authorize(start(client, issuer), "portal-user-42")).status_code == 302
    first_auth_time = session_value(client, "auth_time")
    assert isinstance(first_auth_time, int) and first_auth_time <= time.time()

    again = start(client, issuer)  # the portal still has its session: no login form
    assert client.get(browser.authorize(again, "portal-user-42")).status_code == 302
    assert browser.prompts == ["login"]

    asked_at = int(time.time())
    fresh = start(client, issuer, fresh="1")
    query = authorization_query(fresh)
    assert (query["prompt"], query["max_age"]) == ("login", "0")
    assert client.get(browser.authorize(fresh, "portal-user-42")).status_code == 302
    assert browser.prompts == ["login", "login"]  # asked for the password again
    assert asked_at <= session_value(client, "auth_time") <= time.time()
