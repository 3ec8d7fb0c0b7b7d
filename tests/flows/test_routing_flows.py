"""Routing journeys end to end: real signed SAML sign-in, then where the browser is sent."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core.models import Account, ProductLine, User
from tests import factories
from tests.conftest import https_client
from tests.forms import csrf_token
from tests.routing.factories_extra import admin
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

LEGACY_ENTRY = "https://legacy.licenses.test/start"
NEW_ENTRY = "https://new.licenses.test/start"
EMAIL = "pat@acme.example"
ACME = "ACME-1"
PAT = "Pat@Acme.example"  # as the IdP sends it; stored lower-cased
IT_STAFF = "it@vendor.example"  # with the IT group: no entitlements, no permissions


@pytest.fixture
def plm(dbs: Session, world: World) -> ProductLine:
    """Line PLM, already moved to the new system; the world's CAD stays on legacy."""
    return factories.product_line(dbs, "PLM", "new")


@pytest.fixture
def acme(dbs: Session) -> Account:
    return factories.account(dbs, "ACME-1", "Acme Corp")


def handoff(reply: TestResponse) -> tuple[str, dict[str, list[str]]]:
    """The entry URL (without query) and the query of a hand-off redirect."""
    assert reply.status_code == 302, reply.get_data(as_text=True)
    parts = urlsplit(reply.location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


def post_choice(client: FlaskClient, form: dict[str, str]) -> TestResponse:
    """POST /choose as a browser does under the page's same-origin referrer policy."""
    return client.post("/choose", data=form, headers={"Referer": "https://sso.test/choose"})


def remembered(dbs: Session) -> str | None:
    dbs.expire_all()
    return dbs.scalar(select(User.remembered_system).where(User.email == EMAIL))


def both_systems(dbs: Session, acme: Account, world: World, plm: ProductLine) -> None:
    factories.entitlement(
        dbs,
        acme,
        world.cad,
        [world.legacy],
        product="CAD Server",
        unit_of_measure="named user",
        days_left=30,
    )
    factories.entitlement(
        dbs,
        acme,
        plm,
        [world.new],
        product="PLM Vault",
        unit_of_measure="core",
        kind="maintenance",
        days_left=300,
    )
    factories.entitlement(
        dbs,
        acme,
        plm,
        [world.new],
        product="PLM Viewer",
        kind="perpetual",
        end_date=None,
    )


def long_date(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def test_legacy_only_account_goes_to_legacy_with_login_hint(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    acme: Account,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    factories.entitlement(dbs, acme, world.cad, [world.legacy])
    with caplog.at_level(logging.INFO, logger="gateway.landing.views"):
        entry, query = handoff(sign_in(client, idp, email=PAT, account=ACME))
    assert entry == LEGACY_ENTRY
    assert query == {"login_hint": [EMAIL], "target_link_uri": [LEGACY_ENTRY]}
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "routing.decision"]
    assert (record.kind, record.systems) == ("system", ["legacy"])  # type: ignore[attr-defined]


def test_new_only_account_goes_to_new(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World, plm: ProductLine
) -> None:
    factories.entitlement(dbs, acme, plm, [world.new])
    entry, query = handoff(sign_in(client, idp, email=PAT, account=ACME))
    assert entry == NEW_ENTRY and query["login_hint"] == [EMAIL]


def test_moved_line_waits_on_legacy_until_new_holds_it(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World, plm: ProductLine
) -> None:
    factories.entitlement(dbs, acme, plm, [world.legacy])
    assert handoff(sign_in(client, idp, email=PAT, account=ACME))[0] == LEGACY_ENTRY


def test_both_systems_show_the_choice_page_with_entitlement_details(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World, plm: ProductLine
) -> None:
    both_systems(dbs, acme, world, plm)
    reply = sign_in(client, idp, email=PAT, account=ACME)
    assert (reply.status_code, reply.location) == (302, "/choose")

    page = client.get("/choose")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "CAD Server" in html and "25 named users" in html and "25 cores" in html
    assert f"Subscription ends {long_date(date.today() + timedelta(days=30))}" in html
    assert f"Maintenance ends {long_date(date.today() + timedelta(days=300))}" in html
    assert "Perpetual" in html
    assert html.count("Ends within 60 days") == 1
    assert "<script" not in html and "style=" not in html


def test_choice_without_csrf_token_is_refused_and_nothing_remembered(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World, plm: ProductLine
) -> None:
    both_systems(dbs, acme, world, plm)
    sign_in(client, idp, email=PAT, account=ACME)
    reply = post_choice(client, {"system": "new", "remember": "y"})
    assert reply.status_code == 400
    assert "CSRF token is missing" in reply.get_data(as_text=True)
    assert remembered(dbs) is None


def test_choice_with_token_hands_off_to_the_chosen_system(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World, plm: ProductLine
) -> None:
    both_systems(dbs, acme, world, plm)
    sign_in(client, idp, email=PAT, account=ACME)
    token = csrf_token(client.get("/choose").get_data(as_text=True))
    entry, query = handoff(post_choice(client, {"system": "new", "csrf_token": token}))
    assert entry == NEW_ENTRY and query["target_link_uri"] == [NEW_ENTRY]
    assert remembered(dbs) is None


def test_remembered_choice_sends_the_next_sign_in_straight_there(
    app: Flask,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    acme: Account,
    world: World,
    plm: ProductLine,
) -> None:
    both_systems(dbs, acme, world, plm)
    sign_in(client, idp, email=PAT, account=ACME)
    token = csrf_token(client.get("/choose").get_data(as_text=True))
    choice = {"system": "legacy", "remember": "y", "csrf_token": token}
    assert handoff(post_choice(client, choice))[0] == LEGACY_ENTRY
    assert remembered(dbs) == "legacy"

    assert handoff(sign_in(https_client(app), idp, email=PAT, account=ACME))[0] == LEGACY_ENTRY


def test_choosing_a_system_that_is_not_offered_is_refused(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World, plm: ProductLine
) -> None:
    factories.system(dbs, "archive")
    both_systems(dbs, acme, world, plm)
    sign_in(client, idp, email=PAT, account=ACME)
    token = csrf_token(client.get("/choose").get_data(as_text=True))
    reply = post_choice(client, {"system": "archive", "remember": "y", "csrf_token": token})
    assert reply.status_code == 400
    assert "archive" not in (reply.location or "")
    assert remembered(dbs) is None


def test_no_active_entitlements_explains_and_lists_the_ended_ones(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World
) -> None:
    factories.entitlement(
        dbs, acme, world.cad, [world.legacy], product="CAD Classic", days_left=-40
    )
    reply = sign_in(client, idp, email=PAT, account=ACME)
    assert (reply.status_code, reply.location) == (302, "/no-entitlements")

    html = client.get("/no-entitlements").get_data(as_text=True)
    assert "No active entitlements" in html and "CAD Classic" in html
    assert f"Subscription ended {long_date(date.today() - timedelta(days=40))}" in html
    assert 'href="mailto:support@example.com"' in html


def test_user_without_licensing_or_downloads_is_told_which_admins_to_ask(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World
) -> None:
    factories.entitlement(dbs, acme, world.cad, [world.legacy])
    factories.user(dbs, acme, email=EMAIL, permissions=("portal",))
    admin(dbs, acme, "Ada", "Admin", "ada@acme.example")
    admin(dbs, factories.account(dbs), "Other", "Org", "other@elsewhere.example")
    reply = sign_in(client, idp, email=PAT, account=ACME)
    assert (reply.status_code, reply.location) == (302, "/no-access")

    html = client.get("/no-access").get_data(as_text=True)
    assert "Ada Admin" in html and "ada@acme.example" in html
    assert "other@elsewhere.example" not in html


def test_deep_link_into_a_system_goes_there_with_the_link_as_target(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World, plm: ProductLine
) -> None:
    both_systems(dbs, acme, world, plm)
    deep_link = "https://new.licenses.test/orders/42?tab=keys"
    entry, query = handoff(sign_in(client, idp, email=PAT, account=ACME, next_target=deep_link))
    assert entry == NEW_ENTRY and query["target_link_uri"] == [deep_link]


def test_local_next_returns_to_that_page_after_sign_in(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World
) -> None:
    factories.entitlement(dbs, acme, world.cad, [world.legacy])
    reply = sign_in(client, idp, email=PAT, account=ACME, next_target="/logout")
    assert (reply.status_code, reply.location) == (302, "/logout")


def test_foreign_next_is_refused_before_sign_in_and_starts_no_session(
    client: FlaskClient, dbs: Session, acme: Account, world: World
) -> None:
    reply = client.get("/saml/login", query_string={"next": "https://evil.example/new"})
    assert reply.status_code == 400
    assert "somewhere we do not send people" in reply.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401


# Not URLs at all (tests/sso/oidc uses them too): urlsplit raises on them,
# which must read as "refused", never a 500.
MALFORMED_NEXT = ["http://[::1", "https://[::1/x", "http://]/", "http://[v1.x]:80"]


@pytest.mark.parametrize("target", MALFORMED_NEXT)
@pytest.mark.parametrize("entry", ["/login", "/saml/login", "/route", "/"])
def test_a_malformed_next_is_refused_with_a_page_not_a_500(
    entry: str,
    target: str,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    acme: Account,
    world: World,
    plm: ProductLine,
) -> None:
    both_systems(dbs, acme, world, plm)
    if entry in ("/route", "/"):
        sign_in(client, idp, email=PAT, account=ACME)
    reply = client.get(entry, query_string={"next": target})
    assert reply.status_code == 400, reply.get_data(as_text=True)[:300]
    assert "somewhere we do not send people" in reply.get_data(as_text=True)


def test_signed_in_route_honours_a_deep_link_and_refuses_a_foreign_one(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World, plm: ProductLine
) -> None:
    both_systems(dbs, acme, world, plm)
    sign_in(client, idp, email=PAT, account=ACME)
    deep_link = "https://legacy.licenses.test/keys"
    entry, query = handoff(client.get("/route", query_string={"next": deep_link}))
    assert entry == LEGACY_ENTRY and query["target_link_uri"] == [deep_link]
    assert client.get("/", query_string={"next": "https://evil.example/"}).status_code == 400
    assert client.get("/").location == "/choose"


def test_routing_pages_send_anonymous_visitors_to_sign_in(client: FlaskClient) -> None:
    for page in ("/choose", "/no-access", "/no-entitlements", "/"):
        reply = client.get(page)
        assert reply.status_code == 302
        login = urlsplit(reply.location)
        assert login.path == "/login" and parse_qs(login.query)["next"] == [page]


def test_routing_never_serves_a_summary_older_than_the_directory(
    app: Flask,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    acme: Account,
    world: World,
    plm: ProductLine,
) -> None:
    """Sign-in caches the account's entitlement summary; a write to the directory by
    anyone (here straight into the database, announcing nothing) is seen at once."""
    legacy = factories.entitlement(dbs, acme, world.cad, [world.legacy])
    assert handoff(sign_in(client, idp, email=PAT, account=ACME))[0] == LEGACY_ENTRY
    assert handoff(client.get("/route"))[0] == LEGACY_ENTRY
    store = app.extensions["store"]
    assert list(store.scan_iter(f"routing:summary:{acme.id}:*")), "the summary was not cached"

    newer = factories.entitlement(dbs, acme, plm, [world.new])
    assert client.get("/route").location == "/choose"

    legacy.status = newer.status = "cancelled"
    dbs.commit()
    assert client.get("/route").location == "/no-entitlements"


def test_a_cached_summary_serves_only_its_own_account(
    app: Flask, idp: PortalIdP, dbs: Session, acme: Account, world: World, plm: ProductLine
) -> None:
    other = factories.account(dbs, "OTHER-1", "Other Ltd")
    factories.entitlement(dbs, acme, world.cad, [world.legacy])
    factories.entitlement(dbs, other, plm, [world.new])
    assert handoff(sign_in(https_client(app), idp, email=PAT, account=ACME))[0] == LEGACY_ENTRY
    reply = sign_in(https_client(app), idp, email="sam@other.example", account="OTHER-1")
    assert handoff(reply)[0] == NEW_ENTRY


@pytest.mark.parametrize("next_target", [None, "/", "/route", "https://sso.test/"])
def test_it_staff_land_in_the_console_not_on_no_access(
    client: FlaskClient, idp: PortalIdP, acme: Account, world: World, next_target: str | None
) -> None:
    """Opening the gateway's start page signs in with next=/: IT still lands on /it/."""
    reply = sign_in(
        client,
        idp,
        email=IT_STAFF,
        account=ACME,
        groups=("switchyard-it",),
        next_target=next_target,
    )
    assert (reply.status_code, reply.location) == (302, "/it/")
    assert client.get("/it/").status_code == 200


def test_it_staff_with_a_deep_link_go_to_that_page(
    client: FlaskClient, idp: PortalIdP, acme: Account, world: World
) -> None:
    reply = sign_in(
        client,
        idp,
        email=IT_STAFF,
        account=ACME,
        groups=("switchyard-it",),
        next_target="/it/audit",
    )
    assert (reply.status_code, reply.location) == (302, "/it/audit")
    assert client.get("/it/audit").status_code == 200


def test_it_staff_with_a_deep_link_into_a_license_center_they_cannot_use_land_in_the_console(
    client: FlaskClient, idp: PortalIdP, acme: Account, world: World
) -> None:
    reply = sign_in(
        client,
        idp,
        email=IT_STAFF,
        account=ACME,
        groups=("switchyard-it",),
        next_target="https://new.licenses.test/orders/42",
    )
    assert (reply.status_code, reply.location) == (302, "/it/")


def test_customer_signing_in_through_the_start_page_still_sees_no_access(
    client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World
) -> None:
    factories.entitlement(dbs, acme, world.cad, [world.legacy])
    factories.user(dbs, acme, email=EMAIL, permissions=("portal",))
    assert sign_in(client, idp, email=PAT, account=ACME, next_target="/").location == "/no-access"


def new_in_maintenance(app: Flask, dbs: Session, customer_message: str | None = None) -> None:
    from gateway.core.models.base import utcnow
    from gateway.systems import service as rollout

    actor = rollout.Actor("it@vendor.example")
    store = app.extensions["store"]
    rollout.set_maintenance(
        dbs,
        store,
        "new",
        True,
        reason="db upgrade",
        actor=actor,
        now=utcnow(),
        customer_message=customer_message,
    )


def test_while_new_is_down_the_customer_is_told_what_is_unreachable_then_goes_to_legacy(
    app: Flask,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    acme: Account,
    world: World,
    plm: ProductLine,
) -> None:
    both_systems(dbs, acme, world, plm)
    new_in_maintenance(app, dbs)
    reply = sign_in(client, idp, email=PAT, account=ACME)
    assert (reply.status_code, reply.location) == (302, "/notice")

    page = client.get("/notice")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "New license center</strong> is down for maintenance" in html
    assert "PLM suite" in html and "PLM Vault" in html and "PLM Viewer" in html
    assert "CAD Server" not in html  # reachable, on legacy
    assert "db upgrade" not in html  # IT's note is not for customers
    assert "https://legacy.licenses.test" in page.headers["Content-Security-Policy"]

    token = csrf_token(html)
    reply = client.post(
        "/notice", data={"csrf_token": token}, headers={"Referer": "https://sso.test/notice"}
    )
    entry, query = handoff(reply)
    assert entry == LEGACY_ENTRY and query["login_hint"] == [EMAIL]


def test_the_notice_carries_the_customer_message_and_never_its_reason(
    app: Flask,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    acme: Account,
    world: World,
    plm: ProductLine,
) -> None:
    both_systems(dbs, acme, world, plm)
    new_in_maintenance(app, dbs, customer_message="Back at 14:00 UTC.")
    sign_in(client, idp, email=PAT, account=ACME)
    html = client.get("/notice").get_data(as_text=True)
    assert "Back at 14:00 UTC." in html
    assert "db upgrade" not in html


def test_continuing_from_the_notice_needs_the_csrf_token(
    app: Flask,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    acme: Account,
    world: World,
    plm: ProductLine,
) -> None:
    both_systems(dbs, acme, world, plm)
    new_in_maintenance(app, dbs)
    sign_in(client, idp, email=PAT, account=ACME)
    reply = client.post("/notice", headers={"Referer": "https://sso.test/notice"})
    assert reply.status_code == 400


def test_notice_keeps_a_deep_link_for_the_hand_off(
    app: Flask,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    acme: Account,
    world: World,
    plm: ProductLine,
) -> None:
    both_systems(dbs, acme, world, plm)
    new_in_maintenance(app, dbs)
    deep_link = "https://legacy.licenses.test/keys/7"
    assert (
        sign_in(client, idp, email=PAT, account=ACME, next_target=deep_link).location == "/notice"
    )
    token = csrf_token(client.get("/notice").get_data(as_text=True))
    reply = client.post(
        "/notice", data={"csrf_token": token}, headers={"Referer": "https://sso.test/notice"}
    )
    assert handoff(reply)[1]["target_link_uri"] == [deep_link]


def test_no_notice_when_nothing_is_unreachable(
    app: Flask, client: FlaskClient, idp: PortalIdP, dbs: Session, acme: Account, world: World
) -> None:
    factories.entitlement(dbs, acme, world.cad, [world.legacy])
    new_in_maintenance(app, dbs)
    assert handoff(sign_in(client, idp, email=PAT, account=ACME))[0] == LEGACY_ENTRY
    assert client.get("/notice").location == "/route"
