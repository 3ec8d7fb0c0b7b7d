"""The drift report on crafted differences of every kind: the plain function, the
`gateway report drift` command (CSV read strictly, JSON) and the IT console's page."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.models import Account, Entitlement, ProductLine, System
from gateway.core.models.salesforce import SalesforceAccount, SalesforceAsset, SalesforceSyncRun
from gateway.core.settings import Settings
from gateway.salesforce.drift import DRIFT_KINDS, counts_by_kind, drift
from tests import factories

STAMP = datetime(2026, 11, 1, tzinfo=UTC)
START, END = date(2026, 1, 1), date(2027, 1, 1)
_ids = iter(range(1, 10_000))


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # Most tests here write the synced tables directly; no stand-in is needed for them.
    return {}


def synced(db: Session) -> None:
    """A succeeded run: the synced tables are Salesforce's word from then on."""
    db.add(SalesforceSyncRun(kind="full", state="succeeded", started_at=STAMP, finished_at=STAMP))
    db.commit()


def sf_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):015d}"


def sf_account(db: Session, number: str) -> str:
    row = SalesforceAccount(
        id=sf_id("001"), name=f"Customer {number}", account_number=number, system_modstamp=STAMP
    )
    db.add(row)
    db.commit()
    return row.id


def asset(db: Session, account: str, line: str, product: str, **fields: Any) -> str:
    values: dict[str, Any] = {
        "id": sf_id("02i"),
        "sf_account_id": account,
        "product": product,
        "product_code": "",
        "product_line_code": line,
        "quantity": Decimal(25),
        "unit_of_measure": "seat",
        "install_date": START,
        "usage_end_date": END,
        "status": "Installed",
        "system_modstamp": STAMP,
    }
    values.update(fields)
    db.add(SalesforceAsset(**values))
    db.commit()
    return str(values["id"])


class Crafted:
    def __init__(self, db: Session) -> None:
        self.db = db
        # The signed-in console tests' world has the two systems already.
        self.legacy = db.scalar(select(System).where(System.key == "legacy")) or factories.system(
            db, "legacy"
        )
        self.new = db.scalar(select(System).where(System.key == "new")) or factories.system(
            db, "new"
        )
        self.net = factories.product_line(db, "NETGUARD", "legacy")
        self.vault = factories.product_line(db, "CLOUDVAULT", "new")
        self.first = factories.account(db, "101100", "Customer 101100")
        self.second = factories.account(db, "102100", "Customer 102100")
        self.sf_first = sf_account(db, "101100")
        self.sf_second = sf_account(db, "102100")
        self.sf_unknown = sf_account(db, "103100")  # not an account of ours

    def ours(
        self, account: Account, line: ProductLine, product: str, systems: list[System], **f: Any
    ) -> str:
        values: dict[str, Any] = {
            "product": product,
            "quantity": Decimal(25),
            "unit_of_measure": "seat",
            "start_date": START,
            "end_date": END,
            "status": "active",
        }
        values.update(f)
        return factories.entitlement(self.db, account, line, systems, **values).external_id


