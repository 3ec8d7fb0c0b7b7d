"""One deadline for the whole request (GATEWAY_REQUEST_DEADLINE_SECONDS): no call to
the database, the shared store or an outbound peer starts after it, a PostgreSQL
statement is cut off at it (not at its own, longer, statement_timeout), its 503 says
so, and what runs after the answer is made (saving the session) still runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask, jsonify, session
from prometheus_client import REGISTRY
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from gateway.core import db, deadline
from gateway.core.models import System
from gateway.core.outbound import OutboundError, outbound_session
from gateway.core.settings import Settings, SettingsError, load_settings
from gateway.core.store import StoreCommandTooSlow, get_store
from tests.conftest import DATABASE_URL, https_client, make_app
from tests.ops.redis_server import RedisServer, running_redis
from tests.ops.test_dependency_faults import answer_within
from tests.world import World

DEADLINE = 0.6  # GATEWAY_REQUEST_DEADLINE_SECONDS of the slow-request tests
STATEMENT_TIMEOUT = 5.0  # the configured statement deadline, far longer
SLOW_SECONDS = 2.0  # a statement that ends well within STATEMENT_TIMEOUT, past DEADLINE
DETAIL = "This took longer than it should."

needs_postgresql = pytest.mark.skipif(
    not DATABASE_URL, reason="only PostgreSQL has statement timeouts to lower"
)


def past_deadline(part: str) -> float:
    return REGISTRY.get_sample_value("gateway_requests_past_deadline_total", {"part": part}) or 0.0


def dependency_errors(part: str) -> float:
    return REGISTRY.get_sample_value("gateway_dependency_errors_total", {"part": part}) or 0.0


def test_outside_a_request_nothing_is_capped() -> None:
    assert deadline.remaining() is None and not deadline.passed()
    assert deadline.capped(5.0) == 5.0
    with deadline.request_deadline(2.0):
        left = deadline.remaining()
        assert left is not None and 0 < left <= 2.0
        assert 0 < deadline.capped(5.0) <= 2.0 and deadline.capped(0.5) == 0.5
        deadline.answer_made()
        assert deadline.remaining() is None
    with deadline.request_deadline(0):
        assert deadline.passed() and deadline.capped(5.0) == 0.0
    assert deadline.remaining() is None


def test_a_deadline_no_longer_than_the_queue_wait_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="GATEWAY_REQUEST_DEADLINE_SECONDS"):
        load_settings(queue_seconds=2.0, request_deadline_seconds=2.0, secret_key="k" * 48)


def test_no_statement_starts_after_the_deadline(app: Flask, world: World) -> None:
    engine = db.engine_of(app)
    started: list[str] = []

    def count(*args: Any) -> None:
        started.append(args[2])

    event.listen(engine, "after_cursor_execute", count)
    try:
        with app.test_request_context("/"):
            with deadline.request_deadline(0), pytest.raises(deadline.RequestTooSlow) as refused:
                db.read_row(select(System.key).limit(1), {})
            assert refused.value.part == "database"
            with deadline.request_deadline(0), pytest.raises(deadline.RequestTooSlow):
                db.get_session().execute(select(System.key))
            assert started == []
            # With time left, the same read runs.
            with deadline.request_deadline(10):
                assert db.read_row(select(System.key).limit(1), {}) is not None
            assert len(started) == 1
    finally:
        event.remove(engine, "after_cursor_execute", count)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path) as server:
        yield server


def test_no_redis_command_starts_after_the_deadline(
    settings: Settings, own_redis: RedisServer
) -> None:
    app = make_app(settings.model_copy(update={"redis_url": own_redis.url}))
    try:
        with app.test_request_context("/"):
            store = get_store(app)
            store.set("before", "1")
            with deadline.request_deadline(0), pytest.raises(StoreCommandTooSlow):
                store.set("after", "1")
            # To the store's callers it is a store that timed out (they fail closed).
            with deadline.request_deadline(0), pytest.raises(redis.TimeoutError):
                store.get("before")
            assert store.get("after") is None and store.get("before") == b"1"
    finally:
        db.engine_of(app).dispose()


def test_no_outbound_request_waits_past_the_deadline() -> None:
    with (
        closing(outbound_session(deadline_seconds=5.0)) as peer,
        deadline.request_deadline(0),
        pytest.raises(OutboundError, match="deadline passed"),
    ):
        peer.get("http://127.0.0.1:9/never-asked")


def slow_app(settings: Settings, **update: object) -> Flask:
    """The gateway with routes of this test's own: a statement that outlasts the request's
    deadline (but not the statement deadline), the server's statement_timeout, and a
    session write made after the deadline has passed."""
    limits = {
        "queue_seconds": 0.1,
        "request_deadline_seconds": DEADLINE,
        "database_statement_timeout_seconds": STATEMENT_TIMEOUT,
        **update,
    }
    app = make_app(settings.model_copy(update=limits))

    def slow() -> str:
        db.get_session().execute(text("SELECT pg_sleep(:s)"), {"s": SLOW_SECONDS})
        return "finished"

    def statement_timeout() -> Any:
        return jsonify(db.get_session().scalar(text("SHOW statement_timeout")))

    def late_answer() -> str:
        # The view spends its whole deadline on work of its own, then answers.
        session["made_late"] = "yes"
        time.sleep(max(0.0, deadline.remaining() or 0.0) + 0.01)
        assert deadline.passed()
        return "answered"

    def read_back() -> Any:
        return jsonify(session.get("made_late"))

    app.add_url_rule("/test/slow", "slow", slow)
    app.add_url_rule("/test/statement-timeout", "statement_timeout", statement_timeout)
    app.add_url_rule("/test/late-answer", "late_answer", late_answer)
    app.add_url_rule("/test/read-back", "read_back", read_back)
    return app


@needs_postgresql
def test_a_statement_is_cut_off_at_the_request_deadline(settings: Settings) -> None:
    app = slow_app(settings)
    before = (past_deadline("database"), dependency_errors("database"))
    try:
        client = https_client(app)
        # Without the request deadline the statement ends within its own and answers 200.
        reply = answer_within(SLOW_SECONDS, lambda: client.get("/test/slow"))
        assert reply.status_code == 503
        assert DETAIL in reply.get_data(as_text=True)
        # Counted as a late request, not as the database being down.
        assert (past_deadline("database"), dependency_errors("database")) == (
            before[0] + 1,
            before[1],
        )
        # Every pooled connection has the configured deadline back for the next request.
        engine = db.engine_of(app)
        pooled = [engine.connect() for _ in range(engine.pool.checkedin())]
        try:
            assert pooled
            for connection in pooled:
                timeout = connection.execute(text("SHOW statement_timeout")).scalar()
                assert timeout == f"{STATEMENT_TIMEOUT:g}s"
        finally:
            for connection in pooled:
                connection.close()
        # A request with less time left than that runs its statements with what is left.
        lowered = client.get("/test/statement-timeout").get_json()
        assert lowered.endswith("ms") and int(lowered.removesuffix("ms")) <= DEADLINE * 1000
    finally:
        db.engine_of(app).dispose()


@needs_postgresql
def test_a_lowered_timeout_is_known_to_be_undone_with_its_transaction(settings: Settings) -> None:
    """The server undoes a SET with the transaction that rolls back; the gateway must
    know it, or a later request's statement would run to the configured deadline."""
    app = slow_app(settings)
    sleep = text("SELECT pg_sleep(:s)").bindparams(s=SLOW_SECONDS)
    try:
        with db.engine_of(app).connect() as connection:
            with deadline.request_deadline(1.0):
                connection.execute(text("SELECT 1"))  # lowered to about 1 s, in the transaction
            connection.rollback()
            with deadline.request_deadline(1.1), pytest.raises(OperationalError):
                connection.execute(sleep)  # needs lowering again: the server is back at 5 s
            connection.rollback()
    finally:
        db.engine_of(app).dispose()


