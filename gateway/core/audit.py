"""The audit trail: who (Actor), what, on which target, before and after, and why.

Every capability writes its entries through `record`, in the transaction of the change
it describes, so the change and its entry land together or not at all:

    record(db, Actor("it@vendor.example"), "product_line.change", "product_line:NET",
           before={"state": "legacy"}, after={"state": "pilot"}, reason="wave 1")
    db.commit()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.core.errors import ChangeRefused
from gateway.core.models import AuditEvent

MAX_REASON = 2000
NO_REASON = "Every change needs a reason; it goes into the audit log."


class ReasonRequired(ChangeRefused):
    """Every change IT makes carries a reason for the audit trail."""

    event = "rollout.reason_missing"


@dataclass(frozen=True)
class Actor:
    """Who makes a change, as the audit trail names them."""

    name: str
    request_id: str | None = None
    # How the change was made: "console", "api", "scim", "invitation", "cli"…
    via: str = ""


def checked_reason(reason: str | None) -> str:
    """The reason, trimmed and bounded; ReasonRequired when there is none."""
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired(NO_REASON)
    return text[:MAX_REASON]


def record(
    db: Session,
    actor: Actor | str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    reason: str = "",
    *,
    at: datetime | None = None,
    account_id: int | None = None,
) -> AuditEvent:
    """Add one entry to the change's own transaction (the caller commits). `account_id`
    puts it in that customer organisation's own log too."""
    who = actor if isinstance(actor, Actor) else Actor(actor)
    event = AuditEvent(
        actor=who.name,
        action=action,
        target=target,
        before=before,
        after=after,
        reason=reason,
        request_id=who.request_id,
        account_id=account_id,
        via=who.via,
    )
    if at is not None:
        event.at = at
    db.add(event)
    return event
