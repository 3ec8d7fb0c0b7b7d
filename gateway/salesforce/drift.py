"""The drift report: where Salesforce and the license centers disagree (docs/salesforce.md).

A Salesforce **Asset** is the counterpart of one directory entitlement (the rows the
license centers' exports put in `entitlements`). Salesforce keeps no id of ours on an
asset, so the two are matched by what both sides name: the same account (Salesforce's
account number), the same product line (by code) and the same product (our `product`
equal to the asset's Product2 name or product code, ignoring case and surrounding
spaces). When several of ours could match one asset (renewals, split orders), the asset
takes the one it agrees with most, then the lowest external id; each of ours pairs once.

Then, per pair: quantity, unit of measure (ignoring case), start (InstallDate), end
(UsageEndDate) and status (Salesforce's asset status read through `STATUS_OF`). An asset
without a partner is missing in the license centers; an entitlement of ours without one
is missing in Salesforce. Salesforce's Entitlement records are support coverage, not
licenses: they decide eligibility and are not compared here.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.csv_export import csv_text
from gateway.core.models import Account, Entitlement, EntitlementHolding, ProductLine, System
from gateway.core.models.salesforce import SalesforceAccount, SalesforceAsset

# The license center a line moves to: the one whose data must agree before it does.
NEW_SYSTEM = "new"
MISSING_IN_SALESFORCE = "missing_in_salesforce"
MISSING_IN_LICENSE_CENTERS = "missing_in_license_centers"
# Every kind of difference, in the order the report and the dashboard list them.
DRIFT_KINDS = (
    MISSING_IN_SALESFORCE,
    MISSING_IN_LICENSE_CENTERS,
    "quantity",
    "unit",
    "start_date",
    "end_date",
    "status",
)
# Salesforce's Asset statuses (the standard picklist and common additions) as the
# directory's entitlement statuses; any other status is reported as a difference.
STATUS_OF = {
    "purchased": "active",
    "shipped": "active",
    "installed": "active",
    "registered": "active",
    "active": "active",
    "inactive": "inactive",
    "obsolete": "expired",
    "expired": "expired",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}
CSV_HEADER = [
    "account_number",
    "product_line",
    "kind",
    "salesforce_value",
    "license_center_value",
    "salesforce_id",
    "entitlement_id",
    "product",
    "systems",
]


@dataclass(frozen=True)
class DriftRow:
    """One difference: a field that disagrees on a matched pair, or a record on one side only."""

    account_number: str
    product_line: str
    kind: str
    salesforce_value: str
    license_center_value: str
    salesforce_id: str  # the Asset's Id; '' when missing in Salesforce
    entitlement_id: str  # our external id; '' when missing in the license centers
    product: str
    systems: tuple[str, ...]  # the license centers holding ours

    def cells(self) -> list[object]:
        return [*(getattr(self, name) for name in CSV_HEADER[:-1]), " ".join(self.systems)]


@dataclass(frozen=True)
class _Ours:
    external_id: str
    account_number: str
    line: str
    product: str
    quantity: Decimal
    unit: str
    start: date | None
    end: date | None
    status: str
    systems: tuple[str, ...]


@dataclass(frozen=True)
class _Theirs:
    id: str
    account_number: str
    line: str
    names: frozenset[str]
    product: str
    quantity: Decimal | None
    unit: str
    start: date | None
    end: date | None
    status: str


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        # 1000.00 → "1000", 12.50 → "12.5": the same number reads the same on both sides.
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _key(text: str) -> str:
    return text.strip().casefold()


def _salesforce_status(status: str) -> str:
    return STATUS_OF.get(_key(status), status)


def _differences(theirs: _Theirs, ours: _Ours) -> list[tuple[str, str, str]]:
    """(kind, Salesforce's value, ours) for every field that disagrees."""
    found = []
    if theirs.quantity is None or theirs.quantity != ours.quantity:
        found.append(("quantity", _text(theirs.quantity), _text(ours.quantity)))
    if _key(theirs.unit) != _key(ours.unit):
        found.append(("unit", theirs.unit, ours.unit))
    if theirs.start != ours.start:
        found.append(("start_date", _text(theirs.start), _text(ours.start)))
    if theirs.end != ours.end:
        found.append(("end_date", _text(theirs.end), _text(ours.end)))
    if _salesforce_status(theirs.status) != ours.status:
        found.append(("status", theirs.status, ours.status))
    return found


def _summary(ours: _Ours) -> str:
    return (
        f"{_text(ours.quantity)} {ours.unit}, {_text(ours.start) or '…'} to "
        f"{_text(ours.end) or '…'}, {ours.status}"
    )


def _their_summary(theirs: _Theirs) -> str:
    return (
        f"{_text(theirs.quantity) or '?'} {theirs.unit}, {_text(theirs.start) or '…'} to "
        f"{_text(theirs.end) or '…'}, {theirs.status or '?'}"
    )


def _load_ours(db: Session, account_number: str | None, line: str | None) -> list[_Ours]:
    # Plain columns, not ORM objects: the dashboard reads the whole directory this way.
    query = (
        select(
            Entitlement.id,
            Entitlement.external_id,
            Account.account_number,
            ProductLine.code,
            Entitlement.product,
            Entitlement.quantity,
            Entitlement.unit_of_measure,
            Entitlement.start_date,
            Entitlement.end_date,
            Entitlement.status,
        )
        .join(Account, Account.id == Entitlement.account_id)
        .join(ProductLine, ProductLine.id == Entitlement.product_line_id)
    )
    held = (
        select(EntitlementHolding.entitlement_id, System.key)
        .join(System, System.id == EntitlementHolding.system_id)
        .join(Entitlement, Entitlement.id == EntitlementHolding.entitlement_id)
    )
    if account_number is not None:
        query = query.where(Account.account_number == account_number)
        held = held.join(Account, Account.id == Entitlement.account_id).where(
            Account.account_number == account_number
        )
    if line is not None:
        query = query.where(ProductLine.code == line)
        held = held.join(ProductLine, ProductLine.id == Entitlement.product_line_id).where(
            ProductLine.code == line
        )
    systems: dict[int, list[str]] = defaultdict(list)
    for entitlement_id, key in db.execute(held):
        systems[entitlement_id].append(key)
    return [
        _Ours(
            external_id=row.external_id,
            account_number=row.account_number,
            line=row.code,
            product=row.product,
            quantity=row.quantity,
            unit=row.unit_of_measure,
            start=row.start_date,
            end=row.end_date,
            status=row.status,
            systems=tuple(sorted(systems.get(row.id, ()))),
        )
        for row in db.execute(query)
    ]


def _load_theirs(db: Session, account_number: str | None, line: str | None) -> list[_Theirs]:
    query = select(SalesforceAsset, SalesforceAccount.account_number).outerjoin(
        SalesforceAccount, SalesforceAccount.id == SalesforceAsset.sf_account_id
    )
    if account_number is not None:
        query = query.where(SalesforceAccount.account_number == account_number)
    if line is not None:
        query = query.where(SalesforceAsset.product_line_code == line)
    return [
        _Theirs(
            id=asset.id,
            account_number=number or "",
            line=asset.product_line_code or "",
            names=frozenset({_key(asset.product), _key(asset.product_code)} - {""}),
            product=asset.product,
            quantity=asset.quantity,
            unit=asset.unit_of_measure,
            start=asset.install_date,
            end=asset.usage_end_date,
            status=asset.status,
        )
        for asset, number in db.execute(query).all()
    ]


def drift(
    db: Session, *, account_number: str | None = None, line: str | None = None
) -> list[DriftRow]:
    """Every difference, by account, line, kind and ids; optionally one account or line."""
    return _compare(_load_ours(db, account_number, line), _load_theirs(db, account_number, line))


def accounts_in_agreement(
    db: Session, line: str, account_number: str | None, system: str = NEW_SYSTEM
) -> frozenset[str]:
    """The accounts (or just `account_number`, if it qualifies) whose entitlements of
    `line` held by `system` agree with Salesforce's assets of that line: each side has a
    partner for every record, and no pair differs. Entitlements only the other system
    holds do not count, so an asset whose only match is still on legacy is missing from
    the new system. An account with nothing of the line in `system` is not listed.

    The readiness gate of a line that requires agreement asks this (hooks.AgreementCheck):
    for one account when it routes a user, for every account when IT previews a change."""
    ours = [o for o in _load_ours(db, account_number, line) if system in o.systems]
    differing = {
        row.account_number for row in _compare(ours, _load_theirs(db, account_number, line))
    }
    return frozenset({o.account_number for o in ours} - differing)


def _compare(all_ours: list[_Ours], all_theirs: list[_Theirs]) -> list[DriftRow]:
    ours_by_group: dict[tuple[str, str], list[_Ours]] = defaultdict(list)
    for ours in sorted(all_ours, key=lambda o: o.external_id):
        ours_by_group[ours.account_number, ours.line].append(ours)
    rows: list[DriftRow] = []
    for theirs in sorted(all_theirs, key=lambda t: t.id):
        group = ours_by_group[theirs.account_number, theirs.line]
        candidates = [o for o in group if _key(o.product) in theirs.names]
        if not candidates:
            rows.append(
                DriftRow(
                    theirs.account_number,
                    theirs.line,
                    MISSING_IN_LICENSE_CENTERS,
                    _their_summary(theirs),
                    "",
                    theirs.id,
                    "",
                    theirs.product,
                    (),
                )
            )
            continue
        # min() keeps the first of equals: the lowest external id, as sorted above.
        partner = min(candidates, key=lambda o: len(_differences(theirs, o)))
        group.remove(partner)
        rows.extend(
            DriftRow(
                theirs.account_number,
                theirs.line,
                kind,
                their_value,
                our_value,
                theirs.id,
                partner.external_id,
                partner.product,
                partner.systems,
            )
            for kind, their_value, our_value in _differences(theirs, partner)
        )
    rows.extend(
        DriftRow(
            ours.account_number,
            ours.line,
            MISSING_IN_SALESFORCE,
            "",
            _summary(ours),
            "",
            ours.external_id,
            ours.product,
            ours.systems,
        )
        for group in ours_by_group.values()
        for ours in group
    )
    order = {kind: n for n, kind in enumerate(DRIFT_KINDS)}
    return sorted(
        rows,
        key=lambda r: (
            r.account_number,
            r.product_line,
            order[r.kind],
            r.salesforce_id,
            r.entitlement_id,
        ),
    )


def counts_by_kind(rows: Iterable[DriftRow]) -> dict[str, int]:
    """How many differences of each kind, every kind present (0 when none)."""
    counted = Counter(row.kind for row in rows)
    return {kind: counted.get(kind, 0) for kind in DRIFT_KINDS}


def drift_csv(rows: Sequence[DriftRow]) -> str:
    return csv_text(CSV_HEADER, (row.cells() for row in rows))


def drift_json(rows: Sequence[DriftRow]) -> str:
    return json.dumps(
        {
            "counts": counts_by_kind(rows),
            "differences": [{**asdict(row), "systems": list(row.systems)} for row in rows],
        },
        indent=2,
    )
