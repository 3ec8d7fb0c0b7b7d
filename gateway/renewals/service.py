"""Renewal reminders: org admins hear of maintenance and subscriptions ending soon.

    send_due_reminders(db, settings, today)        # the job, once an hour per instance
    expiring(db, today, within_days)                # `gateway report expiring`

An active maintenance or subscription entitlement with an end date is due for a
reminder at 90, 60 and 30 days before that date. Each (entitlement, threshold, end
date) is done exactly once: a run claims it by inserting its `renewal_reminders` row
with INSERT … ON CONFLICT DO NOTHING in the same transaction as the organisation's
queued mail, so of two instances running at once only the one whose insert lands
queues the mail (on PostgreSQL the other's insert waits for that transaction and then
finds the row; SQLite is one instance, and a process lock keeps its threads apart).
A crash before the commit leaves neither the rows nor the mail, and the next run
sends. The job runs once per interval; a run on the same day changes nothing.

An entitlement that crosses several thresholds at once (first seen at 25 days, or the
job was off for a month) gets the smallest one's reminder only; the larger ones are
recorded as superseded. A renewed entitlement (its end date moved) has no rows for
its new date, so it is reminded again before that date.

One run sends each organisation one message per opted-in admin, listing every
entitlement that reached a threshold. With no admin wanting reminders (none, all
opted out or deactivated), the thresholds are still recorded (`no_recipients`): an
admin who turns reminders on later hears of the next threshold, not of old ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import groupby

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, contains_eager

from gateway.core.audit import Actor, record
from gateway.core.mail import queue_mail
from gateway.core.models import (
    Account,
    Entitlement,
    Permission,
    ProductLine,
    RenewalReminder,
    User,
)
from gateway.core.models.base import utcnow
from gateway.core.settings import Settings

log = logging.getLogger(__name__)

# Days before the end date, smallest first.
THRESHOLDS = (30, 60, 90)
RENEWING_KINDS = ("maintenance", "subscription")
SETTINGS_PATH = "/renewals/settings"
_ROUND = threading.Lock()


@dataclass(frozen=True)
class ExpiringEntitlement:
    """One entitlement ending soon, with what a reminder or a report shows of it."""

    entitlement_id: int
    account_id: int
    account_number: str
    account_name: str
    line_code: str
    line_name: str
    product: str
    quantity: Decimal
    unit: str
    kind: str
    end_date: date
    days_left: int
    # The license centers holding it: keys for machines, names for people.
    system_keys: tuple[str, ...]
    system_names: tuple[str, ...]

    @property
    def threshold(self) -> int:
        """The smallest threshold it has reached."""
        return next(days for days in THRESHOLDS if self.days_left <= days)

    @property
    def thresholds(self) -> tuple[int, ...]:
        """Every threshold it has reached, smallest first."""
        return tuple(days for days in THRESHOLDS if self.days_left <= days)


@dataclass(frozen=True)
class ReminderRun:
    """What one run did: organisations mailed, the entitlements their mail lists, the
    messages queued, and the entitlements due where no admin wanted reminders."""

    accounts: int = 0
    entitlements: int = 0
    messages: int = 0
    unaddressed: int = 0


def _ending_between(today: date, within_days: int) -> tuple[ColumnElement[bool], ...]:
    """Active maintenance and subscriptions ending from `today` to `within_days` later."""
    return (
        Entitlement.kind.in_(RENEWING_KINDS),
        Entitlement.status == "active",
        Entitlement.end_date >= today,
        Entitlement.end_date <= today + timedelta(days=within_days),
    )


def expiring(
    db: Session, today: date, within_days: int, *, account_id: int | None = None
) -> list[ExpiringEntitlement]:
    """Active maintenance and subscription entitlements ending from `today` to
    `within_days` later, by account number, end date and line."""
    query = (
        select(Entitlement, Account)
        .join(Account, Account.id == Entitlement.account_id)
        .join(Entitlement.product_line)
        .options(contains_eager(Entitlement.product_line))
        .where(*_ending_between(today, within_days))
        .order_by(Account.account_number, Entitlement.end_date, ProductLine.code, Entitlement.id)
    )
    if account_id is not None:
        query = query.where(Entitlement.account_id == account_id)
    return [_expiring_of(row, account, today) for row, account in db.execute(query)]


def _expiring_of(row: Entitlement, account: Account, today: date) -> ExpiringEntitlement:
    assert row.end_date is not None
    systems = sorted((holding.system for holding in row.holdings), key=lambda s: s.key)
    return ExpiringEntitlement(
        entitlement_id=row.id,
        account_id=account.id,
        account_number=account.account_number,
        account_name=account.name,
        line_code=row.product_line.code,
        line_name=row.product_line.name,
        product=row.product,
        quantity=row.quantity,
        unit=row.unit_of_measure,
        kind=row.kind,
        end_date=row.end_date,
        days_left=(row.end_date - today).days,
        system_keys=tuple(system.key for system in systems),
        system_names=tuple(system.name for system in systems),
    )


def send_due_reminders(db: Session, settings: Settings, today: date) -> ReminderRun:
    """Queue the reminders due on `today` (a UTC calendar day): one transaction per
    organisation, holding its claims and its mail."""
    one_at_a_time = _ROUND if db.get_bind().dialect.name == "sqlite" else nullcontext()
    accounts = entitlements = messages = unaddressed = 0
    with one_at_a_time:
        db.rollback()
        due = expiring(db, today, max(THRESHOLDS))
        done = _done(db, today)
        waiting = [item for item in due if (item.entitlement_id, item.threshold) not in done]
        waiting.sort(key=lambda item: (item.account_id, item.entitlement_id))
        for account_id, items in groupby(waiting, key=lambda item: item.account_id):
            try:
                queued, reminded = _remind_account(db, settings, account_id, list(items), today)
                db.commit()
            except BaseException:
                db.rollback()
                raise
            if queued:
                accounts += 1
                entitlements += len(reminded)
                messages += queued
            else:
                unaddressed += len(reminded)
    if accounts or unaddressed:
        log.info(
            "renewal reminders queued",
            extra={
                "event": "renewals.reminded",
                "accounts": accounts,
                "entitlements": entitlements,
                "messages": messages,
                "unaddressed": unaddressed,
            },
        )
    return ReminderRun(accounts, entitlements, messages, unaddressed)


def _done(db: Session, today: date) -> set[tuple[int, int]]:
    """(entitlement, threshold) pairs already done for the due entitlements' current
    end dates: the cheap first look, so a quiet run writes nothing. The claim decides."""
    query = (
        select(RenewalReminder.entitlement_id, RenewalReminder.threshold_days)
        .join(
            Entitlement,
            (RenewalReminder.entitlement_id == Entitlement.id)
            & (RenewalReminder.end_date == Entitlement.end_date),
        )
        .where(*_ending_between(today, max(THRESHOLDS)))
    )
    return {(entitlement_id, days) for entitlement_id, days in db.execute(query)}


def recipients(db: Session, account_id: int) -> list[User]:
    """The organisation's active admins who have not turned reminders off."""
    return list(
        db.scalars(
            select(User)
            .where(
                User.account_id == account_id,
                User.status == "active",
                User.renewal_reminders.is_(true()),
                User.permissions.any(Permission.name == "admin"),
            )
            .order_by(User.email)
        )
    )


