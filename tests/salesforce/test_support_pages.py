"""Support coverage on the customer's pages: per product line on "Your entitlements" and
under each ended line on the no-entitlements page; nothing about support when
Salesforce is not connected."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.models import Account
from gateway.core.models.base import utcnow
from gateway.core.models.salesforce import SalesforceAccount
from tests import factories
from tests.salesforce.test_eligibility import add_entitlement
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

TODAY = date.today()
CONNECTED = {"salesforce_login_url": "https://login.salesforce.test"}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return CONNECTED


def salesforce_account(db: Session, account: Account) -> None:
    # The Id add_entitlement files its entitlements under.
    db.add(
        SalesforceAccount(
            id="0015g00000ALICEAAA",
            name=account.name,
            account_number=account.account_number,
            account_id=account.id,
            system_modstamp=utcnow(),
        )
    )
    db.commit()


def support_lines(html: str) -> list[str]:
    return [line.strip() for line in html.splitlines() if "data-support-line=" in line]


def test_entitlements_page_says_per_line_whether_support_covers_it(
    user_client: FlaskClient, dbs: Session, world: World
) -> None:
    # 100001 holds NET (the world) and, here, CAD; Salesforce covers NET, CAD's ended.
    factories.entitlement(dbs, world.ready, world.cad, [world.legacy])
    salesforce_account(dbs, world.ready)
    until = TODAY + timedelta(days=120)
    add_entitlement(dbs, "NET", TODAY - timedelta(days=30), until)
    add_entitlement(dbs, "CAD", TODAY - timedelta(days=400), TODAY - timedelta(days=35))
    html = user_client.get("/entitlements").get_data(as_text=True)
    lines = support_lines(html)
    assert len(lines) == 2
    (cad,) = [line for line in lines if 'data-support-line="CAD"' in line]
    (net,) = [line for line in lines if 'data-support-line="NET"' in line]
    assert f"Support: covered until {until.isoformat()}" in net
    ended = (TODAY - timedelta(days=35)).isoformat()
    assert f"Support: not covered \N{EM DASH} ended on {ended}" in cad
    assert 'class="not-covered"' in cad


def test_a_line_salesforce_knows_nothing_of_says_so(
    user_client: FlaskClient, dbs: Session, world: World
) -> None:
    salesforce_account(dbs, world.ready)
    (net,) = support_lines(user_client.get("/entitlements").get_data(as_text=True))
    assert "Support: not covered \N{EM DASH} no Salesforce entitlement for this line" in net


@pytest.mark.parametrize("settings_overrides", [{}])
def test_without_salesforce_the_pages_say_nothing_of_support(
    user_client: FlaskClient, dbs: Session, world: World
) -> None:
    salesforce_account(dbs, world.ready)
    add_entitlement(dbs, "NET", None, None)
    html = user_client.get("/entitlements").get_data(as_text=True)
    assert "data-entitlement=" in html  # the page itself is there
    assert support_lines(html) == [] and "Support:" not in html


def test_no_entitlements_page_shows_support_under_each_ended_line(
    client: FlaskClient, idp: PortalIdP, dbs: Session, world: World
) -> None:
    acme = factories.account(dbs, "ACME-1", "Acme Corp")
    factories.entitlement(
        dbs, acme, world.cad, [world.legacy], product="CAD Classic", days_left=-40
    )
    salesforce_account(dbs, acme)
    # Maintenance ran out, but Salesforce's support contract still runs for a while.
    until = TODAY + timedelta(days=20)
    add_entitlement(dbs, "CAD", TODAY - timedelta(days=400), until)
    reply = sign_in(client, idp, email="pat@acme.example", account="ACME-1")
    assert (reply.status_code, reply.location) == (302, "/no-entitlements")
    html = client.get("/no-entitlements").get_data(as_text=True)
    (cad,) = support_lines(html)
    assert 'data-support-line="CAD"' in cad
    assert f"Support: covered until {until.isoformat()}" in cad