@needs_postgresql
def test_a_lowered_timeout_outside_a_transaction_stays_until_raised(settings: Settings) -> None:
    app = slow_app(settings)
    try:
        reads = db.engine_of(app).execution_options(isolation_level="AUTOCOMMIT")
        with reads.connect() as connection:
            with deadline.request_deadline(1.0):
                lowered = connection.execute(text("SHOW statement_timeout")).scalar()
            assert lowered != f"{STATEMENT_TIMEOUT:g}s"
            connection.rollback()  # nothing for the server to undo in autocommit
            raised = connection.execute(text("SHOW statement_timeout")).scalar()
            assert raised == f"{STATEMENT_TIMEOUT:g}s"
    finally:
        db.engine_of(app).dispose()


def test_the_session_is_saved_when_the_answer_was_made_in_time(
    settings: Settings, own_redis: RedisServer
) -> None:
    """The deadline refuses work before the answer, not the session write after it: a
    sign-in that made its answer must not lose its session."""
    app = slow_app(settings, redis_url=own_redis.url)
    try:
        client = https_client(app)
        assert client.get("/test/late-answer").get_data(as_text=True) == "answered"
        assert client.get("/test/read-back").get_json() == "yes"
    finally:
        db.engine_of(app).dispose()


def test_a_request_that_reaches_the_store_after_its_deadline_gets_the_deadline_503(
    settings: Settings, own_redis: RedisServer
) -> None:
    app = slow_app(settings, redis_url=own_redis.url)

    def store_after_deadline() -> str:
        time.sleep(max(0.0, deadline.remaining() or 0.0) + 0.01)
        get_store().get("anything")
        return "unreachable"

    app.add_url_rule("/test/store-late", "store_late", store_after_deadline)
    before = (past_deadline("redis"), dependency_errors("redis"))
    try:
        client = https_client(app)
        reply = client.get("/test/store-late", headers={"Accept": "application/json"})
        assert reply.status_code == 503 and reply.mimetype == "application/problem+json"
        assert DETAIL in reply.get_json()["detail"]
        assert (past_deadline("redis"), dependency_errors("redis")) == (before[0] + 1, before[1])
        assert client.get("/healthz").status_code == 200
    finally:
        db.engine_of(app).dispose()
