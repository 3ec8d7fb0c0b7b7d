"""A Salesforce full load at size: 20,000 accounts, 500,000 assets and 500,000
entitlements (one asset each) from the stand-in Salesforce, into empty salesforce_*
tables, against the floor of PostgreSQL COPY loading the same rows into the same tables.

The stand-in runs in a process of its own (so it does not share our interpreter) and
serves Bulk API 2.0 results from CSV pages rendered before the clock starts
(`SalesforceStandIn.prerender`), as fast as it can. The load is the sync's own
`gateway.salesforce.service.sync(full=True)`, in this process: sign-in, three bulk
query jobs, every page parsed, checked, upserted and committed, the final sweep and the
run's record. The floor is psycopg's `cursor.copy` of the same rows, already in memory
as CSV in the tables' columns, one COPY per table in one transaction.

    python -m bench.salesforce_sync [--database-url URL]   # full size
    python -m bench.salesforce_sync --smoke                 # tiny; on SQLite the floor
                                                            # is executemany (no COPY)
"""

from __future__ import annotations

import io
import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench import harness
from gateway.core import db
from gateway.core.models.salesforce import (
    SalesforceAccount,
    SalesforceAsset,
    SalesforceCursor,
    SalesforceEntitlement,
    SalesforceSyncRun,
)
from gateway.core.settings import Settings
from gateway.devidp.salesforce import SalesforceStandIn
from gateway.salesforce.service import Fields, sync

LOAD_TARGET_SECONDS = 90.0
COPY_RATIO_TARGET = 0.3
PAGE_RECORDS = 50_000  # the sync's default GATEWAY_SALESFORCE_BULK_PAGE_RECORDS
CLIENT_ID = "3MVG9bench.client"
CLIENT_SECRET = "bench-client-secret-0123456789"  # noqa: S105 - loopback only
MODSTAMP = "2026-11-02T09:30:00.000Z"
LINES = (
    ("NETGUARD", "NetGuard Server", "endpoint"),
    ("CLOUDVAULT", "CloudVault", "TB"),
    ("ANALYTICS", "Analytics Suite", "USD revenue"),
    ("IDENTITY", "Identity Hub", "user"),
)


@dataclass(frozen=True)
class Org:
    accounts: int
    entitlements: int  # and as many assets, one per entitlement

    @property
    def rows(self) -> int:
        return self.accounts + 2 * self.entitlements


FULL_ORG = Org(accounts=20_000, entitlements=500_000)
SMOKE_ORG = Org(accounts=20, entitlements=150)


# --- the org, generated deterministically, as Salesforce fields and as our columns ----


def _id(prefix: str, number: int) -> str:
    return f"{prefix}{number:012d}AAA"  # 18 characters, as the API gives Ids


def accounts(org: Org) -> Iterator[tuple[str, ...]]:
    """Id, Name, AccountNumber, SystemModstamp."""
    for n in range(org.accounts):
        yield _id("001", n), f"Customer {n:05d} Ltd", f"{100000 + n}", MODSTAMP


def assets(org: Org) -> Iterator[tuple[str, ...]]:
    """Id, AccountId, Product2.Name, Product2.ProductCode, Product2.Family, Quantity,
    Unit_of_Measure__c, InstallDate, UsageEndDate, Status, SystemModstamp."""
    for n in range(org.entitlements):
        code, product, unit = LINES[n % len(LINES)]
        year = 2024 + n % 3
        yield (
            _id("02i", n), _id("001", n % org.accounts), product, f"{code}-{n % 7}", code,
            f"{(n % 50 + 1) * 100}.0", unit, f"{year}-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
            f"{year + 1}-{n % 12 + 1:02d}-{n % 28 + 1:02d}", "Installed", MODSTAMP,
        )  # fmt: skip


def entitlements(org: Org) -> Iterator[tuple[str, ...]]:
    """Id, AccountId, AssetId, Name, StartDate, EndDate, Status, Type, SystemModstamp."""
    for n in range(org.entitlements):
        year = 2024 + n % 3
        yield (
            _id("550", n), _id("001", n % org.accounts), _id("02i", n), f"Support {n:06d}",
            f"{year}-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
            f"{year + 1}-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
            "Active", "Phone Support", MODSTAMP,
        )  # fmt: skip