@pytest.fixture
def crafted(dbs: Session) -> dict[str, tuple[str, str]]:
    """One pair per kind of difference, pairs that agree, and one record per side alone.
    Values: name → (Salesforce asset Id, our external id)."""
    w = Crafted(dbs)
    synced(dbs)
    both = [w.legacy, w.new]
    pairs: dict[str, tuple[str, str]] = {}
    # Agree: the same in every field; unit and product differ only in case and spaces,
    # the product matched by its code, and "Registered" is an active status.
    pairs["agree"] = (
        asset(dbs, w.sf_first, "NETGUARD", "NetGuard Server", unit_of_measure="Seat"),
        w.ours(w.first, w.net, " netguard server", both),
    )
    pairs["by_code"] = (
        asset(
            dbs,
            w.sf_first,
            "NETGUARD",
            "NetGuard Edge",
            product_code="NG-EDGE",
            status="Registered",
        ),
        w.ours(w.first, w.net, "NG-EDGE", [w.legacy]),
    )
    pairs["quantity"] = (
        asset(dbs, w.sf_first, "NETGUARD", "Quantity Pack", quantity=Decimal("30.50")),
        w.ours(w.first, w.net, "Quantity Pack", [w.legacy]),
    )
    pairs["unit"] = (
        asset(dbs, w.sf_first, "NETGUARD", "Unit Pack", unit_of_measure="endpoint"),
        w.ours(w.first, w.net, "Unit Pack", [w.legacy]),
    )
    pairs["start_date"] = (
        asset(dbs, w.sf_second, "NETGUARD", "Start Pack", install_date=date(2026, 2, 1)),
        w.ours(w.second, w.net, "Start Pack", [w.new]),
    )
    pairs["end_date"] = (
        asset(dbs, w.sf_second, "NETGUARD", "End Pack", usage_end_date=None),
        w.ours(w.second, w.net, "End Pack", [w.new]),
    )
    pairs["status"] = (
        asset(dbs, w.sf_second, "CLOUDVAULT", "Status Pack", status="Obsolete"),
        w.ours(w.second, w.vault, "Status Pack", [w.new]),
    )
    # Two of ours could match one asset: it takes the one it agrees with, though the
    # other has the lower external id.
    pairs["twin_alone"] = (
        "",
        w.ours(w.second, w.vault, "Twin Pack", [w.new], quantity=Decimal(10)),
    )
    pairs["twin"] = (
        asset(dbs, w.sf_second, "CLOUDVAULT", "Twin Pack", quantity=Decimal(40)),
        w.ours(w.second, w.vault, "Twin Pack", [w.new], quantity=Decimal(40)),
    )
    pairs["only_ours"] = ("", w.ours(w.first, w.vault, "Vault Pack", both))
    pairs["only_theirs"] = (asset(dbs, w.sf_first, "CLOUDVAULT", "Vault Extra"), "")
    pairs["unknown_account"] = (asset(dbs, w.sf_unknown, "NETGUARD", "NetGuard Server"), "")
    return pairs


def as_tuples(rows: Any) -> set[tuple[str, ...]]:
    return {
        (
            r.account_number,
            r.product_line,
            r.kind,
            r.salesforce_value,
            r.license_center_value,
            r.salesforce_id,
            r.entitlement_id,
        )
        for r in rows
    }


def test_every_kind_of_difference_is_found_and_nothing_else(
    dbs: Session, crafted: dict[str, tuple[str, str]]
) -> None:
    rows = drift(dbs)

    def pair(name: str) -> tuple[str, str]:
        return crafted[name]

    assert as_tuples(rows) == {
        ("101100", "NETGUARD", "quantity", "30.50", "25", *pair("quantity")),
        ("101100", "NETGUARD", "unit", "endpoint", "seat", *pair("unit")),
        ("102100", "NETGUARD", "start_date", "2026-02-01", "2026-01-01", *pair("start_date")),
        ("102100", "NETGUARD", "end_date", "", "2027-01-01", *pair("end_date")),
        ("102100", "CLOUDVAULT", "status", "Obsolete", "active", *pair("status")),
        (
            "102100",
            "CLOUDVAULT",
            "missing_in_salesforce",
            "",
            "10 seat, 2026-01-01 to 2027-01-01, active",
            *pair("twin_alone"),
        ),
        (
            "101100",
            "CLOUDVAULT",
            "missing_in_salesforce",
            "",
            "25 seat, 2026-01-01 to 2027-01-01, active",
            *pair("only_ours"),
        ),
        (
            "101100",
            "CLOUDVAULT",
            "missing_in_license_centers",
            "25 seat, 2026-01-01 to 2027-01-01, Installed",
            "",
            *pair("only_theirs"),
        ),
        (
            "103100",
            "NETGUARD",
            "missing_in_license_centers",
            "25 seat, 2026-01-01 to 2027-01-01, Installed",
            "",
            *pair("unknown_account"),
        ),
    }
    only_ours = next(r for r in rows if r.entitlement_id == crafted["only_ours"][1])
    assert only_ours.systems == ("legacy", "new") and only_ours.product == "Vault Pack"
    assert counts_by_kind(rows) == {
        "missing_in_salesforce": 2,
        "missing_in_license_centers": 2,
        "quantity": 1,
        "unit": 1,
        "start_date": 1,
        "end_date": 1,
        "status": 1,
    }
    # Sorted by account, then line, then kind as DRIFT_KINDS lists them.
    assert [(r.account_number, r.product_line) for r in rows] == sorted(
        (r.account_number, r.product_line) for r in rows
    )


