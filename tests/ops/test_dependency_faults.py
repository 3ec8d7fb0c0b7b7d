"""When Redis or PostgreSQL misbehave the gateway fails closed and keeps answering:
its own 503 (a page for people, problem+json for the IT API and SCIM) within short
deadlines, /healthz at once, /readyz naming what is down.

"Down" is a closed loopback port; "paused" is a redis-server of our own stopped with
SIGSTOP (and always let go in a finally); a held lock is a second PostgreSQL
connection holding LOCK TABLE in an open transaction."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core import db
from gateway.core.api_tokens import TOKEN_PREFIX, create_token
from gateway.core.extensions import limiter
from gateway.core.models import AuditEvent, System
from gateway.core.secret_keys import secret_keys
from gateway.core.settings import Settings
from tests.conftest import BASE_URL, DATABASE_URL, https_client, make_app
from tests.it_console import ACTOR, NOW, bearer
from tests.ops.redis_server import RedisServer, free_port, running_redis
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

SESSION_COOKIE = "switchyard_session"
TITLE = "Service temporarily unavailable"
REDIS_TIMEOUT = 0.3  # GATEWAY_REDIS_TIMEOUT_SECONDS of the paused-Redis tests
LOCK_TIMEOUT = 0.5  # GATEWAY_DATABASE_LOCK_TIMEOUT_SECONDS of the held-lock test


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path) as server:
        yield server


def answer_within(bound: float, request: Callable[[], TestResponse]) -> TestResponse:
    """`request`'s answer, which must come within `bound` seconds: the test never waits
    longer than that on a gateway that hangs (the thread is let go with the server)."""
    answers: list[TestResponse] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            answers.append(request())
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=bound)
    took = time.monotonic() - started
    assert not worker.is_alive(), f"no answer within {bound} s"
    if errors:
        raise errors[0]
    assert took < bound
    return answers[0]


def with_session_cookie(client: FlaskClient) -> FlaskClient:
    client.set_cookie(SESSION_COOKIE, "a-session-id-from-an-earlier-visit", domain="sso.test")
    return client


def assert_gateway_503(reply: TestResponse, *, machine: bool, part: str) -> None:
    """The gateway's own 503 (not a bare server error), naming what is not answering."""
    assert reply.status_code == 503
    if machine:
        assert reply.mimetype == "application/problem+json"
        document = reply.get_json()
        assert document["title"] == TITLE
        assert part in document["detail"]
    else:
        assert reply.mimetype == "text/html"
        page = reply.get_data(as_text=True)
        assert TITLE in page
        assert part in page


@pytest.fixture
def app_without_redis(settings: Settings) -> Iterator[Flask]:
    app = make_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
    yield app
    db.engine_of(app).dispose()


@pytest.mark.parametrize("cookie", [False, True], ids=["no cookie", "session cookie"])
def test_redis_down_every_answer_is_the_gateways_own(
    app_without_redis: Flask, cookie: bool
) -> None:
    client = app_without_redis.test_client()
    if cookie:
        with_session_cookie(client)
    assert client.get("/healthz", base_url=BASE_URL).get_json() == {"status": "ok"}
    ready = client.get("/readyz", base_url=BASE_URL)
    assert ready.status_code == 503
    assert set(ready.get_json()["failing"]) == {"redis"}
    assert_gateway_503(client.get("/login", base_url=BASE_URL), machine=False, part="session store")
    for machine_path in ("/api/v1/product-lines", "/scim/v2/Users"):
        if cookie:  # without a session, the bearer-token APIs need no store to refuse
            reply = client.get(machine_path, base_url=BASE_URL)
            assert_gateway_503(reply, machine=True, part="session store")


def test_readyz_names_redis_when_it_is_down(app_without_redis: Flask) -> None:
    reply = app_without_redis.test_client().get("/readyz", base_url=BASE_URL)
    assert reply.status_code == 503
    assert reply.get_json() == {"status": "unavailable", "failing": {"redis": "ConnectionError"}}


@pytest.fixture
def app_on_own_redis(settings: Settings, own_redis: RedisServer) -> Iterator[Flask]:
    update = {"redis_url": own_redis.url, "redis_timeout_seconds": REDIS_TIMEOUT}
    app = make_app(settings.model_copy(update=update))
    yield app
    db.engine_of(app).dispose()


def test_redis_paused_every_answer_comes_within_the_deadline(
    app_on_own_redis: Flask, own_redis: RedisServer
) -> None:
    signed_out, returning = https_client(app_on_own_redis), https_client(app_on_own_redis)
    with_session_cookie(returning)
    assert returning.get("/healthz").status_code == 200  # connections pooled before the pause
    # One deadline per Redis command and no retry after a timeout: well under a second.
    bound = 4 * REDIS_TIMEOUT
    with own_redis.paused():
        for client in (signed_out, returning):
            reply = answer_within(0.2, lambda c=client: c.get("/healthz"))  # type: ignore[misc]
            assert reply.get_json() == {"status": "ok"}
            ready = answer_within(bound, lambda c=client: c.get("/readyz"))  # type: ignore[misc]
            assert ready.status_code == 503
            assert ready.get_json()["failing"] == {"redis": "TimeoutError"}
        # The rate limiter counts sign-ins in Redis: its client has the deadline too.
        reply = answer_within(bound, lambda: signed_out.get("/login"))
        assert_gateway_503(reply, machine=False, part="session store")
        # The session of a returning visitor is read from Redis.
        reply = answer_within(bound, lambda: returning.get("/api/v1/product-lines"))
        assert_gateway_503(reply, machine=True, part="session store")
    # Let go, it answers again at once.
    assert signed_out.get("/readyz").get_json() == {"status": "ok"}


