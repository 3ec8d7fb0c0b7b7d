"""IT's product-line changes as plain functions: each validates, writes, audits, commits,
then announces the new configuration version to every instance.

    change_state(db, store, "NETGUARD", LineSetting("rollout", Decimal(25)),
                 reason="wave 1", actor=Actor("it@vendor.example"), now=utcnow())

The session, the store, the clock and the actor are arguments, so the console, the API,
the CLI and the scheduler share these functions and tests call them without HTTP.

Pilot and override changes write exactly their proposal (gateway.migration.proposals), the
LineConfig a preview routes with; `revision` refuses one whose preview is out of date.
A change that sends accounts from new back to legacy is refused unless `back_to_legacy`
confirms it (gateway.migration.guard); a rollback is exempt, being that by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.core.audit import Actor as Actor
from gateway.core.audit import checked_reason as checked_reason
from gateway.core.audit import record as record
from gateway.core.errors import ConflictingChange, InvalidChange, NotFound
from gateway.core.models import Account, AccountOverride, AuditEvent, PilotAccount, ProductLine
from gateway.core.models.directory import (
    PRODUCT_LINE_CODE,
    PRODUCT_LINE_CODE_RULE,
    PRODUCT_LINE_STATES,
)
from gateway.core.store import Store
from gateway.migration.guard import ReturnCheck, refuse_unconfirmed_return
from gateway.migration.proposals import (
    account,
    agreement_proposal,
    check_revision,
    override_proposal,
    pilot_proposal,
    removal_proposal,
    state_proposal,
)
from gateway.routing.config import LineConfig, RoutingConfig, load_line_config
from gateway.routing.preview import Preview, preview_change

CENT = Decimal("0.01")


@dataclass(frozen=True)
class LineSetting:
    """A line's state and rollout percent: what a change sets and a preview compares."""

    state: str
    percent: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "percent": str(Decimal(self.percent).quantize(CENT))}


def parse_percent(value: object) -> Decimal:
    """0-100 with at most two decimals (a bucket is 0.01 %); InvalidChange otherwise."""
    try:
        percent = Decimal(str(value).strip().rstrip("%"))
    except (InvalidOperation, ValueError):
        raise InvalidChange("The percentage must be a number from 0 to 100.") from None
    if not percent.is_finite() or not 0 <= percent <= 100:
        raise InvalidChange("The percentage must be a number from 0 to 100.")
    if percent != percent.quantize(CENT):
        raise InvalidChange("The percentage may have at most two decimals.")
    return percent.quantize(CENT)


def target_setting(line: ProductLine, state: str, percent: object | None) -> LineSetting:
    """The setting a change asks for; rollout needs a percent, other states keep theirs."""
    if state not in PRODUCT_LINE_STATES:
        raise InvalidChange(f"Unknown state {state!r}; one of {', '.join(PRODUCT_LINE_STATES)}.")
    if state == "rollout" and (percent is None or str(percent).strip() == ""):
        raise InvalidChange("A rollout needs a percentage of accounts.")
    if percent is None or str(percent).strip() == "":
        return LineSetting(state, Decimal(line.rollout_percent).quantize(CENT))
    return LineSetting(state, parse_percent(percent))


def product_line(db: Session, code: str) -> ProductLine:
    """The line with this code; a malformed code is InvalidChange, an unknown one NotFound."""
    if not PRODUCT_LINE_CODE.fullmatch(code):
        raise InvalidChange(
            f"{code[:64]!r} is no product-line code: use {PRODUCT_LINE_CODE_RULE}.", code=code[:64]
        )
    line = db.scalar(select(ProductLine).where(ProductLine.code == code))
    if line is None:
        raise NotFound(f"There is no product line {code!r}.", code=code[:64])
    return line


def setting_of(line: ProductLine) -> LineSetting:
    return LineSetting(line.state, Decimal(line.rollout_percent).quantize(CENT))


