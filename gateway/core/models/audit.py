"""The audit trail: who changed what, when, from what to what, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models.base import Base, UtcDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        # An org admin's log: their account's entries, newest first.
        Index("ix_audit_events_account_at", "account_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[str | None] = mapped_column(String(64))
    # The customer account the change is about, when it is about one (its org log).
    # No foreign key: the trail outlives what it describes, a deleted account included.
    account_id: Mapped[int | None] = mapped_column()
    # How the change was made: console, api, scim, invitation, cli, sign-in…
    via: Mapped[str] = mapped_column(String(16), default="", server_default="")
