"""Support eligibility: whether Salesforce covers an account's product line today.

Salesforce decides support. An account is eligible for a line when one of its
Salesforce entitlements, on an asset of that line, covers today: StartDate <= today <=
EndDate, both ends inclusive, a missing date leaving that end open. "Today" is the date
in the account's time zone, not the server's: at 23:30 UTC it is already tomorrow in
Auckland and still today in Los Angeles. The zone is the Salesforce Account's (the field
GATEWAY_SALESFORCE_TIME_ZONE_FIELD names, kept by the sync) when it names one we know,
else GATEWAY_SUPPORT_DEFAULT_TIME_ZONE.

Salesforce computes an entitlement's Status (Active, Expired, Inactive) from its dates,
in the org's own time zone, so near midnight it can disagree with the account's today:
for those three the dates decide. Any other status (a value an org added, "Suspended",
say) refuses support whatever the dates say (docs/salesforce.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.errors import NotFound
from gateway.core.models import Account, ProductLine
from gateway.core.models.salesforce import (
    SalesforceAccount,
    SalesforceAsset,
    SalesforceEntitlement,
)
from gateway.core.settings import Settings, current_settings

# The statuses Salesforce derives from the dates: the dates, read in the account's zone,
# decide instead.
DATE_STATUSES = frozenset({"active", "expired", "inactive"})
NOT_CONNECTED = "Salesforce not connected"
NO_ENTITLEMENT = "no Salesforce entitlement for this line"


@dataclass(frozen=True)
class Eligibility:
    """The answer, its reason for people, the entitlement that decided it (None: no
    entitlement, or Salesforce not connected) and the account's today it was judged on."""

    eligible: bool
    reason: str
    entitlement: SalesforceEntitlement | None
    evaluated_on: date
    product_line: str


def account_zone(db: Session, account_number: str, settings: Settings) -> ZoneInfo:
    """The account's time zone as Salesforce has it, if it is a zone we know; else the
    default."""
    names = db.scalars(
        select(SalesforceAccount.time_zone)
        .where(
            SalesforceAccount.account_number == account_number,
            SalesforceAccount.time_zone.is_not(None),
        )
        .order_by(SalesforceAccount.id)
    ).all()
    for name in names:
        try:
            return ZoneInfo(name or "")
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue  # not a zone: Salesforce's field is free text
    return ZoneInfo(settings.support_default_time_zone)


def support_eligibility(
    db: Session,
    account_number: str,
    product_line_code: str,
    *,
    now: datetime,
    settings: Settings | None = None,
) -> Eligibility:
    """Whether Salesforce covers this account's line today, and why. NotFound (404) for
    an account or product line we do not know."""
    settings = settings or current_settings()
    if db.scalar(select(Account.id).where(Account.account_number == account_number)) is None:
        raise NotFound(f"No account {account_number}.")
    if db.scalar(select(ProductLine.id).where(ProductLine.code == product_line_code)) is None:
        raise NotFound(f"No product line {product_line_code}.")
    return eligibility_by_line(db, account_number, [product_line_code], now=now, settings=settings)[
        product_line_code
    ]


def eligibility_by_line(
    db: Session,
    account_number: str,
    product_line_codes: list[str],
    *,
    now: datetime,
    settings: Settings,
) -> dict[str, Eligibility]:
    """Eligibility for each of these lines of one account, in one query."""
    today = now.astimezone(account_zone(db, account_number, settings)).date()
    if not settings.salesforce_login_url:
        return {
            code: Eligibility(False, NOT_CONNECTED, None, today, code)
            for code in product_line_codes
        }
    rows = db.execute(
        select(SalesforceEntitlement, SalesforceAsset.product_line_code)
        .join(SalesforceAccount, SalesforceAccount.id == SalesforceEntitlement.sf_account_id)
        .join(SalesforceAsset, SalesforceAsset.id == SalesforceEntitlement.sf_asset_id)
        .where(
            SalesforceAccount.account_number == account_number,
            SalesforceAsset.product_line_code.in_(product_line_codes),
        )
        .order_by(SalesforceEntitlement.id)
    ).all()
    found: dict[str, list[SalesforceEntitlement]] = {code: [] for code in product_line_codes}
    for entitlement, code in rows:
        if code is not None:  # always: the query asked for these codes
            found[code].append(entitlement)
    return {code: _judge(found[code], today, code) for code in product_line_codes}


def _judge(candidates: list[SalesforceEntitlement], today: date, code: str) -> Eligibility:
    """The best of a line's entitlements: one that covers today (the one lasting
    longest), else the one a person most needs to hear about: a refused status, then the
    next to start, then the last to end."""
    if not candidates:
        return Eligibility(False, NO_ENTITLEMENT, None, today, code)
    covering = [e for e in candidates if _covers(e, today)]
    usable = [e for e in covering if e.status.strip().lower() in DATE_STATUSES]
    if usable:
        best = max(usable, key=lambda e: e.end_date or date.max)
        until = f"until {best.end_date.isoformat()}" if best.end_date else "with no end date"
        return Eligibility(True, f"covered {until}", best, today, code)
    if covering:
        refused = covering[0]
        return Eligibility(
            False, f"inactive (status {refused.status or 'empty'})", refused, today, code
        )
    future = [e for e in candidates if e.start_date is not None and e.start_date > today]
    if future:
        first = min(future, key=lambda e: e.start_date or date.max)
        assert first.start_date is not None
        return Eligibility(False, f"starts on {first.start_date.isoformat()}", first, today, code)
    last = max(candidates, key=lambda e: e.end_date or date.min)
    assert last.end_date is not None  # neither covering nor in the future: it ended
    return Eligibility(False, f"ended on {last.end_date.isoformat()}", last, today, code)


def _covers(entitlement: SalesforceEntitlement, today: date) -> bool:
    starts, ends = entitlement.start_date, entitlement.end_date
    return (starts is None or starts <= today) and (ends is None or today <= ends)
