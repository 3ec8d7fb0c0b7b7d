"""The database engine, the per-request session, Alembic migrations, and where the
database lives when GATEWAY_DATABASE_URL is unset."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, g
from sqlalchemy import Engine, Row, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import Executable

from gateway.core import deadline
from gateway.core.settings import Settings

if TYPE_CHECKING:
    # Alembic (8 MB of a worker's memory) is imported only by what migrates or checks
    # the schema: commands, never a worker serving requests.
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Pooled PostgreSQL connections are replaced after this long (see make_engine).
RECYCLE_SECONDS = 900
# The driver could not connect or talk to the server (a failing migration is a bug, not this).
CONNECTION_ERRORS = (OperationalError, InterfaceError)
log = logging.getLogger(__name__)


class DatabaseNotReady(Exception):
    """The database cannot be reached, or its schema is not the one this code needs."""


def data_home() -> Path:
    """The per-user data folder (XDG_DATA_HOME, else ~/.local/share) for Switchyard: it
    outlives reinstalls of the package and of its virtualenv."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "switchyard"


def database_url_of(settings: Settings) -> str:
    """GATEWAY_DATABASE_URL, or a SQLite file in the per-user data folder (said in the log)."""
    if settings.database_url:
        return settings.database_url
    path = data_home() / "gateway.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info(
        "GATEWAY_DATABASE_URL is not set: using SQLite at %s",
        path,
        extra={"event": "db.default_sqlite", "path": str(path)},
    )
    return f"sqlite:///{path}"


def describe(url: str) -> str:
    """`url` for messages: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def where(url: str) -> str:
    """Where `url`'s database is, for messages: host:port, or the SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


@dataclass(frozen=True)
class DatabaseLimits:
    """How long PostgreSQL work may wait before it fails (a 503 for a request) rather
    than hold a worker thread: connecting, a pooled connection, a statement, a lock.
    A limit of None or 0 is no limit. SQLite has none of these (its busy timeout, 30 s,
    is the one wait it knows)."""

    connect_seconds: int | None = None
    pool_seconds: float | None = None
    statement_seconds: float | None = None
    lock_seconds: float | None = None

    @classmethod
    def of(cls, settings: Settings) -> DatabaseLimits:
        return cls(
            settings.database_connect_timeout_seconds,
            settings.database_pool_timeout_seconds,
            settings.database_statement_timeout_seconds,
            settings.database_lock_timeout_seconds,
        )

    def connect_args(self) -> dict[str, Any]:
        """libpq parameters: connect_timeout, and the two deadlines as server settings
        of every connection (`options`, so they cost no round trip)."""
        args: dict[str, Any] = {}
        if self.connect_seconds:
            args["connect_timeout"] = self.connect_seconds
        options = [
            f"-c {name}={round(seconds * 1000)}"
            for name, seconds in (
                ("statement_timeout", self.statement_seconds),
                ("lock_timeout", self.lock_seconds),
            )
            if seconds
        ]
        if options:
            args["options"] = " ".join(options)
        return args

    def unhurried(self) -> DatabaseLimits:
        """The same without the statement and lock deadlines: for long work no request
        waits on (a full load, an import, a run waiting for another's lock)."""
        return DatabaseLimits(self.connect_seconds, self.pool_seconds)


