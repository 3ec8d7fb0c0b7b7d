"""The audit trail of IT's changes: who (Actor), why (a required reason), before and after,
written in the change's own transaction, then announced to every instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gateway.models import AuditEvent
from gateway.rollout.errors import ReasonRequired
from gateway.routing.config import bump_version
from gateway.store import Store

MAX_REASON = 2000


@dataclass(frozen=True)
class Actor:
    """Who makes a change, as the audit trail names them."""

    name: str
    request_id: str | None = None


def checked_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired("Every change needs a reason; it goes into the audit log.")
    return text[:MAX_REASON]


def audit(
    db: Session, actor: Actor, action: str, target: str, before: Any, after: Any, reason: str
) -> AuditEvent:
    """Add the audit row to the change's own transaction: both land, or neither."""
    event = AuditEvent(
        actor=actor.name,
        action=action,
        target=target,
        before=before,
        after=after,
        reason=reason,
        request_id=actor.request_id,
    )
    db.add(event)
    return event


def commit_and_announce(db: Session, store: Store) -> None:
    """Commit first, then bump the version: a worker that reloads sees the change."""
    db.commit()
    bump_version(store)
