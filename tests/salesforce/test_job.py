"""The scheduled sync: one run per time slot across instances and restarts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import db as database
from gateway.core import jobs
from gateway.core.models.salesforce import SalesforceSyncRun
from gateway.core.settings import Settings
from gateway.devidp.salesforce import SalesforceStandIn
from gateway.salesforce.service import RunSummary, scheduled_sync, sync
from tests.conftest import make_app
from tests.salesforce.conftest import Keys, build_org, salesforce_settings

HOUR = 3600


@pytest.fixture
def settings_overrides(standin: SalesforceStandIn, keys: Keys) -> dict[str, object]:
    return {**salesforce_settings(standin, keys), "salesforce_sync_interval_seconds": HOUR}


def test_the_job_is_registered_only_with_an_interval(app: Flask, settings: Settings) -> None:
    assert "salesforce-sync" in [job.name for job in jobs.registered(app)]
    quiet = make_app(settings.model_copy(update={"salesforce_sync_interval_seconds": 0}))
    try:
        assert "salesforce-sync" not in [job.name for job in jobs.registered(quiet)]
    finally:
        database.engine_of(quiet).dispose()


def test_each_slot_runs_once_across_instances_and_restarts(
    app: Flask, dbs: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    build_org(standin, accounts=2)
    other = make_app(settings)  # a second instance on the same database
    now = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    results: list[RunSummary | None] = []

    def round_of(instance: Flask) -> None:
        session = database.new_session(instance)
        try:
            results.append(scheduled_sync(session, settings, now))
        finally:
            session.close()

    try:
        threads = [threading.Thread(target=round_of, args=(a,)) for a in (app, other, app)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        ran = [r for r in results if r is not None]
        assert len(results) == 3 and len(ran) == 1
        assert ran[0].state == "succeeded", ran[0].lines()

        restarted = make_app(settings)  # same slot after a restart: still nothing
        try:
            session = database.new_session(restarted)
            assert scheduled_sync(session, settings, now + timedelta(minutes=29)) is None
            session.close()
        finally:
            database.engine_of(restarted).dispose()

        later = now + timedelta(hours=1)  # the clock moves on: the next slot runs once
        session = database.new_session(other)
        assert scheduled_sync(session, settings, later) is not None
        assert scheduled_sync(session, settings, later) is None
        session.close()
    finally:
        database.engine_of(other).dispose()

    dbs.rollback()
    slots = list(dbs.scalars(select(SalesforceSyncRun.slot).order_by(SalesforceSyncRun.id)))
    assert slots == [int(now.timestamp()) // HOUR, int(later.timestamp()) // HOUR]


def test_the_registered_round_records_a_run(
    app: Flask, dbs: Session, standin: SalesforceStandIn
) -> None:
    build_org(standin, accounts=1)
    (job,) = [j for j in jobs.registered(app) if j.name == "salesforce-sync"]
    job.work()
    dbs.rollback()
    run = dbs.scalars(select(SalesforceSyncRun)).one()
    assert (run.kind, run.state, run.slot is not None) == ("full", "succeeded", True)


def test_a_second_run_waits_for_the_first_to_end(
    app: Flask, dbs: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    """Started while the first reads (from another session, as another process would),
    the second run begins only after the first has ended, and finds nothing to close."""
    build_org(standin, accounts=2)
    second: list[RunSummary] = []

    def run_alongside() -> None:
        session = database.new_session(app)
        try:
            second.append(sync(session, settings))
        finally:
            session.close()

    thread = threading.Thread(target=run_alongside)
    standin.at_request(3, thread.start)  # the first run is reading by then
    first = sync(dbs, settings, full=True)
    thread.join(timeout=60)

    assert first.state == "succeeded" and second[0].state == "succeeded"
    dbs.rollback()
    runs = list(dbs.scalars(select(SalesforceSyncRun).order_by(SalesforceSyncRun.id)))
    assert [r.state for r in runs] == ["succeeded", "succeeded"]
    assert runs[0].finished_at is not None and runs[1].started_at >= runs[0].finished_at