def make_engine(
    url: str, limits: DatabaseLimits | None = None, *, pool_size: int = 10, max_overflow: int = 10
) -> Engine:
    """An engine tuned for its backend: pooled PostgreSQL (with `limits`, when given),
    or SQLite with FKs enforced."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    limits = limits or DatabaseLimits()
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping: it costs a SELECT 1 round trip at every checkout, on every request.
        # A connection the database dropped (a restart) fails its first statement
        # instead; SQLAlchemy then discards the whole pool, and routing's read tries
        # once more on a fresh connection (read_row). Recycling connections idle
        # for a quarter of an hour keeps firewalls and poolers from dropping them first.
        pool_pre_ping=False,
        pool_recycle=RECYCLE_SECONDS,
        pool_timeout=limits.pool_seconds or 30,  # SQLAlchemy's default
        connect_args=limits.connect_args(),
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def init_app(app: Flask, url: str, limits: DatabaseLimits | None = None) -> None:
    """Create the engines once and close each request's session when the request ends.

    Requests get `limits`. Background work and commands (new_session) get an engine of
    their own without the statement and lock deadlines, rather than a SET LOCAL round
    trip per transaction; it is disposed of with the requests' engine. The hot path's
    single reads (read_row) get the requests' engine in autocommit."""
    engine = make_engine(url, limits)
    keep_statements_within_the_request_deadline(engine, limits)
    app.extensions["db_engine"] = engine
    background: Engine = engine
    if limits is not None and engine.dialect.name == "postgresql":
        background = make_engine(url, limits.unhurried(), pool_size=2, max_overflow=8)
        event.listen(engine, "engine_disposed", lambda _engine: background.dispose())
    app.extensions["db_background_engine"] = background
    # The requests' pool, so a connection the database dropped (a restart) found by a
    # single read renews the pool for every request after it.
    reads = engine.execution_options(isolation_level="AUTOCOMMIT")
    app.extensions["db_reads_engine"] = reads
    app.extensions["db_sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["db_read_sessions"] = sessionmaker(reads)
    app.teardown_appcontext(_close_session)


# conn.info: the statement_timeout (ms) this connection's server session has now, when
# it differs from the configured one, and what it was before a transaction changed it.
LOWERED_MS, BEFORE_TRANSACTION_MS = "statement_timeout_ms", "statement_timeout_before_ms"
# A lowered timeout stricter than the time left by more than this is raised again.
TIMEOUT_SLACK_MS = 250


def keep_statements_within_the_request_deadline(
    engine: Engine, limits: DatabaseLimits | None
) -> None:
    """No statement of a request starts after its deadline (gateway.core.deadline), and
    on PostgreSQL none runs past it: when less time is left than the configured
    statement_timeout, the connection's is lowered to what is left first (one SET, paid
    only by a request already that late). The next request that has the time raises it
    again. A SET inside a transaction that rolls back is undone by the server, so what
    this connection believes is put back too."""
    configured_ms = (
        round(limits.statement_seconds * 1000) if limits and limits.statement_seconds else 0
    )
    lowers = configured_ms > 0 and engine.dialect.name == "postgresql"

    @event.listens_for(engine, "before_cursor_execute")
    def _within_deadline(
        conn: Any, cursor: Any, _statement: str, _parameters: Any, _context: Any, _many: bool
    ) -> None:
        left = deadline.remaining()
        if left is not None and left <= 0:
            raise deadline.RequestTooSlow("database")
        if not lowers:
            return
        wanted = configured_ms if left is None else min(configured_ms, math.ceil(left * 1000))
        now = conn.info.get(LOWERED_MS, configured_ms)
        if wanted - TIMEOUT_SLACK_MS <= now <= wanted:
            return  # the ordinary request: nothing to change
        cursor.execute(f"SET statement_timeout = {int(wanted)}")
        if not conn.connection.dbapi_connection.autocommit:
            conn.info.setdefault(BEFORE_TRANSACTION_MS, now)
        conn.info[LOWERED_MS] = wanted

    # A connection the database dropped has no info left to keep: its replacement
    # starts with the configured deadline (and asking would raise).
    @event.listens_for(engine, "commit")
    def _kept(conn: Any) -> None:
        if not conn.invalidated:
            conn.info.pop(BEFORE_TRANSACTION_MS, None)

    @event.listens_for(engine, "rollback")
    def _undone(conn: Any) -> None:
        if not conn.invalidated and BEFORE_TRANSACTION_MS in conn.info:
            conn.info[LOWERED_MS] = conn.info.pop(BEFORE_TRANSACTION_MS)


def engine_of(app: Flask) -> Engine:
    """The requests' engine (background work has its own: engines_of)."""
    engine: Engine = app.extensions["db_engine"]
    return engine


def engines_of(app: Flask) -> list[Engine]:
    """Every engine of `app`: the requests' and, on PostgreSQL, background work's."""
    engines: list[Engine] = [app.extensions["db_engine"], app.extensions["db_background_engine"]]
    return engines[:1] if engines[0] is engines[1] else engines


def get_read_session() -> Session:
    """The current request's session for reads that each stand alone (routing's): in
    autocommit, so no BEGIN and ROLLBACK round trips, and holding no connection until
    its first statement (routing's inputs usually come from caches). It cannot write:
    an ORM flush in it fails (_refuse_autocommit_flush)."""
    from flask import current_app

    if "db_read_session" not in g:
        sessions: sessionmaker[Session] = current_app.extensions["db_read_sessions"]
        g.db_read_session = sessions()
    session: Session = g.db_read_session
    return session


def read_row(statement: Executable, parameters: dict[str, Any]) -> Row[Any] | None:
    """The one row (or none) of a read-only `statement`, in the current request, on a
    connection that is in autocommit and goes back to its pool at once.

    For the reads of nearly every request (the signed-in user): no ORM session and no
    BEGIN/ROLLBACK round trips (docs/performance.md has what it saves). When its pooled
    connection was dead (the database restarted since it was opened), it runs once more
    on a fresh one: what pool_pre_ping would do, without its round trip on every request."""
    from flask import current_app

    reads: Engine = current_app.extensions["db_reads_engine"]
    try:
        return _one_row(reads, statement, parameters)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        return _one_row(reads, statement, parameters)


def _one_row(engine: Engine, statement: Executable, parameters: dict[str, Any]) -> Row[Any] | None:
    with engine.connect() as connection:
        row: Row[Any] | None = connection.execute(statement, parameters).one_or_none()
        return row


def new_session(app: Flask) -> Session:
    """A fresh session outside any request (CLI commands, background work): its
    statements and lock waits have no deadline."""
    sessions: sessionmaker[Session] = app.extensions["db_sessions"]
    return sessions(bind=app.extensions["db_background_engine"])


def get_session() -> Session:
    """The current request's session, opened on first use; its statements and lock
    waits have the deadlines of DatabaseLimits."""
    from flask import current_app

    if "db_session" not in g:
        sessions: sessionmaker[Session] = current_app.extensions["db_sessions"]
        g.db_session = sessions()
    session: Session = g.db_session
    return session


def single_statements(db: Session) -> Session:
    """Run `db`'s current transaction in autocommit, for a request whose statements
    each stand alone (the sign-in UPDATE, routing's reads). It saves the BEGIN and the
    COMMIT or ROLLBACK round trips the driver adds around them: two of a routing
    request's three round trips to PostgreSQL. It lasts until the transaction ends
    (commit, rollback, close); the next one is an ordinary transaction again.

    Call it before the transaction's first statement; after that it would change
    nothing, so it then leaves the transaction as it is.
    """
    if not db.in_transaction():
        db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return db


def _in_autocommit(db: Session) -> bool:
    return bool(
        db.in_transaction()
        and db.connection().get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    )


def one_transaction(db: Session) -> Session:
    """End a single_statements() stretch, if one is open, so that the writes which follow
    commit or roll back together. Call it before writing in a request that may have
    read the signed-in user the fast way (current_signed_in_user)."""
    if _in_autocommit(db):
        db.commit()
    return db


@event.listens_for(Session, "before_flush")
def _refuse_autocommit_flush(db: Session, _context: object, _instances: object) -> None:
    """An ORM write inside single_statements() would commit statement by statement, so a
    refused or failed change could not be rolled back: a bug, said loudly."""
    if _in_autocommit(db):
        raise RuntimeError("ORM write in an autocommit stretch: call db.one_transaction() first")


def _close_session(_exc: BaseException | None) -> None:
    for name in ("db_session", "db_read_session"):
        session: Session | None = g.pop(name, None)
        if session is not None:
            session.close()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations up to `revision`; DatabaseNotReady when unreachable."""
    from alembic import command

    try:
        command.upgrade(alembic_config(url), revision)
    except CONNECTION_ERRORS as error:
        raise unreachable(url, error) from None


def unreachable(url: str, error: DBAPIError) -> DatabaseNotReady:
    """The one-line reason a database could not be used, naming the setting."""
    reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
    return DatabaseNotReady(f"GATEWAY_DATABASE_URL: cannot use {describe(url)}: {reason}")


def require_current_schema(engine: Engine) -> None:
    """Raise DatabaseNotReady unless the database is migrated to this code's head."""
    from alembic.script import ScriptDirectory

    url = engine.url.render_as_string(hide_password=False)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    try:
        with engine.connect() as connection:
            current = (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if inspect(connection).has_table("alembic_version")
                else None
            )
    except CONNECTION_ERRORS as error:
        raise unreachable(url, error) from None
    if current != head:
        raise DatabaseNotReady(
            f"the database {describe(url)} is at revision {current or 'none'}, "
            f"this version needs {head}: run gateway db upgrade"
        )