def _remind_account(
    db: Session,
    settings: Settings,
    account_id: int,
    items: list[ExpiringEntitlement],
    today: date,
) -> tuple[int, list[ExpiringEntitlement]]:
    """Claim the organisation's due thresholds and queue its mail, uncommitted: the
    number of messages and the entitlements they list."""
    admins = recipients(db, account_id)
    now = utcnow()
    claimed: list[ExpiringEntitlement] = []
    # Always in the same order (entitlement, then threshold), so two instances claiming
    # the same rows wait for each other instead of deadlocking.
    for item in items:
        smallest, *larger = item.thresholds
        outcome = "sent" if admins else "no_recipients"
        if _claim(db, item, smallest, outcome, today, now):
            claimed.append(item)
        for days in larger:
            _claim(db, item, days, "superseded", today, now)
    if not claimed or not admins:
        return 0, claimed
    subject = reminder_subject(claimed)
    for admin in admins:
        queue_mail(db, admin.email, subject, reminder_text(admin, claimed, settings), now=now)
    return len(admins), claimed


def _claim(
    db: Session,
    item: ExpiringEntitlement,
    days: int,
    outcome: str,
    today: date,
    now: datetime,
) -> bool:
    """Insert the threshold's row unless it exists: True when this transaction did."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(RenewalReminder)
        .values(
            entitlement_id=item.entitlement_id,
            threshold_days=days,
            end_date=item.end_date,
            account_id=item.account_id,
            outcome=outcome,
            run_date=today,
            recorded_at=now,
        )
        .on_conflict_do_nothing(index_elements=["entitlement_id", "threshold_days", "end_date"])
        # A row comes back only when this statement inserted it (rowcount is not
        # reliable through the ORM session on every driver).
        .returning(RenewalReminder.threshold_days)
    )
    return db.execute(statement).first() is not None


def thresholds_text() -> str:
    """ "90, 60 and 30", for people."""
    *larger, smallest = sorted(THRESHOLDS, reverse=True)
    return f"{', '.join(str(days) for days in larger)} and {smallest}"


def quantity_text(quantity: Decimal) -> str:
    """25 → "25", 5000000 → "5,000,000", 2.5 → "2.50"."""
    if quantity == quantity.to_integral_value():
        return f"{int(quantity):,}"
    return f"{quantity:,.2f}"


def days_text(days: int) -> str:
    if days == 0:
        return "today"
    return "in 1 day" if days == 1 else f"in {days} days"


def reminder_subject(items: Sequence[ExpiringEntitlement]) -> str:
    first = items[0]
    count = f"{len(items)} entitlements" if len(items) > 1 else "1 entitlement"
    within = max(item.threshold for item in items)
    # One line, whatever an import put in the name: a line break would end the header.
    name = " ".join(first.account_name.split())
    verb = "end" if len(items) > 1 else "ends"
    return f"Renewals: {count} of {name} {verb} within {within} days"


def reminder_text(admin: User, items: Iterable[ExpiringEntitlement], settings: Settings) -> str:
    listed = sorted(items, key=lambda item: (item.end_date, item.line_code, item.product))
    first = listed[0]
    lines = [
        f"Hello {admin.first_name or admin.display_name},",
        "",
        f"These maintenance and subscription entitlements of {first.account_name} "
        f"(account {first.account_number}) end soon:",
        "",
    ]
    for item in listed:
        lines += [
            f"- {item.line_name} ({item.line_code}): {item.product}",
            f"  {quantity_text(item.quantity)} {item.unit}, {item.kind}, "
            f"ends {item.end_date.isoformat()} ({days_text(item.days_left)})",
            f"  held by {', '.join(item.system_names) or 'no license center'}",
            "",
        ]
    lines += [
        "Your account manager can renew them with you.",
        "",
        f"You receive this as an administrator of {first.account_name}. "
        "To stop these reminders, change your setting here:",
        f"{settings.base_url.rstrip('/')}{SETTINGS_PATH}",
    ]
    return "\n".join(lines) + "\n"


def set_reminders(db: Session, actor: Actor, user: User, wanted: bool, *, now: datetime) -> bool:
    """Turn `user`'s reminders on or off, audited in their organisation's log; commits.
    False when nothing changed."""
    if user.renewal_reminders == wanted:
        db.rollback()
        return False
    record(
        db,
        actor,
        "user.renewal_reminders_changed",
        f"user:{user.public_id}",
        before={"renewal_reminders": user.renewal_reminders},
        after={"renewal_reminders": wanted},
        at=now,
        account_id=user.account_id,
    )
    user.renewal_reminders = wanted
    db.commit()
    return True
