"""The drift report on what a real sync from the stand-in Salesforce stored: the fields
it compares are the ones the sync maps (docs/salesforce.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Account, ProductLine
from gateway.core.settings import Settings
from gateway.salesforce.drift import drift
from tests import factories
from tests.salesforce.conftest import build_org, run
from tests.salesforce_standin import SalesforceStandIn


def test_synced_assets_against_the_license_centers(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    org = build_org(standin, accounts=1, assets_each=2)
    assert run(directory, settings, full=True).state == "succeeded"
    db = directory
    account = db.scalars(select(Account).where(Account.account_number == "101100")).one()
    lines = {line.code: line for line in db.scalars(select(ProductLine))}
    legacy = factories.system(db, "legacy")
    common = {"start_date": date(2025, 1, 1), "end_date": date(2027, 1, 1), "status": "active"}
    agreeing = factories.entitlement(
        db,
        account,
        lines["NETGUARD"],
        [legacy],
        product="Netguard Server",
        quantity=Decimal(1000),
        unit_of_measure="endpoint",
        **common,
    )
    differing = factories.entitlement(
        db,
        account,
        lines["CLOUDVAULT"],
        [legacy],
        product="CLO-1",
        quantity=Decimal(2500),
        unit_of_measure="revenue",
        **common,
    )

    rows = drift(db)

    assert [
        (r.kind, r.salesforce_value, r.license_center_value, r.salesforce_id) for r in rows
    ] == [("quantity", "2000", "2500", org.assets["101100/1"])]
    assert rows[0].entitlement_id == differing.external_id
    assert agreeing.external_id not in {r.entitlement_id for r in rows}
