"""Change announcement: a committed write to what routing reads moves the shared
configuration version, so every worker and instance reloads on its next request.

Nobody calls this by hand. The database sessions of an app carry its store; a
SQLAlchemy event notes every flush or bulk statement that touches a watched table, and
another increments the version once the transaction has committed (never before: a
worker that reloads must see the change). A rolled-back transaction announces nothing.
Capabilities name the tables they cache with `watch` when they start.

    watch(app, {"product_lines", "systems"})
    db.add(line); db.commit()        # → the version moves by one
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, g, has_app_context
from sqlalchemy import Delete, Insert, Update, event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from gateway.core.store import Store

VERSION_KEY = "routing:config:version"
_STORE = "announce_store"
_WATCHED = "announce_tables"
_CHANGED = "announce_changed"


_PREFETCHED = "announce_prefetched_version"


def current_version(store: Store) -> int:
    """The configuration version all instances agree on (0 before the first change).

    A request's first call may take the version its session check read moments ago in
    the same round trip (prefetched); later calls read it again, so a change this
    request commits is seen by what it reads afterwards."""
    raw = g.pop(_PREFETCHED, None) if has_app_context() else None
    if raw is None:
        raw = store.get(VERSION_KEY)
    return int(raw) if raw is not None else 0


def prefetched(raw: bytes | str | None) -> None:
    """The version as just read alongside other keys (None: no change announced yet)."""
    g.setdefault(_PREFETCHED, raw if raw is not None else b"0")


def announce(store: Store) -> int:
    """Move the version now: for changes that are not database writes (a probe result)."""
    return int(store.incr(VERSION_KEY))


def init_app(app: Flask, store: Store) -> None:
    """Give the app's database sessions its store and the set of watched tables."""
    watched: set[str] = app.extensions.setdefault(_WATCHED, set())
    app.extensions["db_sessions"].configure(info={_STORE: store, _WATCHED: watched})


def watch(app: Flask, tables: Iterable[str]) -> None:
    """Announce commits that write any of `tables` (their names in the database)."""
    app.extensions.setdefault(_WATCHED, set()).update(tables)


def _watched(session: Session) -> set[str]:
    tables: set[str] = session.info.get(_WATCHED, set())
    return tables


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    tables = _watched(session)
    if not tables or session.info.get(_CHANGED):
        return
    for instance in (*session.new, *session.dirty, *session.deleted):
        table = getattr(instance, "__tablename__", None)
        if table in tables:
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    """Bulk INSERT/UPDATE/DELETE (imports, upserts) bypass the flush."""
    statement: Any = state.statement
    if isinstance(statement, Insert | Update | Delete):
        table = getattr(statement.table, "name", None)
        if table in _watched(state.session):
            state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _announce_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        store: Store | None = session.info.get(_STORE)
        if store is not None:
            announce(store)


@event.listens_for(Session, "after_rollback")
def _forget_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
