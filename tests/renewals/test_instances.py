"""Two instances (two apps on one database) running the reminder job at the same moment
send each reminder once: the claim, not luck, decides. On PostgreSQL the instance that
reaches its commit first waits there until the other is seen blocked on the same
claim, so the race is certain to happen rather than merely likely."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from gateway.core import db as database
from gateway.core.mail import deliver_due
from gateway.core.settings import Settings
from gateway.renewals.service import ReminderRun, send_due_reminders
from tests import factories
from tests.conftest import make_app
from tests.mailserver import MailServer
from tests.renewals.conftest import TODAY
from tests.renewals.test_reminders import moment
from tests.world import World

END = TODAY + timedelta(days=120)


@pytest.fixture
def instances(app: Flask, settings: Settings) -> Iterator[list[Flask]]:
    """Two more apps on the test's database, as two processes would be."""
    apps = [make_app(settings), make_app(settings)]
    yield apps
    for other in apps:
        database.engine_of(other).dispose()


def _someone_waits_for_a_lock(app: Flask) -> bool:
    with database.engine_of(app).connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE NOT l.granted AND a.datname = current_database()"
                )
            )
        )


def _run_together(
    apps: list[Flask], settings: Settings, day: object, *, hold_first_commit: bool
) -> tuple[list[ReminderRun], list[bool]]:
    """Both instances' runs, started at one barrier; with `hold_first_commit`, whichever
    commits first waits until the other is blocked on a claim (or done)."""
    barrier = threading.Barrier(len(apps))
    results: list[ReminderRun | None] = [None] * len(apps)
    errors: list[BaseException] = []
    finished = [threading.Event() for _ in apps]
    seen_blocked: list[bool] = []
    first_commit = threading.Lock()

    def hold(session: Session) -> None:
        if not first_commit.acquire(blocking=False):
            return
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(e.is_set() for e in finished):
            if _someone_waits_for_a_lock(apps[0]):
                seen_blocked.append(True)
                return
            threading.Event().wait(0.005)  # polling a condition, not timing a race
        seen_blocked.append(False)

    def work(index: int) -> None:
        session = database.new_session(apps[index])
        if hold_first_commit:
            event.listen(session, "before_commit", hold)
        try:
            barrier.wait(timeout=20)
            results[index] = send_due_reminders(session, settings, day)  # type: ignore[arg-type]
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            finished[index].set()
            session.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(apps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return [r for r in results if r is not None], seen_blocked


def test_two_instances_at_once_send_each_reminder_once(
    instances: list[Flask],
    settings: Settings,
    dbs: Session,
    world: World,
    smtp_server: MailServer,
) -> None:
    factories.user(dbs, world.ready, "ian@ready.example", permissions=("admin",))
    factories.user(dbs, world.other, "ola@other.example", permissions=("admin",))
    for account, line in (
        (world.ready, world.net),
        (world.ready, world.cad),
        (world.other, world.cad),
    ):
        factories.entitlement(dbs, account, line, [world.legacy], kind="subscription", end_date=END)
    postgres = dbs.get_bind().dialect.name == "postgresql"

    for days_left in (90, 60, 30):
        runs, seen_blocked = _run_together(
            instances, settings, END - timedelta(days=days_left), hold_first_commit=postgres
        )
        if postgres:
            assert seen_blocked == [True], "the second instance never reached the claim"
        # Between them: each organisation once, one message per admin, both entitlements.
        assert sum(r.messages for r in runs) == 3
        assert sum(r.entitlements for r in runs) == 3
        assert sum(r.accounts for r in runs) == 2

    deliver_due(dbs, settings, moment(END))
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted(["ada@ready.example", "ian@ready.example", "ola@other.example"] * 3)
