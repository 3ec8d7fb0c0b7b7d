"""When access ends, everything issued to it ends: a sign-out ends the codes and access
tokens of that session (and only those); a deactivated user, or one IT signs out
everywhere, loses every session on every instance, every code and access token, and
the license centers hear through back-channel logout.

With Redis, the user works on a second app instance while the change is made on the
first (one database, one store); on the embedded store, on one instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core import db
from gateway.core.audit import Actor
from gateway.core.db import get_session
from gateway.core.models import Account, AuditEvent, System, User
from gateway.core.settings import Settings
from gateway.organisation.service import UserChange, change_user
from gateway.provider.clients import add_client
from tests.conftest import BASE_URL, SECRET, https_client, make_app
from tests.forms import csrf_token
from tests.provider.backchannel_peer import PeerState, delivery_events, running_peer
from tests.provider.conftest import EMAIL, REDIRECT_URI, RelyingParty
from tests.provider.conftest import AuthorizationAttempt as Attempt
from tests.saml_idp import PortalIdP
from tests.signin import sign_in

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SAME_ORIGIN = {"Referer": f"{BASE_URL}/logout"}


@pytest.fixture
def other_instance(app: Flask, settings: Settings, redis_url: str | None) -> Iterator[Flask]:
    """A second instance on the same database and Redis (the same one on the embedded
    store, which no second instance could share)."""
    if redis_url is None:
        yield app
        return
    other = make_app(settings)
    yield other
    db.engine_of(other).dispose()


@pytest.fixture
def peer() -> Iterator[tuple[str, PeerState]]:
    with running_peer() as running:
        yield running


@pytest.fixture
def center(dbs: Session, systems: dict[str, System], peer: tuple[str, PeerState]) -> RelyingParty:
    """A license center taking back-channel logout at the peer's /backchannel."""
    new = add_client(
        dbs,
        name="New license center",
        redirect_uris=[REDIRECT_URI],
        actor="test",
        secret_key=SECRET,
        backchannel_logout_uri=f"{peer[0]}/backchannel",
        system_key="new",
    )
    return RelyingParty(new.client_id, new.client_secret or "")


def signed_in(instance: Flask, idp: PortalIdP, account: Account) -> FlaskClient:
    browser = https_client(instance)
    assert sign_in(browser, idp, email=EMAIL, account=account.account_number).status_code == 302
    return browser


def userinfo(instance: Flask, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}"}
    return instance.test_client().get("/oidc/userinfo", headers=headers).status_code


def pending_code(browser: FlaskClient, center: RelyingParty) -> tuple[str, Attempt]:
    """A code issued to the center, not redeemed yet."""
    attempt = Attempt()
    return center.code_from(center.authorize(browser, attempt), attempt), attempt


def set_active(instance: Flask, active: bool) -> str:
    """An org admin switches the user off (or on) on `instance`; their public id."""
    with instance.app_context():
        database = get_session()
        user = database.scalar(select(User).where(User.email == EMAIL))
        assert user is not None
        actor = Actor("ada@acme.example", via="console")
        change_user(database, actor, user, UserChange(active=active), now=datetime.now(UTC))
        return user.public_id


def verified_logout_token(instance: Flask, token: str, audience: str) -> dict[str, Any]:
    """Checked as a license center would: signature against the JWKS, iss, aud, typ."""
    keys = instance.test_client().get("/oidc/jwks").get_json()["keys"]
    header = jwt.get_unverified_header(token)
    key = jwt.PyJWK.from_dict(next(k for k in keys if k["kid"] == header["kid"])).key
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=[header["alg"]], audience=audience, issuer=BASE_URL
    )
    assert header["typ"] == "logout+jwt" and "nonce" not in claims
    assert BACKCHANNEL_EVENT in claims["events"] and claims["jti"]
    return claims


def test_deactivation_ends_sessions_tokens_codes_and_the_license_centers_sessions(
    app: Flask,
    other_instance: Flask,
    idp: PortalIdP,
    account: Account,
    center: RelyingParty,
    peer: tuple[str, PeerState],
) -> None:
    browser = signed_in(other_instance, idp, account)
    tokens, _ = center.sign_in_and_redeem(browser)
    code, attempt = pending_code(browser, center)
    assert userinfo(other_instance, tokens["access_token"]) == 200

    with delivery_events() as events:
        public_id = set_active(app, False)
        events.wait_for("oidc.backchannel_logout_delivered")
    (logout_token,) = peer[1].tokens("/backchannel")
    claims = verified_logout_token(other_instance, logout_token, center.client_id)
    assert claims["sub"] == public_id

    assert userinfo(other_instance, tokens["access_token"]) == 401
    refused = center.redeem(other_instance.test_client(), code, attempt)
    assert (refused.status_code, refused.get_json()["error"]) == (400, "invalid_grant")
    assert browser.get("/api/v1/me").status_code == 401
    again = center.authorize(browser, Attempt())
    assert again.status_code == 302 and "/login" in again.location  # no code: sign in first

    # Switched back on, nothing issued before comes back to life.
    set_active(app, True)
    assert userinfo(other_instance, tokens["access_token"]) == 401
    assert browser.get("/api/v1/me").status_code == 401


