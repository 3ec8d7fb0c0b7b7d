"""A migration as customers live it: real signed sign-ins routed by each line state,
maintenance and status pages, counters, and a state change under load on two instances."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from gateway.core.models.base import utcnow
from gateway.core.settings import Settings
from gateway.core.store import Store
from gateway.migration import service
from gateway.routing import counters as metrics
from gateway.routing.decision import bucket
from gateway.systems import service as systems
from tests.conftest import _reset, https_client, make_app
from tests.forms import csrf_token
from tests.it_console import ACTOR
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

LEGACY = "legacy.licenses.test"
NEW = "new.licenses.test"


def lands(app: Flask, idp: PortalIdP, email: str, account: str) -> str:
    """Sign in with a fresh browser; the host handed off to, or our own page's path."""
    reply = sign_in(https_client(app), idp, email=email, account=account)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    parts = urlsplit(reply.location)
    return parts.netloc or parts.path


def change(dbs: Session, store: Store, state: str, percent: object = None) -> None:
    service.change_state(
        dbs, store, "NET", state, percent, reason="flow", actor=ACTOR, now=utcnow()
    )


def test_pilot_then_rollout_then_new_then_rollback(
    app: Flask, idp: PortalIdP, dbs: Session, store: Store, world: World
) -> None:
    service.set_pilot_accounts(
        dbs, store, "NET", add=["100001"], remove=[], reason="pilot", actor=ACTOR, now=utcnow()
    )
    change(dbs, store, "pilot")
    assert lands(app, idp, "pat@ready.example", "100001") == NEW
    assert lands(app, idp, "max@mixed.example", "100003") == LEGACY  # not in the pilot
    change(dbs, store, "rollout", "100")
    assert lands(app, idp, "max@mixed.example", "100003") == "/choose"  # NET new, CAD legacy
    assert lands(app, idp, "wes@waiting.example", "100002") == LEGACY  # waiting for data
    change(dbs, store, "new")
    assert lands(app, idp, "pat@ready.example", "100001") == NEW
    service.rollback(dbs, store, "NET", reason="incident", actor=ACTOR, now=utcnow())
    assert lands(app, idp, "pat@ready.example", "100001") == LEGACY


def test_rollout_follows_the_accounts_bucket(
    app: Flask, idp: PortalIdP, dbs: Session, store: Store, world: World
) -> None:
    place = bucket("NET", "100001")
    change(dbs, store, "rollout", f"{place / 100:.2f}")  # the bucket is not below its own value
    assert lands(app, idp, "pat@ready.example", "100001") == LEGACY
    change(dbs, store, "rollout", f"{(place + 1) / 100:.2f}")
    assert lands(app, idp, "pat@ready.example", "100001") == NEW


def test_maintenance_sends_people_elsewhere_or_to_a_status_page(
    app: Flask, idp: PortalIdP, dbs: Session, store: Store, world: World
) -> None:
    change(dbs, store, "new")
    systems.set_maintenance(dbs, store, "new", True, reason="upgrade", actor=ACTOR, now=utcnow())
    assert lands(app, idp, "pat@ready.example", "100001") == LEGACY  # legacy holds it too
    systems.set_maintenance(
        dbs,
        store,
        "legacy",
        True,
        reason="both",
        actor=ACTOR,
        now=utcnow(),
        customer_message="Back at 14:00 UTC.",
    )
    client = https_client(app)
    reply = sign_in(client, idp, email="oli@other.example", account="100004")
    assert reply.location == "/unavailable"
    page = client.get("/unavailable")
    html = page.get_data(as_text=True)
    assert page.status_code == 503 and page.headers["Retry-After"] == "300"
    assert "down for maintenance" in html and "Back at 14:00 UTC." in html
    assert "both" not in html  # IT's reason stays with IT


def test_decisions_and_choices_are_counted_per_hour(
    app: Flask, idp: PortalIdP, dbs: Session, store: Store, world: World
) -> None:
    change(dbs, store, "new")
    lands(app, idp, "pat@ready.example", "100001")
    client = https_client(app)
    sign_in(client, idp, email="max@mixed.example", account="100003")
    page = client.get("/choose").get_data(as_text=True)
    token = csrf_token(page)
    client.post(
        "/choose",
        data={"csrf_token": token, "system": "legacy"},
        headers={"Referer": "https://sso.test/choose"},
    )
    with app.app_context():  # as the dashboard reads them: this process's counts first
        [hour] = metrics.hourly(store, utcnow(), 1)
    assert hour.get("line:NET:new") == 2 and hour.get("line:CAD:legacy") == 1
    assert hour.get("login:new") == 1 and hour.get("choice:legacy") == 1
    assert hour.get("login:legacy") == 1 and hour.get("kind:choice") == 1


# --- a state change while sign-ins run on two instances ----------------------------------


@dataclass(frozen=True)
class Outcome:
    started: float
    destination: str | None
    error: str | None


@pytest.fixture
def second_instance(settings: Settings, app: Flask) -> Iterator[Flask]:
    if settings.redis_url is None:
        pytest.skip("the embedded store is per-process by design; set GATEWAY_TEST_REDIS_URL")
    other = make_app(settings)
    yield other
    _reset(other)


def _sign_in_loop(
    app: Flask, idp: PortalIdP, stop: threading.Event, outcomes: list[Outcome]
) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            reply = sign_in(https_client(app), idp, email="pat@ready.example", account="100001")
            host = urlsplit(reply.location or "").netloc
            error = None if reply.status_code == 302 and host else f"{reply.status_code}"
            outcomes.append(Outcome(started, host, error))
        except Exception as caught:  # noqa: BLE001 - every failure is a finding
            outcomes.append(Outcome(started, None, repr(caught)))


@pytest.mark.shared_store
def test_state_change_under_load_on_two_instances(
    app: Flask,
    second_instance: Flask,
    idp: PortalIdP,
    dbs: Session,
    store: Store,
    world: World,
) -> None:
    stop, outcomes = threading.Event(), []  # type: ignore[var-annotated]
    threads = [
        threading.Thread(target=_sign_in_loop, args=(instance, idp, stop, outcomes))
        for instance in (app, second_instance, app, second_instance)
    ]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: len(outcomes) >= 12)
        change(dbs, store, "new")
        changed = time.monotonic()
        _wait_for(lambda: sum(o.started > changed + 1 for o in outcomes) >= 12)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert [o for o in outcomes if o.error] == []
    assert {o.destination for o in outcomes if o.started < changed} >= {LEGACY}
    late = [o.destination for o in outcomes if o.started > changed + 1]
    assert late and set(late) == {NEW}


def _wait_for(condition: object, timeout: float = 60.0) -> None:
    """Bounded polling on a condition (no timed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        threading.Event().wait(0.01)


def test_counts_reach_redis_within_a_second_and_other_readers_see_them(
    app: Flask, idp: PortalIdP, dbs: Session, store: Store, world: World
) -> None:
    """A login costs no round trip of its own: counts wait in the process, and reach
    Redis with the first count after a second has passed, or when someone reads them."""
    from gateway.routing.counters import hour_key

    change(dbs, store, "new")
    pending = app.extensions["routing_counters"]
    key = hour_key(utcnow())
    pending.flush_seconds = 3600.0  # however slow this machine, the hour is not up yet
    lands(app, idp, "pat@ready.example", "100001")
    seen_at_once = store.hget(key, "login:new")
    pending.flush_seconds = 0.0  # now the interval has passed at every count
    lands(app, idp, "pat@ready.example", "100001")
    assert seen_at_once is None
    assert store.hget(key, "login:new") == b"2"