def apply_setting(
    db: Session,
    line: ProductLine,
    setting: LineSetting,
    *,
    reason: str,
    actor: Actor,
    action: str = "product_line.change",
    now: datetime,
) -> AuditEvent:
    """Write `setting` and its audit row without committing (the scheduler's transaction)."""
    before = setting_of(line)
    line.state, line.rollout_percent, line.updated_at = setting.state, setting.percent, now
    return record(
        db, actor, action, f"product_line:{line.code}", before.as_dict(), setting.as_dict(), reason
    )


def change_state(
    db: Session,
    store: Store,
    code: str,
    state: str,
    percent: object | None,
    *,
    reason: str | None,
    actor: Actor,
    now: datetime,
    expected: LineSetting | None = None,
    revision: str | None = None,
    back_to_legacy: ReturnCheck | None = None,
) -> AuditEvent:
    """Move a line to `state` (and percent); `expected` (its state and percent) or
    `revision` (its whole settings) refuses it if the line changed since the preview."""
    line = product_line(db, code)
    setting = target_setting(line, state, percent)
    text = checked_reason(reason)
    if expected is not None and setting_of(line) != expected:
        raise ConflictingChange(
            f"{code} changed since your preview (now {line.state} {line.rollout_percent}%). "
            "Preview again.",
            code=code,
        )
    current = load_line_config(db, line)
    check_revision(current, revision)
    proposed = state_proposal(current, setting.state, setting.percent)
    refuse_unconfirmed_return(db, store, proposed, back_to_legacy, now=now)
    event = apply_setting(db, line, setting, reason=text, actor=actor, now=now)
    db.commit()
    return event


def rollback(
    db: Session, store: Store, code: str, *, reason: str | None, actor: Actor, now: datetime
) -> AuditEvent:
    """One action back to `legacy`: the system that held every line before the migration
    and still receives the exports. The percent is kept for a later retry."""
    line = product_line(db, code)
    setting = LineSetting("legacy", line.rollout_percent)
    event = apply_setting(
        db,
        line,
        setting,
        reason=checked_reason(reason),
        actor=actor,
        action="product_line.rollback",
        now=now,
    )
    db.commit()
    return event


def set_salesforce_agreement(
    db: Session,
    store: Store,
    code: str,
    required: bool,
    *,
    reason: str | None,
    actor: Actor,
    now: datetime,
    revision: str | None = None,
    back_to_legacy: ReturnCheck | None = None,
) -> AuditEvent:
    """Make the line's readiness gate wait (or stop waiting) until an account's
    entitlements of the line in the new system agree with Salesforce. Turning it on
    sends accounts whose data disagrees back to legacy: the guard asks to confirm that."""
    line, text = product_line(db, code), checked_reason(reason)
    current = load_line_config(db, line)
    check_revision(current, revision)
    proposed = agreement_proposal(current, required)
    refuse_unconfirmed_return(db, store, proposed, back_to_legacy, now=now)
    line.require_salesforce_agreement, line.updated_at = required, now
    event = record(
        db,
        actor,
        "product_line.salesforce_agreement",
        f"product_line:{code}",
        {"require_salesforce_agreement": current.require_salesforce_agreement},
        {"require_salesforce_agreement": required},
        text,
    )
    db.commit()
    return event


def set_pilot_accounts(
    db: Session,
    store: Store,
    code: str,
    *,
    add: list[str],
    remove: list[str],
    reason: str | None,
    actor: Actor,
    now: datetime,
    revision: str | None = None,
    back_to_legacy: ReturnCheck | None = None,
) -> AuditEvent:
    """Name accounts for (or take them off) a line's pilot."""
    line, text = product_line(db, code), checked_reason(reason)
    current = load_line_config(db, line)
    proposed = pilot_proposal(db, current, add=add, remove=remove)
    check_revision(current, revision)
    refuse_unconfirmed_return(db, store, proposed, back_to_legacy, now=now)
    for number in sorted(proposed.pilot_accounts - current.pilot_accounts):
        db.add(
            PilotAccount(
                product_line_id=line.id,
                account_id=account(db, number).id,
                added_by=actor.name,
                added_at=now,
            )
        )
    dropped = select(Account.id).where(
        Account.account_number.in_(sorted(current.pilot_accounts - proposed.pilot_accounts))
    )
    db.execute(
        delete(PilotAccount).where(
            PilotAccount.product_line_id == line.id, PilotAccount.account_id.in_(dropped)
        )
    )
    event = record(
        db,
        actor,
        "product_line.pilot",
        f"product_line:{code}",
        {"pilot_accounts": sorted(current.pilot_accounts)},
        {"pilot_accounts": sorted(proposed.pilot_accounts)},
        text,
    )
    db.commit()
    return event