def test_signing_out_ends_that_sessions_tokens_and_codes_only(
    app: Flask, other_instance: Flask, idp: PortalIdP, account: Account, center: RelyingParty
) -> None:
    leaving = signed_in(app, idp, account)
    staying = signed_in(other_instance, idp, account)
    leaving_tokens, _ = center.sign_in_and_redeem(leaving)
    code, attempt = pending_code(leaving, center)
    staying_tokens, _ = center.sign_in_and_redeem(staying)

    form = csrf_token(leaving.get("/logout").get_data(as_text=True))
    with delivery_events() as events:
        signed_out = leaving.post("/logout", data={"csrf_token": form}, headers=SAME_ORIGIN)
        assert signed_out.status_code in (200, 302)
        events.wait_for("oidc.backchannel_logout_delivered")  # the center heard of it
    assert userinfo(other_instance, leaving_tokens["access_token"]) == 401
    refused = center.redeem(other_instance.test_client(), code, attempt)
    assert (refused.status_code, refused.get_json()["error"]) == (400, "invalid_grant")
    assert userinfo(app, staying_tokens["access_token"]) == 200
    assert staying.get("/api/v1/me").status_code == 200


def test_rp_initiated_logout_ends_that_sessions_tokens(
    app: Flask, idp: PortalIdP, account: Account, center: RelyingParty
) -> None:
    browser = signed_in(app, idp, account)
    tokens, _ = center.sign_in_and_redeem(browser)
    with delivery_events() as events:
        reply = browser.get("/oidc/logout", query_string={"id_token_hint": tokens["id_token"]})
        events.wait_for("oidc.backchannel_logout_delivered")
    assert reply.status_code == 200 and browser.get("/api/v1/me").status_code == 401
    assert userinfo(app, tokens["access_token"]) == 401


def test_it_signs_a_user_out_everywhere_from_the_command_line(
    app: Flask,
    other_instance: Flask,
    idp: PortalIdP,
    account: Account,
    center: RelyingParty,
    peer: tuple[str, PeerState],
    cli_env: CliRunner,
    dbs: Session,
    redis_url: str | None,
) -> None:
    first = signed_in(app, idp, account)
    second = signed_in(other_instance, idp, account)
    first_tokens, _ = center.sign_in_and_redeem(first)
    second_tokens, _ = center.sign_in_and_redeem(second)
    arguments = ["user", "sign-out", EMAIL.upper(), "--reason", "laptop stolen"]
    if redis_url is None:
        refused = cli_env.invoke(main, arguments)
        assert refused.exit_code != 0 and "GATEWAY_REDIS_URL" in refused.output
        assert first.get("/api/v1/me").status_code == 200
        return

    result = cli_env.invoke(main, arguments)
    assert result.exit_code == 0, result.output
    for browser, tokens in ((first, first_tokens), (second, second_tokens)):
        assert browser.get("/api/v1/me").status_code == 401
        assert userinfo(app, tokens["access_token"]) == 401
    (logout_token,) = peer[1].tokens("/backchannel")  # delivered before the command ended
    user = dbs.scalar(select(User).where(User.email == EMAIL))
    assert user is not None and user.status == "active"
    assert verified_logout_token(app, logout_token, center.client_id)["sub"] == user.public_id
    entry = dbs.scalar(select(AuditEvent).where(AuditEvent.action == "user.signed_out_everywhere"))
    assert entry is not None
    assert (entry.via, entry.actor, entry.reason, entry.account_id) == (
        "cli",
        "cli",
        "laptop stolen",
        account.id,
    )
    # Still active: they sign in again, and what they get now works.
    back = signed_in(other_instance, idp, account)
    fresh, _ = center.sign_in_and_redeem(back)
    assert userinfo(app, fresh["access_token"]) == 200


def test_signing_out_an_unknown_user_says_so(
    cli_env: CliRunner, app: Flask, redis_url: str | None
) -> None:
    result = cli_env.invoke(main, ["user", "sign-out", "nobody@example.com", "--reason", "x"])
    assert result.exit_code != 0
    expected = (
        "No user with the email address nobody@example.com" if redis_url else "GATEWAY_REDIS_URL"
    )
    assert expected in result.output
