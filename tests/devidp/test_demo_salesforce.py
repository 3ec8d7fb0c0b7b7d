"""The demo's stand-in Salesforce: it holds the sample customers (with the documented
deliberate differences), the demo syncs from it at start, and IT sees the run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from gateway.core import db
from gateway.core.models.salesforce import SalesforceAsset, SalesforceEntitlement
from gateway.devidp.salesforce import (
    DEMO_NOT_IN_SALESFORCE,
    DEMO_QUANTITIES,
    DemoSalesforce,
)
from gateway.devidp.sample import sample_rows
from gateway.devidp.servers import DemoPorts, RunningDemo, start_demo
from tests.devidp.conftest import hidden_field
from tests.forms import csrf_token

TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    running = start_demo(tmp_path_factory.mktemp("demo"), "127.0.0.1", DemoPorts(0, 0, 0))
    yield running
    running.stop()


def sign_in(demo: RunningDemo, email: str, next_target: str) -> requests.Session:
    """A browser's round through the development IdP, over HTTP: SAML login, pick the
    user, post the signed response to the gateway's ACS."""
    browser = requests.Session()
    idp_page = browser.get(
        f"{demo.gateway_url}/saml/login", params={"next": next_target}, timeout=10
    )
    assert idp_page.status_code == 200 and "/dev-idp/sso" in idp_page.url, idp_page.url
    html = idp_page.text
    answer = browser.post(
        f"{demo.gateway_url}/dev-idp/sso",
        data={
            "csrf_token": csrf_token(html),
            "SAMLRequest": hidden_field(html, "SAMLRequest"),
            "RelayState": hidden_field(html, "RelayState"),
            "email": email,
        },
        headers={"Referer": idp_page.url},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text[:500]
    action = re.search(r'<form method="post" action="([^"]+)" data-autosubmit', answer.text)
    assert action, answer.text[:500]
    signed_in = browser.post(
        action.group(1),
        data={
            "SAMLResponse": hidden_field(answer.text, "SAMLResponse"),
            "RelayState": hidden_field(answer.text, "RelayState"),
        },
        timeout=10,
    )
    assert signed_in.status_code == 200, signed_in.text[:500]
    return browser


def test_it_sees_the_demo_sync_run_with_its_counts(demo: RunningDemo) -> None:
    assert demo.salesforce_url.startswith("https://127.0.0.1:")
    assert demo.wait_for_first_sync(timeout=60), "the sync at start did not finish"

    it = sign_in(demo, "it@vendor.example", "/it/salesforce/runs")
    page = it.get(f"{demo.gateway_url}/it/salesforce/runs", timeout=10)
    assert page.status_code == 200
    assert "An incremental sync runs every 30 seconds" in page.text
    first = re.search(r'<tr class="run-(\w+)" id="run-1">(.*?)</tr>', page.text, re.S)
    assert first, page.text
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", first[2])]
    # Run, kind, state, started, finished, then created, updated, deleted, unchanged,
    # rejected: 4 accounts, and 10 assets and 10 entitlements (11 in the sample, one not
    # in Salesforce).
    assert first[1] == "succeeded"
    assert cells[1:3] == ["full", "succeeded"]
    assert cells[5:10] == ["24", "0", "0", "0", "0"]

    # The directory holds Salesforce's side, deliberate differences included.
    with closing(db.new_session(demo.gateway_app)) as session:
        names = set(session.scalars(select(SalesforceEntitlement.name)))
        appliance = session.scalars(
            select(SalesforceAsset).where(SalesforceAsset.product == "NetGuard 5400 Appliance")
        ).one()
    assert "E-1001" in names and "E-2002" not in names
    assert appliance.quantity == Decimal("300.00")
    assert appliance.product_line_code == "NETGUARD" and appliance.unit_of_measure == "endpoint"


def test_people_who_are_not_it_do_not_see_the_runs(demo: RunningDemo) -> None:
    alice = sign_in(demo, "alice@acme.example", "/")
    page = alice.get(f"{demo.gateway_url}/it/salesforce/runs", timeout=10)
    assert page.status_code == 403


def test_the_demo_org_differs_from_the_license_centers_only_where_documented(
    tmp_path: Path,
) -> None:
    salesforce = DemoSalesforce.start(tmp_path, today=TODAY)
    salesforce.stop()  # its records stay in memory
    standin = salesforce.standin
    exported = {
        row["entitlement_id"]: row
        for name in ("entitlements-legacy", "entitlements-new")
        for row in sample_rows(name, TODAY)
    }
    assets = standin.live("Asset")
    accounts = {r["Id"]: r["AccountNumber"] for r in standin.live("Account").values()}
    held = {r["Name"]: r for r in standin.live("Entitlement").values()}

    assert set(exported) - set(held) == DEMO_NOT_IN_SALESFORCE == {"E-2002"}
    assert set(held) <= set(exported)
    assert sorted(accounts.values()) == ["100100", "100200", "100300", "100400"]
    differing = {}
    for number, entitlement in held.items():
        row, asset = exported[number], assets[entitlement["AssetId"]]
        assert accounts[entitlement["AccountId"]] == row["account_number"]
        assert asset["Product2.Family"] == row["product_line"]
        assert asset["Unit_of_Measure__c"] == row["unit_of_measure"]
        assert entitlement["StartDate"].isoformat() == row["start_date"]
        assert (entitlement["EndDate"].isoformat() if entitlement["EndDate"] else "") == row[
            "end_date"
        ]
        if asset["Quantity"] != float(row["quantity"]):
            differing[number] = asset["Quantity"]
        # Salesforce computes the status from the dates.
        if (entitlement["Status"] == "Active") != (row["status"] == "active"):
            differing[number + " status"] = entitlement["Status"]
    assert differing == {**DEMO_QUANTITIES, "E-4003 status": "Expired"}


def test_seeding_twice_into_fresh_stand_ins_gives_the_same_ids(tmp_path: Path) -> None:
    """The demo's Salesforce Ids are the same at every start, so a restarted demo's
    incremental runs find the records it synced before."""
    first, second = (DemoSalesforce.start(tmp_path / str(n), today=TODAY) for n in (1, 2))
    first.stop()
    second.stop()
    for object_name in ("Account", "Asset", "Entitlement"):
        ids = set(first.standin.live(object_name))
        assert ids and ids == set(second.standin.live(object_name))