def pilot_numbers(db: Session, line: ProductLine) -> set[str]:
    query = (
        select(Account.account_number)
        .join(PilotAccount, PilotAccount.account_id == Account.id)
        .where(PilotAccount.product_line_id == line.id)
    )
    return set(db.scalars(query))


def set_override(
    db: Session,
    store: Store,
    code: str,
    account_number: str,
    system: str,
    *,
    reason: str | None,
    actor: Actor,
    now: datetime,
    expires_at: datetime | None = None,
    revision: str | None = None,
    back_to_legacy: ReturnCheck | None = None,
) -> AuditEvent:
    """Force one account's line to `system` (until `expires_at`, if given)."""
    line, text = product_line(db, code), checked_reason(reason)
    current = load_line_config(db, line)
    proposed = override_proposal(
        db, current, account_number, system, reason=text, now=now, expires_at=expires_at
    )
    check_revision(current, revision)
    refuse_unconfirmed_return(db, store, proposed, back_to_legacy, now=now)
    row = account(db, account_number)
    existing = _override(db, line.id, row.id)
    before = _override_dict(existing)
    if existing is None:
        existing = AccountOverride(product_line_id=line.id, account_id=row.id)
        db.add(existing)
    wanted = proposed.overrides[row.account_number]
    existing.system, existing.reason, existing.expires_at = wanted.system, text, wanted.expires_at
    existing.created_by, existing.created_at = actor.name, now
    event = record(
        db,
        actor,
        "product_line.override",
        f"product_line:{code}:{row.account_number}",
        before,
        _override_dict(existing),
        text,
    )
    db.commit()
    return event


def remove_override(
    db: Session,
    store: Store,
    code: str,
    account_number: str,
    *,
    reason: str | None,
    actor: Actor,
    now: datetime,
    revision: str | None = None,
    back_to_legacy: ReturnCheck | None = None,
) -> AuditEvent:
    """Take one account's override off the line: it follows the line's state again."""
    line, text = product_line(db, code), checked_reason(reason)
    current = load_line_config(db, line)
    proposed = removal_proposal(db, current, account_number)
    check_revision(current, revision)
    refuse_unconfirmed_return(db, store, proposed, back_to_legacy, now=now)
    row = account(db, account_number)
    existing = _override(db, line.id, row.id)
    assert existing is not None  # removal_proposal refused an account without one
    event = record(
        db,
        actor,
        "product_line.override_removed",
        f"product_line:{code}:{row.account_number}",
        _override_dict(existing),
        None,
        text,
    )
    db.delete(existing)
    db.commit()
    return event


def _override(db: Session, line_id: int, account_id: int) -> AccountOverride | None:
    return db.scalar(
        select(AccountOverride).where(
            AccountOverride.product_line_id == line_id, AccountOverride.account_id == account_id
        )
    )


def _override_dict(row: AccountOverride | None) -> dict[str, Any] | None:
    if row is None:
        return None
    expires = row.expires_at.isoformat() if row.expires_at else None
    return {"system": row.system, "reason": row.reason, "expires_at": expires}


def preview_for(db: Session, config: RoutingConfig, proposed: LineConfig) -> Preview:
    """The preview of `proposed` as of this request (the console's and the API's)."""
    from gateway.core.models.base import utcnow
    from gateway.core.settings import current_settings
    from gateway.routing.service import today_utc

    return preview_change(
        db,
        config,
        proposed,
        today=today_utc(),
        grace_days=current_settings().entitlement_grace_days,
        now=utcnow(),
    )
