"""Renewal reminders: which reminder thresholds are done for which entitlement end date."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models.base import Base, UtcDateTime, utcnow

# What became of a threshold: mailed to the organisation's admins; covered by a smaller
# threshold's mail of the same run (an entitlement first seen at 25 days gets the
# 30-day mail only); or due while no admin of the organisation wanted reminders.
REMINDER_OUTCOMES = ("sent", "superseded", "no_recipients")


class RenewalReminder(Base):
    """One threshold (90, 60 or 30 days) done for one entitlement and one end date.

    The primary key is the claim: a run inserts the row with ON CONFLICT DO NOTHING in
    the transaction that queues the mail, so whichever instance inserts it first sends
    and every other one finds it done. A renewed entitlement (a new end date) has no
    rows for its new date and is reminded again.
    """

    __tablename__ = "renewal_reminders"
    __table_args__ = (
        CheckConstraint(f"outcome IN {REMINDER_OUTCOMES!r}", name="outcome"),
        Index("ix_renewal_reminders_account_id", "account_id"),
    )

    entitlement_id: Mapped[int] = mapped_column(
        ForeignKey("entitlements.id", ondelete="CASCADE"), primary_key=True
    )
    threshold_days: Mapped[int] = mapped_column(primary_key=True)
    end_date: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(16))
    # The run's calendar day (UTC) and the moment it recorded this threshold.
    run_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
