"""A line change as the line's settings would be after it: the LineConfig a preview routes
with and the one the change then writes, so what was previewed is what is applied.

    proposed = pilot_proposal(db, config.lines["NETGUARD"], add=["100100"], remove=[])
    preview_change(db, config, proposed, today=today, grace_days=0, now=now)

Each proposal validates what it is given (unknown accounts, systems, expiries) the same
way for the preview and for the change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.errors import ConflictingChange, InvalidChange, NotFound
from gateway.core.models import Account
from gateway.core.models.rollout import OVERRIDE_SYSTEMS
from gateway.routing.config import LineConfig
from gateway.routing.decision import Override


def account(db: Session, number: str) -> Account:
    """The account with this number; NotFound names it otherwise."""
    row = db.scalar(select(Account).where(Account.account_number == number.strip()))
    if row is None:
        raise NotFound(f"There is no account {number!r}.", account=number[:64])
    return row


def check_revision(current: LineConfig, revision: str | None) -> None:
    """Refuse a confirmation whose preview was computed on other settings of the line."""
    if revision is not None and revision != current.revision:
        raise ConflictingChange(
            f"{current.code} changed since your preview. Preview again.", code=current.code
        )


def state_proposal(current: LineConfig, state: str, percent: Decimal) -> LineConfig:
    """The line at `state` and `percent`, everything else as it is."""
    return replace(current, state=state, percent=percent)


def agreement_proposal(current: LineConfig, required: bool) -> LineConfig:
    """The line requiring (or no longer requiring) Salesforce's agreement before an
    account moves to new, everything else as it is."""
    return replace(current, require_salesforce_agreement=required)


def pilot_proposal(
    db: Session, current: LineConfig, *, add: list[str], remove: list[str]
) -> LineConfig:
    """The line with `add` named for its pilot and `remove` taken off (removal wins)."""
    added = {account(db, number).account_number for number in add}
    removed = {account(db, number).account_number for number in remove}
    return replace(current, pilot_accounts=frozenset((current.pilot_accounts | added) - removed))


def override_proposal(
    db: Session,
    current: LineConfig,
    account_number: str,
    system: str,
    *,
    reason: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> LineConfig:
    """The line with one account forced to `system` (until `expires_at`, if given)."""
    number = account(db, account_number).account_number
    if system not in OVERRIDE_SYSTEMS:
        raise InvalidChange(f"An override sends to one of {', '.join(OVERRIDE_SYSTEMS)}.")
    if expires_at is not None and expires_at <= now:
        raise InvalidChange("The expiry must be in the future.")
    override = Override(system, reason, expires_at)
    return replace(current, overrides=MappingProxyType({**current.overrides, number: override}))


def removal_proposal(db: Session, current: LineConfig, account_number: str) -> LineConfig:
    """The line without the account's override; NotFound when it has none."""
    number = account(db, account_number).account_number
    if number not in current.overrides:
        raise NotFound(f"Account {number} has no override for {current.code}.")
    kept = {n: o for n, o in current.overrides.items() if n != number}
    return replace(current, overrides=MappingProxyType(kept))
