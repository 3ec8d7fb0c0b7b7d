"""The sync against the stand-in Salesforce: full loads through Bulk API 2.0, incremental
runs through the REST query API, deletions through queryAll, and convergence."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Account, ProductLine
from gateway.core.models.salesforce import (
    SalesforceAccount,
    SalesforceAsset,
    SalesforceCursor,
    SalesforceEntitlement,
    SalesforceSyncRun,
)
from gateway.core.settings import Settings
from gateway.devidp.salesforce import SalesforceStandIn
from gateway.salesforce.service import soql_datetime
from tests.salesforce.conftest import build_org, clean_full_load, run, tables


def test_a_full_load_reads_every_record_through_bulk_jobs_page_by_page(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    org = build_org(standin, accounts=3, assets_each=20)  # 60 assets: 3 pages of 25
    summary = run(directory, settings, full=True)

    assert summary.state == "succeeded", summary.lines()
    assert (summary.kind, summary.counts.created, summary.counts.rejected) == ("full", 123, 0)
    results = [r for r in standin.requests_log if "/results" in r]
    # Account: 1 page; Asset and Entitlement: 3 pages each, the second and third by locator.
    assert len(results) == 7
    assert sum("locator=" in r for r in results) == 4
    assert not any("/v62.0/query" in r for r in standin.requests_log)  # no REST queries

    db = directory
    ours = {a.account_number: a.id for a in db.scalars(select(Account))}
    linked = {a.account_number: a.account_id for a in db.scalars(select(SalesforceAccount))}
    assert linked == {"101100": ours["101100"], "102100": ours["102100"], "103100": None}
    asset = db.get(SalesforceAsset, org.assets["101100/1"])
    assert asset is not None
    netguard = db.scalars(select(ProductLine).where(ProductLine.code == "CLOUDVAULT")).one()
    assert (asset.product, asset.product_code, asset.product_line_id) == (
        "Cloudvault Server",
        "CLO-1",
        netguard.id,
    )
    assert (asset.quantity, asset.unit_of_measure, asset.status) == (
        Decimal("2000.00"),
        "revenue",
        "Installed",
    )
    assert (asset.install_date, asset.usage_end_date) == (date(2025, 1, 1), date(2027, 1, 1))
    entitlement = db.get(SalesforceEntitlement, org.entitlements["101100/1"])
    assert entitlement is not None
    assert (entitlement.sf_asset_id, entitlement.end_date, entitlement.type) == (
        asset.id,
        date(2026, 12, 31),
        "Phone Support",
    )
    cursors = set(db.scalars(select(SalesforceCursor.cursor)))
    assert cursors == {summary.cursor_to}
    recorded = db.get(SalesforceSyncRun, summary.run_id)
    assert recorded is not None
    assert (recorded.state, recorded.created, recorded.finished_at is not None) == (
        "succeeded",
        123,
        True,
    )


def test_an_incremental_run_applies_changes_and_deletions_since_the_cursor(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    org = build_org(standin)
    assert run(directory, settings, full=True).state == "succeeded"
    standin.clock_offset = timedelta(seconds=5)  # later than the cursor's second
    standin.change("Asset", org.assets["101100/0"], Quantity=1500.0)
    standin.delete("Entitlement", org.entitlements["102100/1"])
    standin.add("Account", Name="Newcomer", AccountNumber="104100")

    summary = run(directory, settings)

    assert summary.kind == "incremental", summary.lines()
    counts = summary.counts
    assert (counts.created, counts.updated, counts.deleted, counts.rejected) == (1, 1, 1, 0)
    assert any("/query/?" in r for r in standin.requests_log)
    assert any("/queryAll/?" in r and "IsDeleted" in r for r in standin.requests_log)
    asset = directory.get(SalesforceAsset, org.assets["101100/0"])
    assert asset is not None and asset.quantity == Decimal("1500.00")
    assert directory.get(SalesforceEntitlement, org.entitlements["102100/1"]) is None
    assert tables(directory) == clean_full_load(directory, settings)


def test_records_stamped_at_the_cursor_are_read_again_and_left_alone(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    build_org(standin)
    standin.frozen_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    first = run(directory, settings, full=True)
    assert first.cursor_to == standin.frozen_at
    # Changed in the very second the cursor names (the clock stands still, so every
    # later run's cursor names it too): `>=` reads it each time.
    at_cursor = standin.add(
        "Account", modstamp=first.cursor_to, Name="Same second", AccountNumber="105100"
    )
    second = run(directory, settings)
    assert (second.counts.created, second.counts.unchanged) == (1, 0)
    third = run(directory, settings)
    assert (third.counts.created, third.counts.updated, third.counts.unchanged) == (0, 0, 1)
    assert directory.get(SalesforceAccount, at_cursor) is not None


def test_rejected_records_are_listed_with_reasons_and_not_kept(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    org = build_org(standin, accounts=1, assets_each=1)
    no_number = standin.add("Account", Name="No number", AccountNumber=None)
    assert run(directory, settings, full=True).counts.rejected == 1
    standin.clock_offset = timedelta(seconds=5)
    standin.change("Asset", org.assets["101100/0"], Quantity=None, InstallDate="not a date")

    summary = run(directory, settings)

    assert summary.state == "succeeded"
    reasons = {(r["object"], r["id"]): r["reason"] for r in summary.counts.rejections}
    assert reasons[("Asset", org.assets["101100/0"])] == "InstallDate 'not a date' is not a date"
    assert directory.get(SalesforceAsset, org.assets["101100/0"]) is None
    assert directory.get(SalesforceAccount, no_number) is None
    recorded = directory.get(SalesforceSyncRun, summary.run_id)
    assert recorded is not None
    assert {
        "object": "Asset",
        "id": org.assets["101100/0"],
        "reason": ("InstallDate 'not a date' is not a date"),
    } in json.loads(recorded.rejections)
    assert any("rejected Asset" in line for line in summary.lines())
    assert tables(directory) == clean_full_load(directory, settings)


def test_the_first_run_and_a_cursor_older_than_30_days_are_full_loads(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    build_org(standin, accounts=1)
    first = run(directory, settings)
    assert (first.kind, first.note) == ("full", "first sync: full load")
    standin.clock_offset = timedelta(days=31)
    later = run(directory, settings)
    assert later.kind == "full"
    assert "older than Salesforce's 30-day window" in later.note
    assert later.note in later.lines()
    assert later.cursor_to is not None and later.cursor_to > datetime.now(UTC) + timedelta(days=30)


def test_more_than_2000_changes_follow_every_next_records_url(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    assert run(directory, settings, full=True).state == "succeeded"
    standin.clock_offset = timedelta(seconds=5)
    for n in range(4100):
        standin.add("Account", Name=f"Bulk {n}", AccountNumber=f"9{n:05d}")

    summary = run(directory, settings)

    assert (summary.kind, summary.counts.created) == ("incremental", 4100), summary.lines()
    pages = [r for r in standin.requests_log if "/query/01g" in r]
    assert len(pages) == 2  # records 2001-4000 and 4001-4100


def test_equal_stamps_on_a_page_boundary_survive_a_lost_query_locator(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    """Records 2,000 and 2,001 share a SystemModstamp on a whole second. The query
    locator expires before the second page is read, so the query starts again at the
    last stamp read: with `>=` the record on the far side of the boundary is read (and
    the near one skipped); `>` would lose it."""
    first = run(directory, settings, full=True)
    assert first.cursor_to is not None
    boundary = first.cursor_to + timedelta(seconds=5)
    for n in range(2100):
        if n < 1999:
            moment = boundary - timedelta(milliseconds=1999 - n)
        else:
            moment = boundary + timedelta(milliseconds=max(0, n - 2000))
        standin.add("Account", modstamp=moment, Name=f"Edge {n}", AccountNumber=f"8{n:05d}")
    standin.faults.expired_query_locators = 1
    standin.clock_offset = timedelta(seconds=10)

    summary = run(directory, settings)

    assert summary.state == "succeeded", summary.lines()
    assert (summary.counts.created, summary.counts.unchanged) == (2100, 0)
    numbers = set(directory.scalars(select(SalesforceAccount.account_number)))
    assert {f"8{n:05d}" for n in range(2100)} <= numbers
    queries = [r for r in standin.requests_log if "/query/?" in r and "FROM+Account+" in r]
    assert len(queries) == 2
    assert soql_datetime(boundary).replace(":", "%3A") in queries[1]


def test_records_changed_during_a_run_are_caught_by_the_next(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    org = build_org(standin, accounts=2, assets_each=30)
    target = org.assets["101100/0"]

    def change_after_its_page_was_read() -> None:
        standin.change("Asset", target, Quantity=4242.0)

    # Request 1 is the server time; the Asset job and its pages come after Account's.
    standin.at_request(12, change_after_its_page_was_read)
    first = run(directory, settings, full=True)
    assert first.state == "succeeded"
    before = directory.get(SalesforceAsset, target)
    assert before is not None and before.quantity == Decimal("1000.00")

    second = run(directory, settings)
    assert (second.kind, second.counts.updated) == ("incremental", 1), second.lines()
    directory.expire_all()
    after = directory.get(SalesforceAsset, target)
    assert after is not None and after.quantity == Decimal("4242.00")
    assert tables(directory) == clean_full_load(directory, settings)


def test_the_mapped_fields_are_settings(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    """An org that keeps our account number, product line and unit in custom fields."""
    account = standin.add(
        "Account", Name="Custom", AccountNumber="SF-1", Portal_Account__c="101100"
    )
    asset = standin.add(
        "Asset",
        AccountId=account,
        Product_Line__c="NETGUARD",
        UoM__c="named user",
        Quantity=3.0,
        **{"Product2.Family": "IGNORED"},
    )
    custom = settings.model_copy(
        update={
            "salesforce_account_number_field": "Portal_Account__c",
            "salesforce_product_line_field": "Product_Line__c",
            "salesforce_unit_field": "UoM__c",
        }
    )
    assert run(directory, custom, full=True).state == "succeeded"
    ours = directory.scalars(select(Account).where(Account.account_number == "101100")).one()
    stored = directory.get(SalesforceAccount, account)
    assert stored is not None and (stored.account_number, stored.account_id) == ("101100", ours.id)
    kept = directory.get(SalesforceAsset, asset)
    assert kept is not None
    assert (kept.product_line_code, kept.unit_of_measure) == ("NETGUARD", "named user")

    standin.clock_offset = timedelta(seconds=5)
    standin.change("Asset", asset, UoM__c="concurrent user")
    assert run(directory, custom).counts.updated == 1
    directory.expire_all()
    again = directory.get(SalesforceAsset, asset)
    assert again is not None and again.unit_of_measure == "concurrent user"
    account_queries = [
        r for r in standin.requests_log if "FROM+Account+" in r and "IsDeleted" not in r
    ]
    assert account_queries and all("Portal_Account__c" in r for r in account_queries)
