"""IT's migration controls: pilot accounts, account overrides and scheduled changes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.models.base import Base, UtcDateTime, utcnow
from gateway.core.models.directory import PRODUCT_LINE_STATES, Account, ProductLine

OVERRIDE_SYSTEMS = ("legacy", "new")
SCHEDULE_STATUSES = ("pending", "applied", "cancelled", "failed")


class PilotAccount(Base):
    """An account named for a line's pilot: on the new system while the line is `pilot`
    and, once the line moves on, throughout its `rollout`."""

    __tablename__ = "pilot_accounts"

    product_line_id: Mapped[int] = mapped_column(
        ForeignKey("product_lines.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    added_by: Mapped[str] = mapped_column(String(320))

    account: Mapped[Account] = relationship(lazy="joined")


class AccountOverride(Base):
    """Force one account's line to one system, whatever the line's state, until it expires."""

    __tablename__ = "account_overrides"
    __table_args__ = (
        CheckConstraint(f"system IN {OVERRIDE_SYSTEMS!r}", name="system"),
        UniqueConstraint("product_line_id", "account_id", name="uq_account_overrides_line_account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    system: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))

    account: Mapped[Account] = relationship(lazy="joined")
    product_line: Mapped[ProductLine] = relationship(lazy="joined")


class ScheduledChange(Base):
    """A state change that applies itself at `run_at`, exactly once across instances."""

    __tablename__ = "scheduled_changes"
    __table_args__ = (
        CheckConstraint(f"target_state IN {PRODUCT_LINE_STATES!r}", name="target_state"),
        CheckConstraint(f"status IN {SCHEDULE_STATUSES!r}", name="status"),
        # The scheduler asks "what is pending and due?" every few seconds.
        Index("ix_scheduled_changes_status_run_at", "status", "run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id", ondelete="CASCADE"))
    target_state: Mapped[str] = mapped_column(String(16))
    target_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    run_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Who cancelled it, or why it could not be applied.
    outcome: Mapped[str] = mapped_column(Text, default="")
    # IT confirmed, when scheduling, that this change may send accounts back to legacy.
    confirmed_back_to_legacy: Mapped[bool] = mapped_column(Boolean, default=False)

    product_line: Mapped[ProductLine] = relationship(lazy="joined")
