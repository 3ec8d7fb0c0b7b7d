"""Scheduled changes: listed, cancellable, and applied exactly once across instances."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core import db as database
from gateway.core.errors import ConflictingChange, InvalidChange
from gateway.core.models import AuditEvent, ProductLine, ScheduledChange
from gateway.core.settings import Settings
from gateway.core.store import Store, get_store
from gateway.migration import scheduler
from tests.conftest import _reset, make_app
from tests.it_console import ACTOR, NOW
from tests.world import World

RUN_AT = NOW + timedelta(days=3)


@pytest.fixture
def other_instance(settings: Settings, app: Flask) -> Iterator[Flask]:
    """A second gateway on the same database, as a second server would be."""
    other = make_app(settings)
    yield other
    _reset(other)


def scheduled(dbs: Session, store: Store, state: str = "new", percent: str | None = None) -> int:
    change = scheduler.schedule_change(
        dbs,
        store,
        "NET",
        state,
        percent,
        run_at=RUN_AT,
        reason="cut-over window",
        actor=ACTOR,
        now=NOW,
    )
    return change.id


def line_state(dbs: Session) -> str:
    dbs.expire_all()
    return dbs.scalars(select(ProductLine.state).where(ProductLine.code == "NET")).one()


def test_change_is_listed_and_not_applied_before_its_time(
    dbs: Session, store: Store, world: World
) -> None:
    change_id = scheduled(dbs, store)
    assert [c.id for c in scheduler.pending_changes(dbs)] == [change_id]
    assert scheduler.apply_due_changes(dbs, store, now=RUN_AT - timedelta(seconds=1)) == []
    assert line_state(dbs) == "legacy"


def test_scheduled_change_is_applied_exactly_once_by_two_instances(
    app: Flask, other_instance: Flask, dbs: Session, store: Store, world: World
) -> None:
    change_id = scheduled(dbs, store, "rollout", "25")
    later = RUN_AT + timedelta(minutes=1)  # the clock moved past the time
    start = threading.Barrier(2)
    applied: list[list[int]] = []
    failures: list[BaseException] = []

    def run(instance: Flask) -> None:
        with database.new_session(instance) as session:
            start.wait(timeout=10)
            try:
                applied.append(scheduler.apply_due_changes(session, get_store(instance), now=later))
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                failures.append(error)

    threads = [threading.Thread(target=run, args=(a,)) for a in (app, other_instance)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert sorted(applied) == [[], [change_id]]
    assert line_state(dbs) == "rollout"
    scheduled_events = dbs.scalar(
        select(func.count()).where(AuditEvent.action == "product_line.scheduled")
    )
    assert scheduled_events == 1
    change = dbs.get(ScheduledChange, change_id, populate_existing=True)
    assert change is not None and (change.status, change.finished_at) == ("applied", later)
    # Running again (cron on every instance) changes nothing.
    assert scheduler.apply_due_changes(dbs, store, now=later + timedelta(hours=1)) == []


def test_cancelled_change_never_applies_and_cannot_be_cancelled_twice(
    dbs: Session, store: Store, world: World
) -> None:
    change_id = scheduled(dbs, store)
    scheduler.cancel_change(dbs, store, change_id, reason="customer event", actor=ACTOR, now=NOW)
    assert scheduler.apply_due_changes(dbs, store, now=RUN_AT + timedelta(days=1)) == []
    assert line_state(dbs) == "legacy"
    with pytest.raises(ConflictingChange):
        scheduler.cancel_change(dbs, store, change_id, reason="again", actor=ACTOR, now=NOW)
    actions = list(dbs.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["schedule.created", "schedule.cancelled"]


def test_a_change_in_the_past_is_refused(dbs: Session, store: Store, world: World) -> None:
    with pytest.raises(InvalidChange):
        scheduler.schedule_change(
            dbs, store, "NET", "new", None, run_at=NOW, reason="x", actor=ACTOR, now=NOW
        )


def test_background_thread_applies_a_due_change(
    app: Flask, dbs: Session, store: Store, world: World
) -> None:
    scheduler.schedule_change(
        dbs,
        store,
        "NET",
        "new",
        None,
        run_at=NOW,
        reason="now-ish",
        actor=ACTOR,
        now=NOW - timedelta(hours=1),
    )
    worker = scheduler.start_scheduler(app, interval=0.05)
    try:
        for _ in range(200):  # bounded polling on the outcome, not a timed sleep
            if line_state(dbs) == "new":
                break
            threading.Event().wait(0.05)
    finally:
        worker.stop()
    assert line_state(dbs) == "new"
    assert not worker.thread.is_alive()
