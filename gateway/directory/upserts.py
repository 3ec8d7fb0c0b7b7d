"""Batched, idempotent upserts of validated directory records on SQLite or PostgreSQL.

Each batch reads the rows it may touch in one query, writes only new or changed rows
(so re-importing a file leaves `updated_at` alone), and counts what it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.core.models import Base
from gateway.directory.errors import DirectoryImportError
from gateway.directory.rows import Record

BATCH_SIZE = 5_000

# Writes a kind's side table for one batch; returns the ids of the rows whose side changed.
SideWriter = Callable[[Session, list[Record], list[int]], set[int]]


@dataclass
class Tally:
    """How many records an import created, changed, and found already up to date."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class Target:
    """Where one kind is stored: its table, natural key, compared columns, side table."""

    table: str
    key: str
    fields: tuple[str, ...]
    side: SideWriter | None = None
    # Written when the row is created, never overwritten by a later import.
    initial_only: tuple[str, ...] = ()


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _dialect_insert(db: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise DirectoryImportError(f"imports need PostgreSQL or SQLite, not {dialect}")


def _among(db: Session, column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL as one array parameter, not thousands to parse."""
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def _insert_new_pairs(db: Session, table: Table, pairs: list[dict[str, Any]]) -> None:
    if pairs:
        db.execute(_dialect_insert(db, table).on_conflict_do_nothing(), pairs)


def _sync_permissions(db: Session, batch: list[Record], user_ids: list[int]) -> set[int]:
    """Make each user's permissions exactly the file's list."""
    table = _table("permissions")
    wanted = {
        (uid, name) for uid, r in zip(user_ids, batch, strict=True) for name in r["permissions"]
    }
    query = select(table.c.user_id, table.c.name).where(_among(db, table.c.user_id, user_ids))
    held = {(uid, name) for uid, name in db.execute(query)}
    removed, added = held - wanted, wanted - held
    if removed:
        stale = delete(table).where(
            table.c.user_id == bindparam("uid"), table.c.name == bindparam("permission")
        )
        db.execute(stale, [{"uid": uid, "permission": name} for uid, name in removed])
    _insert_new_pairs(db, table, [{"user_id": uid, "name": name} for uid, name in added])
    return {uid for uid, _ in removed | added}


def _ensure_holdings(db: Session, batch: list[Record], entitlement_ids: list[int]) -> set[int]:
    """Record that the exporting system holds each entitlement (others' holdings stay)."""
    table = _table("entitlement_holdings")
    wanted = {(eid, r["system_id"]) for eid, r in zip(entitlement_ids, batch, strict=True)}
    query = select(table.c.entitlement_id, table.c.system_id).where(
        _among(db, table.c.entitlement_id, entitlement_ids)
    )
    held = {(eid, system_id) for eid, system_id in db.execute(query)}
    added = wanted - held
    _insert_new_pairs(db, table, [{"entitlement_id": e, "system_id": s} for e, s in added])
    return {eid for eid, _ in added}


TARGETS: dict[str, Target] = {
    "accounts": Target("accounts", "account_number", ("name",)),
    "users": Target(
        "users",
        "email",
        ("account_id", "first_name", "last_name"),
        _sync_permissions,
        initial_only=("added_via",),
    ),
    # A line's migration state belongs to IT (audited in gateway/rollout) once it
    # exists: re-importing the product-line file must not roll a migration back.
    "product-lines": Target("product_lines", "code", ("name",), initial_only=("state",)),
    "systems": Target("systems", "key", ("name", "entry_url")),
    "entitlements": Target(
        "entitlements",
        "external_id",
        (
            "account_id",
            "product_line_id",
            "product",
            "unit_of_measure",
            "quantity",
            "kind",
            "start_date",
            "end_date",
            "status",
        ),
        _ensure_holdings,
    ),
}


def write_records(db: Session, kind: str, records: Iterable[Record], now: datetime) -> Tally:
    """Upsert `records` of `kind` in batches, within the session's transaction."""
    target, tally = TARGETS[kind], Tally()
    for batch in _batches(records):
        _write_batch(db, target, batch, now, tally)
    return tally


def _batches(records: Iterable[Record]) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, BATCH_SIZE)):
        yield batch


def _write_batch(
    db: Session, target: Target, batch: list[Record], now: datetime, tally: Tally
) -> None:
    table = _table(target.table)
    keys = [r[target.key] for r in batch]
    current = _current_rows(db, table, target, keys)
    changed = [r for r in batch if _is_new_or_changed(current.get(r[target.key]), r, target)]
    if changed:
        db.execute(_upsert(db, table, target), [_params(r, target, now) for r in changed])
    ids = {key: row[0] for key, row in current.items()}
    ids.update(_ids_of(db, table, target.key, [key for key in keys if key not in ids]))
    record_ids = [ids[key] for key in keys]
    side_changed = target.side(db, batch, record_ids) if target.side else set()
    # A row whose own columns are unchanged but whose permissions or holdings changed.
    side_only = side_changed - {ids[r[target.key]] for r in changed}
    if side_only:
        db.execute(
            update(table).where(_among(db, table.c.id, list(side_only))).values(updated_at=now)
        )
    created = len(batch) - len(current)
    tally.created += created
    tally.updated += len(changed) - created + len(side_only)
    tally.unchanged += len(batch) - len(changed) - len(side_only)


def _current_rows(
    db: Session, table: Table, target: Target, keys: list[Any]
) -> dict[Any, tuple[Any, ...]]:
    """Key → (id, *fields) of the rows the batch names that already exist."""
    columns = [table.c[target.key], table.c.id, *(table.c[name] for name in target.fields)]
    query = select(*columns).where(_among(db, table.c[target.key], keys))
    return {key: tuple(rest) for key, *rest in db.execute(query)}


def _is_new_or_changed(row: tuple[Any, ...] | None, record: Record, target: Target) -> bool:
    return row is None or row[1:] != tuple(record[name] for name in target.fields)


def _params(record: Record, target: Target, now: datetime) -> dict[str, Any]:
    params = {name: record[name] for name in (target.key, *target.fields, *target.initial_only)}
    params.update(created_at=now, updated_at=now)
    return params


def _upsert(db: Session, table: Table, target: Target) -> postgresql.Insert | sqlite.Insert:
    statement = _dialect_insert(db, table)
    refreshed = {name: statement.excluded[name] for name in (*target.fields, "updated_at")}
    return statement.on_conflict_do_update(index_elements=[target.key], set_=refreshed)


def _ids_of(db: Session, table: Table, key: str, keys: list[Any]) -> dict[Any, int]:
    if not keys:
        return {}
    query = select(table.c[key], table.c.id).where(_among(db, table.c[key], keys))
    return {key_value: row_id for key_value, row_id in db.execute(query)}
