"""Scheduled changes to the routing configuration, as read: what is still to come and what
happened lately. The migration capability writes and applies them; the console's
dashboard (insights) lists them too, so the reading sits here, below both."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import ScheduledChange


def pending_changes(db: Session) -> list[ScheduledChange]:
    """Every scheduled change still to come, soonest first."""
    query = select(ScheduledChange).where(ScheduledChange.status == "pending")
    return list(db.scalars(query.order_by(ScheduledChange.run_at, ScheduledChange.id)))


def recent_changes(db: Session, limit: int = 20) -> list[ScheduledChange]:
    query = select(ScheduledChange).where(ScheduledChange.status != "pending")
    return list(db.scalars(query.order_by(ScheduledChange.id.desc()).limit(limit)))