def test_one_account_or_one_line(dbs: Session, crafted: dict[str, tuple[str, str]]) -> None:
    by_account = drift(dbs, account_number="102100")
    by_line = drift(dbs, line="NETGUARD")
    both = drift(dbs, account_number="101100", line="CLOUDVAULT")

    assert {r.account_number for r in by_account} == {"102100"} and len(by_account) == 4
    assert {r.product_line for r in by_line} == {"NETGUARD"} and len(by_line) == 5
    assert {r.kind for r in both} == {"missing_in_salesforce", "missing_in_license_centers"}
    assert drift(dbs, account_number="999999") == []


def test_agreement_is_an_empty_report(dbs: Session) -> None:
    w = Crafted(dbs)
    asset(dbs, w.sf_first, "NETGUARD", "NetGuard Server")
    w.ours(w.first, w.net, "NetGuard Server", [w.legacy])
    assert drift(dbs) == []
    assert counts_by_kind([]) == dict.fromkeys(DRIFT_KINDS, 0)


@pytest.fixture
def cli(settings: Settings, saml_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url or "")
    if settings.redis_url:
        monkeypatch.setenv("GATEWAY_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", settings.secret_key or "")
    monkeypatch.setenv("GATEWAY_SAML_DIR", str(saml_dir))
    monkeypatch.setenv("GATEWAY_SCHEDULER_ENABLED", "false")
    monkeypatch.setenv("GATEWAY_HEALTH_CHECK_ENABLED", "false")
    return CliRunner()