GENERATORS = {"Account": accounts, "Asset": assets, "Entitlement": entitlements}
# Our tables' columns, each from the Salesforce field at that position (None: null, a
# link to our accounts or product lines, which an empty directory does not have).
COPY_COLUMNS: dict[str, tuple[type[Any], list[tuple[str, int | None]]]] = {
    "Account": (
        SalesforceAccount,
        [("id", 0), ("name", 1), ("account_number", 2), ("account_id", None),
         ("system_modstamp", 3)],
    ),
    "Asset": (
        SalesforceAsset,
        [("id", 0), ("sf_account_id", 1), ("product", 2), ("product_code", 3),
         ("product_line_code", 4), ("product_line_id", None), ("quantity", 5),
         ("unit_of_measure", 6), ("install_date", 7), ("usage_end_date", 8), ("status", 9),
         ("system_modstamp", 10)],
    ),
    "Entitlement": (
        SalesforceEntitlement,
        [("id", 0), ("sf_account_id", 1), ("sf_asset_id", 2), ("name", 3), ("start_date", 4),
         ("end_date", 5), ("status", 6), ("type", 7), ("system_modstamp", 8)],
    ),
}  # fmt: skip


def table_rows(object_name: str, org: Org) -> list[tuple[str | None, ...]]:
    """The object's rows in its table's columns, as a full load would write them."""
    _model, columns = COPY_COLUMNS[object_name]
    return [
        tuple(None if at is None else record[at] for _name, at in columns)
        for record in GENERATORS[object_name](org)
    ]


# --- the stand-in, in a process of its own ------------------------------------------


