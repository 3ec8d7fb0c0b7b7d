"""'Remember my choice' is visible on every page and reversible, by the user and by
IT support (audited), never by another organisation's user."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core.models import Account, AuditEvent, User
from tests import factories
from tests.conftest import BASE_URL, https_client
from tests.forms import csrf_token
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

EMAIL = "pat@acme.example"
BANNER = "You chose to always go to <strong>Legacy license center</strong>"


@pytest.fixture
def acme(dbs: Session, world: World) -> Account:
    """Lines on both systems (the world's CAD, and PLM already moved to new), and Pat,
    who asked to always go to legacy."""
    plm = factories.product_line(dbs, "PLM", "new")
    acme = factories.account(dbs, "ACME-1", "Acme Corp")
    factories.entitlement(dbs, acme, world.cad, [world.legacy], product="CAD Server")
    factories.entitlement(dbs, acme, plm, [world.new], product="PLM Vault")
    factories.user(dbs, acme, email=EMAIL, remembered_system="legacy")
    return acme


def remembered(dbs: Session, email: str = EMAIL) -> str | None:
    dbs.expire_all()
    return dbs.scalar(select(User.remembered_system).where(User.email == email))


def post(client: FlaskClient, path: str, data: dict[str, str], page: str) -> TestResponse:
    """POST a form as a browser does, with the page's CSRF token and Referer."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(
        path, data={"csrf_token": token, **data}, headers={"Referer": f"{BASE_URL}{page}"}
    )


def test_the_choice_and_a_forget_button_are_on_the_pages_the_user_sees(
    client: FlaskClient, idp: PortalIdP, acme: Account
) -> None:
    assert sign_in(client, idp, email=EMAIL, account="ACME-1").location.startswith(
        "https://legacy.licenses.test/"
    )
    for page in ("/choose", "/logout"):
        html = client.get(page).get_data(as_text=True)
        assert BANNER in html, page
        assert 'action="/forget-choice"' in html and 'method="post"' in html


def test_forgetting_takes_effect_at_once(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account
) -> None:
    sign_in(client, idp, email=EMAIL, account="ACME-1")
    reply = post(client, "/forget-choice", {"back": "/choose"}, "/choose")
    assert (reply.status_code, reply.location) == (302, "/choose")
    assert remembered(dbs) is None
    assert BANNER not in client.get("/choose").get_data(as_text=True)
    assert client.get("/route").location == "/choose"  # asked again, same session


def test_forgetting_needs_the_csrf_token_and_a_post(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account
) -> None:
    sign_in(client, idp, email=EMAIL, account="ACME-1")
    reply = client.post("/forget-choice", headers={"Referer": f"{BASE_URL}/choose"})
    assert reply.status_code == 400 and "CSRF" in reply.get_data(as_text=True)
    assert client.get("/forget-choice").status_code == 405
    assert remembered(dbs) == "legacy"


def test_forgetting_goes_back_only_to_a_page_of_ours(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account
) -> None:
    sign_in(client, idp, email=EMAIL, account="ACME-1")
    reply = post(client, "/forget-choice", {"back": "https://evil.example/"}, "/choose")
    assert reply.status_code == 400 and "evil.example" not in (reply.location or "")
    assert remembered(dbs) == "legacy"


def test_a_customer_forgets_only_their_own_choice(
    app: Flask, idp: PortalIdP, dbs: Session, acme: Account, world: World
) -> None:
    # Oli, of the world's other organisation (CAD on legacy), has a choice of their own.
    oli = dbs.scalars(select(User).where(User.email == "oli@other.example")).one()
    oli.remembered_system = "new"
    dbs.commit()
    client = https_client(app)
    sign_in(client, idp, email="oli@other.example", account=world.other.account_number)
    post(client, "/forget-choice", {"email": EMAIL, "user_id": "1"}, "/logout")
    reply = post(client, "/it/who/forget-choice", {"email": EMAIL, "reason": "x"}, "/logout")
    assert reply.status_code == 403
    assert remembered(dbs) == "legacy"
    assert remembered(dbs, "oli@other.example") is None
    assert dbs.scalars(select(AuditEvent)).all() == []


def test_it_support_clears_a_remembered_choice_with_an_audit_entry(
    app: Flask, idp: PortalIdP, dbs: Session, acme: Account
) -> None:
    it = https_client(app)
    sign_in(it, idp, email="it@vendor.example", account="VENDOR-1", groups=("switchyard-it",))
    page = it.get("/it/who", query_string={"q": EMAIL}).get_data(as_text=True)
    assert "Clear remembered choice" in page

    data = {"email": EMAIL, "q": EMAIL, "reason": "customer asked on the phone"}
    reply = post(it, "/it/who/forget-choice", data, f"/it/who?q={EMAIL}")
    assert (reply.status_code, reply.location) == (302, f"/it/who?q={EMAIL}")
    assert remembered(dbs) is None
    [event] = dbs.scalars(select(AuditEvent)).all()
    assert (event.actor, event.action) == ("it@vendor.example", "user.remembered_choice_cleared")
    assert event.target == f"user:{EMAIL} (account ACME-1)"
    assert (event.before, event.after) == (
        {"remembered_system": "legacy"},
        {"remembered_system": None},
    )
    assert event.reason == "customer asked on the phone"
    assert "Clear remembered choice" not in it.get(reply.location).get_data(as_text=True)


def test_it_support_clearing_needs_a_reason_and_changes_nothing_without(
    app: Flask, idp: PortalIdP, dbs: Session, acme: Account
) -> None:
    it = https_client(app)
    sign_in(it, idp, email="it@vendor.example", account="VENDOR-1", groups=("switchyard-it",))
    reply = post(it, "/it/who/forget-choice", {"email": EMAIL, "reason": " "}, "/it/who")
    assert reply.status_code == 302
    assert "needs a reason" in it.get(reply.location).get_data(as_text=True)
    assert remembered(dbs) == "legacy"
    assert dbs.scalars(select(AuditEvent)).all() == []
    reply = it.post("/it/who/forget-choice", data={"email": EMAIL, "reason": "r"},
                    headers={"Referer": f"{BASE_URL}/it/who"})  # fmt: skip
    assert reply.status_code == 400 and remembered(dbs) == "legacy"


def test_the_down_notice_shows_the_choice_too(
    app: Flask, client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account
) -> None:
    from gateway.core.models.base import utcnow
    from gateway.systems import service as rollout

    actor = rollout.Actor("it@vendor.example")
    rollout.set_maintenance(
        dbs, app.extensions["store"], "new", True, reason="r", actor=actor, now=utcnow()
    )
    assert sign_in(client, idp, email=EMAIL, account="ACME-1").location == "/notice"
    assert BANNER in client.get("/notice").get_data(as_text=True)
    reply = post(client, "/forget-choice", {"back": "/notice"}, "/notice")
    assert reply.location == "/notice" and remembered(dbs) is None


@pytest.mark.parametrize(
    ("permissions", "page"), [(("portal",), "/no-access"), (("licensing",), "/no-entitlements")]
)
def test_pages_that_send_nowhere_show_the_choice(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    world: World,
    permissions: tuple[str, ...],
    page: str,
) -> None:
    lone = factories.account(dbs, "LONE-1", "Lone Ltd")
    if page == "/no-access":
        factories.entitlement(dbs, lone, world.cad, [world.legacy])
    factories.user(dbs, lone, email="lee@lone.example", permissions=permissions,
                   remembered_system="legacy")  # fmt: skip
    assert sign_in(client, idp, email="lee@lone.example", account="LONE-1").location == page
    assert BANNER in client.get(page).get_data(as_text=True)
