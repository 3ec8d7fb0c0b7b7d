"""The Salesforce sync: Account, Asset and Entitlement records into our salesforce_* tables.

A **full load** reads every record through Bulk API 2.0 query jobs and commits a page
at a time; at the end, in one transaction, it removes what Salesforce no longer has and
moves every cursor to the server's time at the start of the run.

An **incremental** run reads, per object, the records whose SystemModstamp is at or
after the object's cursor (REST query, every nextRecordsUrl followed) and the deleted
ones (queryAll, IsDeleted = true), and applies all of it with the new cursors in one
transaction: all or nothing. `>=` re-reads the records stamped exactly at the cursor;
those are recognised by Id and SystemModstamp and left alone. A cursor older than
Salesforce's 30-day window for deleted records (or none) makes the run a full load.

Why that converges: writes are idempotent upserts keyed by Salesforce Id, and a cursor
only ever moves in the transaction that commits everything read since it. A run that
dies at any point leaves complete pages of true Salesforce data and the old cursors, so
the next run reads again at least everything it had not committed (docs/salesforce.md).
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core.models import Account, ProductLine
from gateway.core.models.base import utcnow
from gateway.core.models.salesforce import (
    SALESFORCE_OBJECTS,
    SalesforceAccount,
    SalesforceAsset,
    SalesforceCursor,
    SalesforceEntitlement,
    SalesforceSyncRun,
)
from gateway.core.settings import Settings
from gateway.salesforce.errors import QueryLocatorExpired, SalesforceSyncError

if TYPE_CHECKING:
    from gateway.salesforce.client import SalesforceClient

# Salesforce keeps deleted records (and answers getDeleted) for 15 to 30 days; a cursor
# older than that could miss deletions, so the run reads everything instead.
DELETED_RECORDS_WINDOW = timedelta(days=30)
# Incremental queries start this long before the cursor: Salesforce stamps a record
# when its transaction starts, so a long transaction can commit a record stamped a
# little before a run's start after that run has read. Records read again are
# recognised (same Id and SystemModstamp as stored) and counted unchanged.
CURSOR_OVERLAP = timedelta(seconds=60)
# Rows looked up, inserted or updated per statement (SQLite allows 32,766 variables).
CHUNK = 500
# How many rejected records a run lists with their reasons (all are counted).
REJECTIONS_KEPT = 100
# Restarts of an incremental query whose locator expired before it was read to the end.
LOCATOR_RESTARTS = 5

Model = type[SalesforceAccount] | type[SalesforceAsset] | type[SalesforceEntitlement]
MODELS: dict[str, Model] = {
    "Account": SalesforceAccount,
    "Asset": SalesforceAsset,
    "Entitlement": SalesforceEntitlement,
}
# A page of records, read already; `total` is the whole query's size when known.
Progress = Callable[[str, int, int], None]


class Rejected(ValueError):
    """A record we cannot keep: the reason is listed in the run."""


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[dict[str, str]] = field(default_factory=list)

    def reject(self, object_name: str, record_id: str, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < REJECTIONS_KEPT:
            self.rejections.append({"object": object_name, "id": record_id, "reason": reason})


@dataclass(frozen=True)
class Fields:
    """The Salesforce fields read per object; four of them are settings."""

    account_number: str
    product_line: str
    unit: str
    time_zone: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> Fields:
        return cls(
            settings.salesforce_account_number_field,
            settings.salesforce_product_line_field,
            settings.salesforce_unit_field,
            settings.salesforce_time_zone_field,
        )

    def select(self, object_name: str) -> list[str]:
        names = {
            "Account": ["Id", "Name", self.account_number]
            + ([self.time_zone] if self.time_zone else []),
            "Asset": [
                "Id",
                "AccountId",
                "Product2.Name",
                "Product2.ProductCode",
                self.product_line,
                "Quantity",
                self.unit,
                "InstallDate",
                "UsageEndDate",
                "Status",
            ],
            "Entitlement": [
                "Id",
                "AccountId",
                "AssetId",
                "Name",
                "StartDate",
                "EndDate",
                "Status",
                "Type",
            ],
        }[object_name]
        return list(dict.fromkeys([*names, "SystemModstamp"]))  # once each, in order


# SOQL, not SQL: field names are settings checked against SOQL_FIELD, objects are ours,
# and the only value is a datetime we format.
def full_query(fields: Fields, object_name: str) -> str:
    return f"SELECT {', '.join(fields.select(object_name))} FROM {object_name}"  # noqa: S608


def changes_query(fields: Fields, object_name: str, since: datetime) -> str:
    return (
        f"SELECT {', '.join(fields.select(object_name))} FROM {object_name} "  # noqa: S608
        f"WHERE SystemModstamp >= {soql_datetime(since)} ORDER BY SystemModstamp, Id"
    )


def deletions_query(object_name: str, since: datetime) -> str:
    return (
        f"SELECT Id, SystemModstamp FROM {object_name} WHERE SystemModstamp >= "  # noqa: S608
        f"{soql_datetime(since)} AND IsDeleted = true ORDER BY SystemModstamp, Id"
    )


def soql_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- one record, from JSON (REST) or CSV (Bulk) to a row ------------------------------


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, str | None]:
    """A REST record as Bulk's CSV would have it: dotted relationship fields, text values,
    None for null."""
    flat: dict[str, str | None] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        elif value is None:
            flat[prefix + key] = None
        elif isinstance(value, bool):
            flat[prefix + key] = "true" if value else "false"
        else:
            flat[prefix + key] = str(value)
    return flat


def from_csv(row: dict[str, str]) -> dict[str, str | None]:
    """A Bulk CSV row: empty is null, as Bulk API 2.0 writes null."""
    return {key: (value if value != "" else None) for key, value in row.items()}


@dataclass(frozen=True)
class Links:
    """Our accounts by number and product lines by code, for the records of one page."""

    accounts: dict[str, int]
    product_lines: dict[str, int]


def to_row(
    object_name: str, record: dict[str, str | None], fields: Fields, links: Links
) -> dict[str, Any]:
    """The salesforce_* row for one record, or Rejected with the reason."""
    text_of = _text_reader(record)
    row: dict[str, Any] = {
        "id": _salesforce_id(record.get("Id")),
        "system_modstamp": _datetime(record.get("SystemModstamp")),
    }
    if object_name == "Account":
        number = text_of(fields.account_number, 64)
        if not number:
            raise Rejected(f"no account number ({fields.account_number} is empty)")
        row |= {
            "name": text_of("Name", 255),
            "account_number": number,
            "account_id": links.accounts.get(number),
            # Kept as Salesforce has it; eligibility falls back to the default zone when
            # it names none we know (rejecting the account would cost its links).
            "time_zone": (text_of(fields.time_zone, 64) or None) if fields.time_zone else None,
        }
    elif object_name == "Asset":
        line = text_of(fields.product_line, 64) or None
        row |= {
            "sf_account_id": _optional_id(record.get("AccountId")),
            "product": text_of("Product2.Name", 255),
            "product_code": text_of("Product2.ProductCode", 255),
            "product_line_code": line,
            "product_line_id": links.product_lines.get(line) if line else None,
            "quantity": _quantity(record.get("Quantity")),
            "unit_of_measure": text_of(fields.unit, 64),
            "install_date": _date("InstallDate", record.get("InstallDate")),
            "usage_end_date": _date("UsageEndDate", record.get("UsageEndDate")),
            "status": text_of("Status", 64),
        }
    else:
        account = _optional_id(record.get("AccountId"))
        if account is None:
            raise Rejected("no AccountId")
        row |= {
            "sf_account_id": account,
            "sf_asset_id": _optional_id(record.get("AssetId")),
            "name": text_of("Name", 255),
            "start_date": _date("StartDate", record.get("StartDate")),
            "end_date": _date("EndDate", record.get("EndDate")),
            "status": text_of("Status", 64),
            "type": text_of("Type", 64),
        }
    return row


def _text_reader(record: dict[str, str | None]) -> Callable[[str, int], str]:
    def text_of(name: str, limit: int) -> str:
        value = (record.get(name) or "").strip()
        if len(value) > limit:
            raise Rejected(f"{name} is longer than {limit} characters")
        return value

    return text_of


def _salesforce_id(value: str | None) -> str:
    found = _optional_id(value)
    if found is None:
        raise Rejected("no Id")
    return found


def _optional_id(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) not in (15, 18) or not value.isalnum():
        raise Rejected(f"{value!r} is not a Salesforce Id")
    return value


def _datetime(value: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        raise Rejected(f"SystemModstamp {value!r} is not a date and time") from None
    return moment.astimezone(UTC)


def _date(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise Rejected(f"{name} {value!r} is not a date") from None


def _quantity(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        quantity = Decimal(value)
    except InvalidOperation:
        raise Rejected(f"Quantity {value!r} is not a number") from None
    if not quantity.is_finite() or abs(quantity) >= Decimal("1e16"):
        raise Rejected(f"Quantity {value!r} is out of range")
    return quantity.quantize(Decimal("0.01"))


# --- applying records --------------------------------------------------------------


def _links(db: Session, object_name: str, fields: Fields, records: list[dict[str, Any]]) -> Links:
    accounts: dict[str, int] = {}
    product_lines: dict[str, int] = {}
    if object_name == "Account":
        numbers = {(r.get(fields.account_number) or "").strip() for r in records} - {""}
        for chunk in _chunks(sorted(numbers)):
            found = select(Account.account_number, Account.id).where(
                Account.account_number.in_(chunk)
            )
            accounts.update({number: id_ for number, id_ in db.execute(found)})
    elif object_name == "Asset":
        found_lines = db.execute(select(ProductLine.code, ProductLine.id))
        product_lines = {code: id_ for code, id_ in found_lines}
    return Links(accounts, product_lines)


def apply_records(
    db: Session,
    object_name: str,
    records: list[dict[str, str | None]],
    fields: Fields,
    counts: Counts,
    seen: dict[str, datetime],
    *,
    fresh: bool = False,
) -> None:
    """Upsert one page of records (already flat) into the object's table, in the caller's
    transaction. `seen` holds the Ids (and SystemModstamps) this run has applied: a record
    read twice with the same stamp (`>=` at the cursor, or a query restarted after its
    locator expired) is applied once. `fresh`: the table held no rows when this run began
    writing it (and the run lock keeps other runs out), so only Ids in `seen` can be
    stored already, and only those are looked up."""
    model = MODELS[object_name]
    links = _links(db, object_name, fields, records)
    rows: dict[str, dict[str, Any]] = {}
    rejected: list[str] = []
    again: list[str] = []  # Ids this run applied before this page
    for record in records:
        try:
            row = to_row(object_name, record, fields, links)
        except Rejected as reason:
            record_id = record.get("Id") or ""
            counts.reject(object_name, record_id, str(reason))
            if record_id:
                rejected.append(record_id)
            continue
        stamp = seen.get(row["id"])
        if stamp == row["system_modstamp"]:
            continue
        if stamp is not None:
            again.append(row["id"])
        seen[row["id"]] = row["system_modstamp"]
        rows[row["id"]] = row
    # A record we kept before and reject now is not kept: as a full load would have it.
    for chunk in _chunks(rejected):
        db.execute(delete(model).where(model.id.in_(chunk)))
    columns = [getattr(model, name) for name in _column_names(model)]
    existing: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(again if fresh else rows)):
        for found in db.execute(select(*columns).where(model.id.in_(chunk))).mappings():
            existing[found["id"]] = dict(found)
    inserts, updates = [], []
    for record_id, row in rows.items():
        before = existing.get(record_id)
        if before is None:
            inserts.append(row)
        elif before == row:
            counts.unchanged += 1
        else:
            updates.append(row)
    counts.created += len(inserts)
    counts.updated += len(updates)
    if inserts and db.get_bind().dialect.name == "postgresql":
        _copy_in(db, model, inserts)
    else:
        for chunk in _chunks(inserts):
            db.execute(insert(model), chunk)
    for chunk in _chunks(updates):
        db.execute(update(model), chunk)


def _copy_in(db: Session, model: Model, rows: list[dict[str, Any]]) -> None:
    """New rows through PostgreSQL's COPY, on the session's connection and so in its
    transaction. An executemany of INSERTs costs the server one statement per row: a
    full load of a million records spent most of its time there (docs/performance.md)."""
    names = _column_names(model)
    connection: Any = db.connection().connection.driver_connection  # psycopg's
    statement = f"COPY {model.__tablename__} ({', '.join(names)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[name] for name in names])


def delete_records(db: Session, object_name: str, ids: Iterable[str], counts: Counts) -> None:
    model = MODELS[object_name]
    for chunk in _chunks(sorted(set(ids))):
        result = db.execute(delete(model).where(model.id.in_(chunk)))
        counts.deleted += int(getattr(result, "rowcount", 0) or 0)


def _column_names(model: Model) -> list[str]:
    return [column.key for column in model.__table__.columns]


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


# --- runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    kind: str
    state: str
    counts: Counts
    note: str
    error: str
    cursor_from: datetime | None
    cursor_to: datetime | None

    def lines(self) -> list[str]:
        c = self.counts
        head = (
            f"run {self.run_id} ({self.kind}) {self.state}: {c.created} created, "
            f"{c.updated} updated, {c.deleted} deleted, {c.unchanged} unchanged, "
            f"{c.rejected} rejected"
        )
        lines = [head]
        if self.note:
            lines.append(self.note)
        lines += [f"rejected {r['object']} {r['id']}: {r['reason']}" for r in c.rejections]
        if c.rejected > len(c.rejections):
            lines.append(f"… and {c.rejected - len(c.rejections)} more rejected")
        if self.error:
            lines.append(f"error: {self.error}")
        return lines


def cursors(db: Session) -> dict[str, datetime]:
    found = db.execute(select(SalesforceCursor.object, SalesforceCursor.cursor))
    return {name: cursor for name, cursor in found}


def sync(
    db: Session,
    settings: Settings,
    *,
    full: bool = False,
    client: SalesforceClient | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """One sync run (full or incremental, as asked and as the cursors allow), recorded in
    salesforce_sync_runs whether it succeeds or fails. Failures are in the summary."""
    summary = _sync(db, settings, full=full, client=client, progress=progress, slot=None)
    assert summary is not None  # noqa: S101 - only a slot can be taken
    return summary


def scheduled_sync(db: Session, settings: Settings, now: datetime) -> RunSummary | None:
    """The scheduled job's round: the incremental run of the slot `now` falls in, if no
    instance has claimed that slot yet (None when one has)."""
    interval = settings.salesforce_sync_interval_seconds
    slot = int(now.timestamp()) // interval
    return _sync(db, settings, full=False, client=None, progress=None, slot=slot)


def _sync(
    db: Session,
    settings: Settings,
    *,
    full: bool,
    client: SalesforceClient | None,
    progress: Progress | None,
    slot: int | None,
) -> RunSummary | None:
    fields = Fields.of(settings)
    if client is None:
        # Imported here: simple-salesforce (and zeep, which it brings) add 3 MB to a
        # worker's memory, and only a sync, never a request, talks to Salesforce.
        from gateway.salesforce.client import SalesforceClient

        client = SalesforceClient(settings)  # no I/O yet: settings checked first
    with _one_run_at_a_time(db):
        _close_interrupted_runs(db)
        known = cursors(db)
        run = SalesforceSyncRun(
            kind="full" if full else "incremental",
            started_at=utcnow(),
            cursor_from=None if full or not known else min(known.values()),
            slot=slot,
        )
        db.add(run)
        try:
            db.commit()
        except IntegrityError:  # the slot's run: another instance claimed it first
            db.rollback()
            client.close()
            return None
        counts, note = Counts(), ""
        try:
            server_now = client.server_time()
            run.cursor_to = server_now
            if not full:
                missing = [name for name in SALESFORCE_OBJECTS if name not in known]
                oldest = min(known.values()) if known else None
                if missing and known:
                    note = f"no cursor for {', '.join(missing)}: full load"
                elif oldest is None:
                    note = "first sync: full load"
                elif server_now - oldest > DELETED_RECORDS_WINDOW:
                    note = (
                        f"cursor {soql_datetime(oldest)} is older than Salesforce's 30-day "
                        "window for deleted records: full load"
                    )
                full = bool(note)
            run.kind, run.note = ("full" if full else "incremental"), note
            if full:
                run.cursor_from = None
                _full_load(db, client, fields, counts, progress)
            else:
                _incremental(db, client, fields, counts, known)
            _finish(db, run, counts, "succeeded", server_now)
        except SalesforceSyncError as error:
            db.rollback()
            run.error = error.detail
            _finish(db, run, counts, "failed", None)
        except Exception as error:  # recorded, then raised: a bug, not Salesforce
            db.rollback()
            run.error = f"unexpected {type(error).__name__}: {error}"
            _finish(db, run, counts, "failed", None)
            raise
        finally:
            client.close()
        return _summary(run, counts)


def _full_load(
    db: Session,
    client: SalesforceClient,
    fields: Fields,
    counts: Counts,
    progress: Progress | None,
) -> None:
    """Every record through Bulk API 2.0, a committed page at a time; then what is no
    longer in Salesforce goes (in the run's last transaction, with the cursors)."""
    for object_name in SALESFORCE_OBJECTS:
        seen: dict[str, datetime] = {}
        read = 0
        model = MODELS[object_name]
        # Into an empty table (a first load), nothing needs looking up but what this
        # run wrote itself: a third of a full load's time on PostgreSQL.
        fresh = db.scalar(select(model.id).limit(1)) is None
        for rows, total in client.bulk_query(full_query(fields, object_name)):
            records = [from_csv(r) for r in rows]
            apply_records(db, object_name, records, fields, counts, seen, fresh=fresh)
            db.commit()
            read += len(rows)
            if progress is not None:
                progress(object_name, read, total)
        gone = [i for i in db.scalars(select(model.id)) if i not in seen]
        delete_records(db, object_name, gone, counts)


def _incremental(
    db: Session,
    client: SalesforceClient,
    fields: Fields,
    counts: Counts,
    known: dict[str, datetime],
) -> None:
    """What changed since each cursor, applied in the caller's one transaction."""
    for object_name in SALESFORCE_OBJECTS:
        since = known[object_name] - CURSOR_OVERLAP
        seen: dict[str, datetime] = {}
        changed = partial(changes_query, fields, object_name)
        for page in _restartable_pages(client, changed, since):
            apply_records(db, object_name, [flatten(r) for r in page], fields, counts, seen)
        deleted: list[str] = []
        gone = partial(deletions_query, object_name)
        for page in _restartable_pages(client, gone, since, include_deleted=True):
            deleted += [str(record["Id"]) for record in page]
        delete_records(db, object_name, deleted, counts)


def _restartable_pages(
    client: SalesforceClient,
    query: Callable[[datetime], str],
    since: datetime,
    *,
    include_deleted: bool = False,
) -> Iterator[list[Any]]:
    """A query's pages in SystemModstamp order. If Salesforce forgets the query's locator
    half way, the query starts again at the last SystemModstamp read, with `>=`: records
    sharing that stamp across the page boundary are read again (and skipped by Id and
    stamp), never lost, as `>` would lose them."""
    start = since
    for _ in range(LOCATOR_RESTARTS):
        try:
            for page in client.query_pages(query(start), include_deleted=include_deleted):
                if page:
                    start = max(start, _datetime(str(page[-1]["SystemModstamp"])))
                yield page
            return
        except QueryLocatorExpired:
            continue
    raise QueryLocatorExpired(f"the query locator expired {LOCATOR_RESTARTS} times in a row")


def _finish(
    db: Session, run: SalesforceSyncRun, counts: Counts, state: str, cursor: datetime | None
) -> None:
    """The run's end (and, when it succeeded, the new cursors) in one transaction."""
    run.state, run.finished_at = state, utcnow()
    run.created, run.updated, run.deleted = counts.created, counts.updated, counts.deleted
    run.unchanged, run.rejected = counts.unchanged, counts.rejected
    run.rejections = json.dumps(counts.rejections)
    if cursor is not None:
        for object_name in SALESFORCE_OBJECTS:
            db.merge(SalesforceCursor(object=object_name, cursor=cursor, run_id=run.id))
    db.commit()


def _summary(run: SalesforceSyncRun, counts: Counts) -> RunSummary:
    return RunSummary(
        run.id,
        run.kind,
        run.state,
        counts,
        run.note,
        run.error,
        run.cursor_from,
        run.cursor_to,
    )


@contextmanager
def _one_run_at_a_time(db: Session) -> Iterator[None]:
    """One run at a time per database, and a dead run's lock gone with its process.

    PostgreSQL: a session-level advisory lock on a connection of its own, held for the
    run (a run killed by SIGKILL lets go with its connection). SQLite: an exclusive
    flock on a file beside the database (the kernel drops it when the process dies).
    A second run waits for the first."""
    bind = db.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            _advisory(connection, "pg_advisory_lock")
            try:
                yield
            finally:
                _advisory(connection, "pg_advisory_unlock")
        return
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield  # a private database: no one else to wait for
        return
    with open(f"{path}.salesforce-sync.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


SYNC_LOCK_KEY = 0x5F5F_5346  # "SF": the sync's advisory lock


def _advisory(connection: Connection, function: str) -> None:
    connection.execute(text(f"SELECT {function}(:key)"), {"key": SYNC_LOCK_KEY})
    connection.commit()


def _close_interrupted_runs(db: Session) -> None:
    """Runs still `running` when the lock is ours died mid-run (killed, or the machine
    stopped): they are marked failed, so the history tells the truth."""
    db.execute(
        update(SalesforceSyncRun)
        .where(SalesforceSyncRun.state == "running")
        .values(state="failed", error="interrupted: the run ended without recording its end")
    )
    db.commit()


def recent_runs(db: Session, limit: int = 20) -> list[SalesforceSyncRun]:
    return list(
        db.scalars(
            select(SalesforceSyncRun)
            .order_by(SalesforceSyncRun.started_at.desc(), SalesforceSyncRun.id.desc())
            .limit(limit)
        )
    )


def has_synced(db: Session) -> bool:
    """Whether any run has succeeded: before that, the synced tables say nothing."""
    query = select(SalesforceSyncRun.id).where(SalesforceSyncRun.state == "succeeded").limit(1)
    return db.scalar(query) is not None
