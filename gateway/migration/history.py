"""The audit trail of one product line: its own events and its accounts' overrides.

Targets are `product_line:<code>` and `product_line:<code>:<account>`. The match is
the whole target or its prefix up to the next colon, compared as plain text (no LIKE,
whose `%` and `_` are wildcards and which ignores case on SQLite), so line NET never
shows NETGUARD's events and a code with `_` matches only itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent

TRAIL_LENGTH = 30


def line_events(db: Session, code: str, limit: int = TRAIL_LENGTH) -> Sequence[AuditEvent]:
    """The line's latest audit events, newest first."""
    target = f"product_line:{code}"
    prefix = f"{target}:"
    query = (
        select(AuditEvent)
        .where(
            or_(
                AuditEvent.target == target,
                func.substr(AuditEvent.target, 1, len(prefix)) == prefix,
            )
        )
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return db.scalars(query).all()