def lock_holder(app: Flask) -> Engine:
    """A second client of the app's database, which never waits long for its own lock."""
    url = db.database_url_of(app.extensions["settings"])
    return create_engine(url, connect_args={"options": "-c lock_timeout=5000"})


needs_postgresql = pytest.mark.skipif(
    not DATABASE_URL, reason="statement and lock timeouts are PostgreSQL's (SQLite has none)"
)


@needs_postgresql
@pytest.mark.parametrize("settings_overrides", [{"database_lock_timeout_seconds": LOCK_TIMEOUT}])
def test_a_held_lock_is_a_clear_503_within_the_lock_timeout(
    app: Flask, idp: PortalIdP, world: World, dbs: Session
) -> None:
    hash_key = secret_keys(app).api_token
    support_token = create_token(
        dbs, "support", ["support:read"], actor=ACTOR, now=NOW, hash_key=hash_key
    ).secret
    client = https_client(app)
    sign_in(client, idp, email="pat@ready.example", account="100001")
    assert client.get("/").status_code in (200, 302)
    holder = lock_holder(app)
    try:
        with holder.connect() as connection:
            connection.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            # The routed request reads its user: it waits for the lock, then gives up.
            reply = answer_within(2 * LOCK_TIMEOUT + 1, lambda: client.get("/"))
            assert_gateway_503(reply, machine=False, part="database")
            # IT's route trace reads users too.
            trace = {"path": "/api/v1/route-trace", "query_string": {"q": "pat@ready.example"}}
            reply = answer_within(
                2 * LOCK_TIMEOUT + 1, lambda: client.get(**trace, headers=bearer(support_token))
            )
            assert_gateway_503(reply, machine=True, part="database")
            # Neither probe reads a table: both answer at once.
            assert answer_within(0.5, lambda: client.get("/healthz")).status_code == 200
            assert answer_within(0.5, lambda: client.get("/readyz")).status_code == 200
            connection.rollback()
    finally:
        holder.dispose()
    assert client.get("/").status_code in (200, 302)  # the lock gone, it is served again


@needs_postgresql
@pytest.mark.parametrize("settings_overrides", [{"database_lock_timeout_seconds": LOCK_TIMEOUT}])
def test_a_change_that_times_out_is_not_half_applied(
    app: Flask, world: World, dbs: Session
) -> None:
    hash_key = secret_keys(app).api_token
    token = create_token(
        dbs, "release", ["rollout:write"], actor=ACTOR, now=NOW, hash_key=hash_key
    ).secret
    audited = dbs.scalar(select(func.count()).select_from(AuditEvent))
    dbs.rollback()  # its read lock would keep the LOCK TABLE below waiting
    client = https_client(app)
    change = {"down": True, "reason": "Planned upgrade of the new license center"}
    holder = lock_holder(app)
    try:
        with holder.connect() as connection:
            # The switch itself can be written; its audit record waits for the lock.
            connection.execute(text("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE"))
            reply = answer_within(
                2 * LOCK_TIMEOUT + 1,
                lambda: client.post(
                    "/api/v1/systems/new/maintenance", json=change, headers=bearer(token)
                ),
            )
            assert_gateway_503(reply, machine=True, part="database")
            connection.rollback()
    finally:
        holder.dispose()
    dbs.expire_all()
    assert dbs.scalar(select(System.maintenance).where(System.key == "new")) is False
    assert dbs.scalar(select(func.count()).select_from(AuditEvent)) == audited


STATEMENT_TIMEOUT = 0.3


@needs_postgresql
@pytest.mark.parametrize(
    "settings_overrides", [{"database_statement_timeout_seconds": STATEMENT_TIMEOUT}]
)
def test_only_requests_have_the_statement_deadline(app: Flask) -> None:
    """A request's statement ends at the deadline; the same statement in background work
    or a command (db.new_session: a full load, an import) runs to its end."""
    slow = text("SELECT pg_sleep(:seconds)").bindparams(seconds=3 * STATEMENT_TIMEOUT)
    with (
        app.test_request_context("/"),
        pytest.raises(OperationalError, match="statement timeout"),
    ):
        db.get_session().execute(slow)
    with closing(db.new_session(app)) as background:
        background.execute(slow)  # no deadline
        background.commit()
        background.execute(slow)  # nor in its next transaction