def serve_standin(org: Org, folder: str, page_records: int, ready: Any, stop: Event) -> None:
    """The child process: the stand-in with the org's Bulk results pre-rendered."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    standin = SalesforceStandIn(
        Path(folder),
        consumer_key="unused",
        username="unused",
        public_key=key.public_key(),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    fields = Fields("AccountNumber", "Product2.Family", "Unit_of_Measure__c")
    for object_name, generate in GENERATORS.items():
        standin.prerender(object_name, fields.select(object_name), generate(org), page_records)
    standin.start()
    ready.put((standin.url, str(standin.ca_file)))
    stop.wait()
    standin.stop()


# --- the two loads ------------------------------------------------------------------


def empty_tables(session: Session) -> None:
    for model in (
        SalesforceCursor,
        SalesforceEntitlement,
        SalesforceAsset,
        SalesforceAccount,
        SalesforceSyncRun,
    ):
        session.execute(delete(model))
    session.commit()


def count_rows(session: Session) -> int:
    models = (SalesforceAccount, SalesforceAsset, SalesforceEntitlement)
    return sum(session.scalar(select(func.count()).select_from(m)) or 0 for m in models)


def full_load(database_url: str, settings: Settings, org: Org) -> tuple[float, dict[str, Any]]:
    engine = db.make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            empty_tables(session)
            started = time.perf_counter()
            summary = sync(session, settings, full=True)
            seconds = time.perf_counter() - started
            if summary.state != "succeeded":
                raise SystemExit(f"the full load failed: {summary.error}")
            counts = summary.counts
            detail = {"created": counts.created, "rejected": counts.rejected}
            detail["rows_in_tables"] = count_rows(session)
            if detail["rows_in_tables"] != org.rows:
                raise SystemExit(f"the full load left {detail['rows_in_tables']} rows")
    finally:
        engine.dispose()
    return seconds, detail


def copy_load(database_url: str, org: Org) -> tuple[float, dict[str, Any]]:
    """The floor: the same rows into the same (emptied) tables. PostgreSQL: COPY FROM
    STDIN (CSV) of text prepared before the clock starts. SQLite has no COPY: one
    executemany per table stands in (smoke runs only)."""
    engine = db.make_engine(database_url)
    prepared = {name: table_rows(name, org) for name in COPY_COLUMNS}
    postgres = make_url(database_url).get_backend_name() == "postgresql"
    texts = {name: _csv(rows) for name, rows in prepared.items()} if postgres else {}
    try:
        with Session(engine) as session:
            empty_tables(session)
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            started = time.perf_counter()
            for name, (model, columns) in COPY_COLUMNS.items():
                names = ", ".join(column for column, _at in columns)
                table = model.__tablename__
                if postgres:
                    with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
                        copy.write(texts[name])
                else:
                    marks = ", ".join("?" for _ in columns)
                    statement = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
                    cursor.executemany(statement, prepared[name])
            raw.commit()
            seconds = time.perf_counter() - started
        finally:
            raw.close()
        with Session(engine) as session:
            detail = {
                "rows_in_tables": count_rows(session),
                "via": "COPY" if postgres else "sqlite",
            }
            empty_tables(session)
        if detail["rows_in_tables"] != org.rows:
            raise SystemExit(f"the floor left {detail['rows_in_tables']} rows")
    finally:
        engine.dispose()
    return seconds, detail


def _csv(rows: list[tuple[str | None, ...]]) -> bytes:
    """COPY's CSV: unquoted empty is NULL, so text values are always quoted."""
    out = io.StringIO()
    for row in rows:
        out.write(",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in row))
        out.write("\n")
    return out.getvalue().encode()


def main() -> None:
    options = harness.arguments(__doc__ or "")
    org = SMOKE_ORG if options.smoke else FULL_ORG
    page_records = 50 if options.smoke else PAGE_RECORDS
    harness.ensure_database(options.database_url)
    db.upgrade(options.database_url)
    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="switchyard-bench-sf-") as scratch:
        ready, stop = context.Queue(), context.Event()
        child = context.Process(
            target=serve_standin, args=(org, scratch, page_records, ready, stop), daemon=True
        )
        child.start()
        try:
            url, ca_file = ready.get(timeout=600)
            settings = Settings(
                database_url=options.database_url,
                secret_key=harness.SECRET,
                salesforce_login_url=url,
                salesforce_ca_file=Path(ca_file),
                salesforce_client_id=CLIENT_ID,
                salesforce_client_secret=CLIENT_SECRET,
                salesforce_bulk_poll_seconds=0.05,
                salesforce_bulk_page_records=page_records,
            )
            ours, ours_detail = full_load(options.database_url, settings, org)
            floor, floor_detail = copy_load(options.database_url, org)
        finally:
            stop.set()
            child.join(timeout=30)
        bench = harness.Bench(
            database_url=options.database_url,
            redis_url=options.redis_url,
            sizes=harness.SMOKE if options.smoke else harness.FULL,
            smoke=options.smoke,
            workers=options.workers,
            threads=options.threads,
            work=Path(scratch),
        )
        ours_rate, floor_rate = org.rows / ours, org.rows / floor
        ratio = harness.rate_ratio(ours_rate, floor_rate)
        size = "500k" if not options.smoke else f"{org.entitlements}"
        detail = {
            "accounts": org.accounts,
            "assets": org.entitlements,
            "entitlements": org.entitlements,
            "rows": org.rows,
            "page_records": page_records,
            "ours_seconds": round(ours, 2),
            "ours_rows_per_second": round(ours_rate),
            "copy_seconds": round(floor, 2),
            "copy_rows_per_second": round(floor_rate),
            "ours": ours_detail,
            "floor": floor_detail,
        }
        figures = [
            harness.Figure(
                f"Salesforce full load ({size})", ours, floor, "s", harness.cost_ratio(ours, floor),
                f"< {LOAD_TARGET_SECONDS:.0f} s", ours < LOAD_TARGET_SECONDS, detail,
            ),
            harness.Figure(
                "Salesforce load, rows/s vs COPY", ours_rate, floor_rate, "r/s", ratio,
                f">= {COPY_RATIO_TARGET} of COPY", ratio >= COPY_RATIO_TARGET, detail,
            ),
        ]  # fmt: skip
        harness.report(bench, "salesforce_sync", figures)


if __name__ == "__main__":
    main()
