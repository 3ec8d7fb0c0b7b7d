"""Scheduled product-line changes: listed, cancellable, applied exactly once.

Any number of instances may run apply_due_changes() at the same moment (each one's
background thread, or `gateway product-line run-due` from cron). Each due change is
claimed by a conditional UPDATE (pending → applied WHERE status = 'pending') in the
same transaction as the change and its audit row; the database lets exactly one
transaction see rowcount 1, and the others skip it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import Flask
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from gateway.core import db as database
from gateway.core import metrics as ops_metrics
from gateway.core.audit import Actor, checked_reason, record
from gateway.core.errors import ConflictingChange, InvalidChange, NotFound
from gateway.core.jobs import Repeating
from gateway.core.models import ScheduledChange
from gateway.core.models.base import utcnow
from gateway.core.store import Store, get_store
from gateway.migration.errors import BackToLegacyUnconfirmed
from gateway.migration.guard import ReturnCheck, refuse_unconfirmed_return
from gateway.migration.proposals import state_proposal
from gateway.migration.service import apply_setting, product_line, target_setting
from gateway.routing.config import load_line_config
from gateway.routing.schedules import pending_changes as pending_changes
from gateway.routing.schedules import recent_changes as recent_changes

log = logging.getLogger(__name__)
SCHEDULER_ACTOR = "scheduler"


def schedule_change(
    db: Session,
    store: Store,
    code: str,
    state: str,
    percent: object | None,
    *,
    run_at: datetime,
    reason: str | None,
    actor: Actor,
    now: datetime,
    back_to_legacy: ReturnCheck | None = None,
) -> ScheduledChange:
    """Plan a state change for `run_at` (UTC); it is audited now and again when applied.

    Nobody confirms at run time, so a change that would send accounts from new back to
    legacy (judged on the line as it is now) needs `back_to_legacy` confirmed here."""
    line, text = product_line(db, code), checked_reason(reason)
    setting = target_setting(line, state, percent)
    if run_at <= now:
        raise InvalidChange("The time must be in the future; to change now, change the state.")
    proposed = state_proposal(load_line_config(db, line), setting.state, setting.percent)
    refuse_unconfirmed_return(db, store, proposed, back_to_legacy, now=now)
    change = ScheduledChange(
        product_line_id=line.id,
        target_state=setting.state,
        target_percent=setting.percent,
        run_at=run_at,
        reason=text,
        status="pending",
        created_by=actor.name,
        created_at=now,
        outcome="",
        confirmed_back_to_legacy=bool(back_to_legacy and back_to_legacy.confirmed),
    )
    db.add(change)
    db.flush()
    record(
        db,
        actor,
        "schedule.created",
        f"schedule:{change.id}",
        None,
        {**setting.as_dict(), "product_line": code, "run_at": run_at.isoformat()},
        text,
    )
    db.commit()
    return change


def cancel_change(
    db: Session, store: Store, change_id: int, *, reason: str | None, actor: Actor, now: datetime
) -> ScheduledChange:
    """Cancel a pending change; one already applied or cancelled is a conflict."""
    text = checked_reason(reason)
    claimed = _claim(db, change_id, "cancelled", now, f"cancelled by {actor.name}")
    change = db.get(ScheduledChange, change_id)
    if change is None:
        db.rollback()
        raise NotFound(f"There is no scheduled change {change_id}.")
    if not claimed:
        db.rollback()
        raise ConflictingChange(f"Scheduled change {change_id} is {change.status}, not pending.")
    record(
        db,
        actor,
        "schedule.cancelled",
        f"schedule:{change_id}",
        {"status": "pending"},
        {"status": "cancelled"},
        text,
    )
    db.commit()
    return change


def _claim(db: Session, change_id: int, status: str, now: datetime, outcome: str) -> bool:
    """Move one change out of `pending`; True only for the one transaction that did."""
    result = db.execute(
        update(ScheduledChange)
        .where(ScheduledChange.id == change_id, ScheduledChange.status == "pending")
        .values(status=status, finished_at=now, outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def apply_due_changes(
    db: Session, store: Store, *, now: datetime, grace_days: int = 0
) -> list[int]:
    """Apply every pending change due at `now`; returns the ids this caller applied.

    Each is judged again on the line as it is now: one that would send accounts from
    new back to legacy without IT's confirmation at scheduling is marked failed."""
    due = db.scalars(
        select(ScheduledChange.id)
        .where(ScheduledChange.status == "pending", ScheduledChange.run_at <= now)
        .order_by(ScheduledChange.run_at, ScheduledChange.id)
    ).all()
    db.rollback()  # end the read: each claim runs in its own short transaction
    return [change_id for change_id in due if _apply_one(db, store, change_id, now, grace_days)]