@needs_postgresql
@pytest.mark.parametrize("settings_overrides", [{"database_pool_timeout_seconds": 0.5}])
def test_a_full_pool_is_a_clear_503_within_the_pool_timeout(app: Flask) -> None:
    """Every pooled connection taken (10, plus 10 more): a request waits for one at most
    GATEWAY_DATABASE_POOL_TIMEOUT_SECONDS, then answers 503."""
    engine = db.engine_of(app)
    held = [engine.connect() for _ in range(20)]
    try:
        client = https_client(app)
        reply = answer_within(2.0, lambda: client.get("/readyz"))
        assert reply.status_code == 503
        assert reply.get_json()["failing"] == {"database": "TimeoutError"}
        # A bearer token is looked up in the database: no connection, no answer but 503.
        token = bearer(f"{TOKEN_PREFIX}not-a-token-but-it-must-be-looked-up")
        reply = answer_within(2.0, lambda: client.get("/api/v1/product-lines", headers=token))
        assert_gateway_503(reply, machine=True, part="database")
        assert answer_within(0.5, lambda: client.get("/healthz")).status_code == 200
    finally:
        for connection in held:
            connection.close()
    assert https_client(app).get("/readyz").status_code == 200


def dependency_errors() -> float:
    return REGISTRY.get_sample_value("gateway_dependency_errors_total", {"part": "database"}) or 0.0


def database_refusal_app(settings: Settings) -> Flask:
    """The gateway with two routes of this test's own, whose statements the database
    refuses for what they hold: a value it cannot read as its type, a duplicate key."""
    app = make_app(settings)

    def out_of_range() -> str:
        if not DATABASE_URL:
            # SQLite stores any value in any column; its driver's one DataError (a value
            # past SQLite's length limit) would need a gigabyte, so raise what it wraps.
            raise DataError("SELECT ?", ("…",), sqlite3.DataError("string or blob too big"))
        db.get_session().execute(text("SELECT CAST(:value AS integer)"), {"value": "ten"})
        return "unreachable"

    def duplicate() -> str:
        session = db.get_session()
        taken = session.scalars(select(System.key)).first()
        session.add(System(key=taken, name="copy", entry_url="https://copy.example/"))
        session.commit()
        return "unreachable"

    app.add_url_rule("/test/out-of-range", "out_of_range", out_of_range)
    app.add_url_rule("/test/duplicate", "duplicate", duplicate)
    return app


@pytest.mark.parametrize(
    ("path", "status", "event"),
    [
        ("/test/out-of-range", 400, "request.value_refused"),
        ("/test/duplicate", 409, "request.conflict"),
    ],
    ids=["value out of range", "duplicate key"],
)
def test_a_database_refusal_of_the_request_is_not_a_dependency_down(
    settings: Settings,
    world: World,
    dbs: Session,
    path: str,
    status: int,
    event: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only an unreachable or silent server is "down" (503, counted, readiness); a value
    the database refuses is the request's 4xx, logged, with the server still ready."""
    app = database_refusal_app(settings)
    try:
        client = https_client(app)
        before = dependency_errors()
        reply = client.get(path, headers={"Accept": "application/json"})
        assert reply.status_code == status
        assert reply.mimetype == "application/problem+json"
        assert "not answering" not in reply.get_json()["detail"]
        assert client.get("/readyz").status_code == 200
        assert dependency_errors() == before
        refused = [r for r in caplog.records if getattr(r, "event", "") == event]
        assert refused and refused[-1].levelname == "WARNING"
        dbs.expire_all()
        assert (
            dbs.scalar(select(func.count()).select_from(System).where(System.name == "copy")) == 0
        )
    finally:
        db.engine_of(app).dispose()


def test_the_store_failing_after_the_view_keeps_its_answer(
    settings: Settings, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis dies after a rate-limited view has answered (a sign-in, at the moment of an
    outage): flask-limiter's headers, read from Redis after the view, are left out; the
    answer is not turned into a 500. Found by the Redis-killed resilience scenario."""
    update = {"redis_url": own_redis.url, "redis_timeout_seconds": REDIS_TIMEOUT}
    app = make_app(settings.model_copy(update=update))

    @limiter.limit("1000/minute")
    def limited_then_store_gone() -> str:
        own_redis.process.kill()
        own_redis.process.wait(timeout=10)
        return "made"

    app.add_url_rule("/test/limited", "limited_then_store_gone", limited_then_store_gone)
    try:
        reply = https_client(app).get("/test/limited")
        assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
        assert reply.get_data(as_text=True) == "made"
        assert "X-RateLimit-Limit" not in reply.headers
        events = [getattr(r, "event", "") for r in caplog.records]
        assert "ratelimit.headers_unavailable" in events
    finally:
        db.engine_of(app).dispose()


def test_the_limit_headers_are_there_while_the_store_answers(
    settings: Settings, own_redis: RedisServer
) -> None:
    update = {"redis_url": own_redis.url, "redis_timeout_seconds": REDIS_TIMEOUT}
    app = make_app(settings.model_copy(update=update))

    @limiter.limit("1000/minute")
    def limited() -> str:
        return "made"

    app.add_url_rule("/test/limited-ok", "limited", limited)
    try:
        reply = https_client(app).get("/test/limited-ok")
        assert reply.status_code == 200
        assert reply.headers["X-RateLimit-Limit"] == "1000"
    finally:
        db.engine_of(app).dispose()