def report(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(main, ["report", "drift", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_csv_parses_strictly(cli: CliRunner, crafted: dict[str, tuple[str, str]]) -> None:
    rows = list(csv.DictReader(io.StringIO(report(cli, "--csv"), newline=""), strict=True))

    assert len(rows) == 9
    assert list(rows[0]) == [
        "account_number",
        "product_line",
        "kind",
        "salesforce_value",
        "license_center_value",
        "salesforce_id",
        "entitlement_id",
        "product",
        "systems",
    ]
    quantity = next(r for r in rows if r["kind"] == "quantity")
    assert (quantity["salesforce_value"], quantity["license_center_value"]) == ("30.50", "25")
    assert (quantity["salesforce_id"], quantity["entitlement_id"]) == crafted["quantity"]
    assert quantity["systems"] == "legacy"
    ours = next(r for r in rows if r["entitlement_id"] == crafted["only_ours"][1])
    assert ours["systems"] == "legacy new" and ours["salesforce_id"] == ""


def test_the_json_and_the_filters(cli: CliRunner, crafted: dict[str, tuple[str, str]]) -> None:
    body = json.loads(report(cli, "--json", "--account", "102100", "--line", "CLOUDVAULT"))

    assert body["counts"]["status"] == 1 and body["counts"]["missing_in_salesforce"] == 1
    assert sum(body["counts"].values()) == 2
    assert {(d["kind"], d["salesforce_id"], d["entitlement_id"]) for d in body["differences"]} == {
        ("status", *crafted["status"]),
        ("missing_in_salesforce", *crafted["twin_alone"]),
    }
    assert body["differences"][0]["systems"] == ["new"]


def test_the_table_and_agreement(cli: CliRunner, crafted: dict[str, tuple[str, str]]) -> None:
    table = report(cli, "--account", "101100", "--line", "NETGUARD")
    assert table.splitlines()[0].startswith("account_number\tproduct_line\tkind")
    assert len(table.splitlines()) == 3
    assert report(cli, "--account", "999999") == "Salesforce and the license centers agree.\n"
    refused = cli.invoke(main, ["report", "drift", "--csv", "--json"])
    assert refused.exit_code == 2 and "one of --csv and --json" in refused.output


def test_it_sees_the_drift_page_with_filters_and_downloads(
    it_client: FlaskClient, dbs: Session, crafted: dict[str, tuple[str, str]]
) -> None:
    page = it_client.get("/it/salesforce/drift").get_data(as_text=True)
    # The console's world adds entitlements of its own, none of them in Salesforce.
    everything = drift(dbs)
    assert len(everything) > 9 and page.count('<tr class="drift-') == len(everything)
    assert "quantity: 1" in page and "unit: 1" in page
    assert crafted["quantity"][0] in page and crafted["quantity"][1] in page

    filtered = it_client.get("/it/salesforce/drift?account=102100&kind=status").get_data(
        as_text=True
    )
    assert filtered.count('<tr class="drift-') == 1 and crafted["status"][0] in filtered
    assert "/it/salesforce/drift.csv?account=102100&amp;kind=status" in filtered

    download = it_client.get("/it/salesforce/drift.csv?account=102100&kind=status")
    assert download.mimetype == "text/csv"
    rows = list(
        csv.DictReader(io.StringIO(download.get_data(as_text=True), newline=""), strict=True)
    )
    assert [(r["kind"], r["salesforce_id"]) for r in rows] == [("status", crafted["status"][0])]
    as_json = it_client.get("/it/salesforce/drift.json?line=NETGUARD").get_json()
    assert len(as_json["differences"]) == 5

    none = it_client.get("/it/salesforce/drift?account=999999").get_data(as_text=True)
    assert 'id="salesforce-no-drift"' in none


@pytest.mark.parametrize("who", ["admin_client", "user_client"])
def test_customers_get_403(request: pytest.FixtureRequest, who: str) -> None:
    client: FlaskClient = request.getfixturevalue(who)
    for path in ("/it/salesforce/drift", "/it/salesforce/drift.csv", "/it/salesforce/drift.json"):
        assert client.get(path).status_code == 403


def test_the_dashboard_counts_differences_by_kind_and_links_the_detail(
    it_client: FlaskClient, dbs: Session, crafted: dict[str, tuple[str, str]]
) -> None:
    counts = counts_by_kind(drift(dbs))

    html = it_client.get("/it/").get_data(as_text=True)

    panel = html[html.index('id="salesforce-drift-panel"') :]
    panel = panel[: panel.index("</section>")]
    assert f'<span class="flag">{sum(counts.values())}</span> differences' in panel
    assert 'href="/it/salesforce/drift"' in panel
    assert '<a href="/it/salesforce/drift?kind=quantity">quantity</a>: 1' in panel
    assert '<a href="/it/salesforce/drift?kind=start_date">start date</a>: 1' in panel
    missing = counts["missing_in_salesforce"]
    assert f"missing in salesforce</a>: {missing}" in panel


def test_the_dashboard_says_when_they_agree(it_client: FlaskClient, dbs: Session) -> None:
    def panel() -> str:
        html = it_client.get("/it/").get_data(as_text=True)
        found = html[html.index('id="salesforce-drift-panel"') :]
        return found[: found.index("</section>")]

    # Before any sync, nothing is compared (everything would be "missing in Salesforce").
    assert 'id="salesforce-drift-not-synced"' in panel()
    page = it_client.get("/it/salesforce/drift").get_data(as_text=True)
    assert 'id="salesforce-drift-not-synced"' in page
    synced(dbs)
    # The console's world has entitlements no Salesforce asset matches.
    assert "missing in salesforce</a>:" in panel()
    dbs.execute(delete(Entitlement))
    dbs.commit()
    assert "Salesforce and the license centers agree" in panel()