def _apply_one(db: Session, store: Store, change_id: int, now: datetime, grace_days: int) -> bool:
    try:
        if _refuse_unconfirmed_return(db, store, change_id, now, grace_days):
            return False
        if not _claim(db, change_id, "applied", now, "applied"):
            db.rollback()  # another instance won it
            return False
        change = db.get(ScheduledChange, change_id, populate_existing=True)
        assert change is not None
        line = product_line(db, change.product_line.code)
        setting = target_setting(line, change.target_state, change.target_percent)
        apply_setting(
            db,
            line,
            setting,
            reason=f"scheduled change {change_id}: {change.reason}",
            actor=Actor(SCHEDULER_ACTOR),
            action="product_line.scheduled",
            now=now,
        )
        db.commit()
    except Exception:
        db.rollback()
        ops_metrics.count_failed_scheduled_change()
        log.exception(
            "scheduled change failed", extra={"event": "schedule.failed", "change_id": change_id}
        )
        return False
    log.info(
        "scheduled change applied", extra={"event": "schedule.applied", "change_id": change_id}
    )
    return True


def _refuse_unconfirmed_return(
    db: Session, store: Store, change_id: int, now: datetime, grace_days: int
) -> bool:
    """Mark a due change failed (audited) when it would now send accounts back to legacy
    unconfirmed; True if it did. Read-only for every other change."""
    change = db.get(ScheduledChange, change_id, populate_existing=True)
    if change is None or change.status != "pending" or change.confirmed_back_to_legacy:
        db.rollback()
        return False
    line = product_line(db, change.product_line.code)
    setting = target_setting(line, change.target_state, change.target_percent)
    proposed = state_proposal(load_line_config(db, line), setting.state, setting.percent)
    try:
        refuse_unconfirmed_return(db, store, proposed, ReturnCheck(False, grace_days), now=now)
    except BackToLegacyUnconfirmed as refusal:
        db.rollback()
        if _claim(db, change_id, "failed", now, refusal.detail):
            record(
                db,
                Actor(SCHEDULER_ACTOR),
                "schedule.refused",
                f"schedule:{change_id}",
                {"status": "pending"},
                {"status": "failed"},
                refusal.detail,
            )
            db.commit()
            ops_metrics.count_failed_scheduled_change()
            log.warning(refusal.detail, extra={"event": "schedule.refused", "change_id": change_id})
        else:
            db.rollback()
        return True
    db.rollback()
    return False


def due_round(app: Flask) -> Callable[[], None]:
    """One round of the background job: apply what is due, from this process."""

    @ops_metrics.counted_scheduler_run
    def run_due() -> None:
        session = database.new_session(app)
        try:
            grace = app.extensions["settings"].entitlement_grace_days
            apply_due_changes(session, get_store(app), now=utcnow(), grace_days=grace)
        finally:
            session.close()

    return run_due


def start_scheduler(app: Flask, interval: float) -> Repeating:
    """Apply due changes from this process every `interval` seconds, on its own thread."""
    return Repeating("rollout-scheduler", interval, due_round(app)).start()
