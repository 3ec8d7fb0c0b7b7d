"""An account's entitlements as its people read them: per product line and product, the
quantity in words, the term and the days left, and which license center holds each.

Plain functions over the directory. Filtering, sorting and paging happen in SQL, so an
account with thousands of entitlements costs one page of rows (and one count) per page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, case, exists, func, select
from sqlalchemy.orm import Session

from gateway.core.models import Account, Entitlement, EntitlementHolding, ProductLine, System
from gateway.core.models.directory import ENTITLEMENT_KINDS
from gateway.core.paging import Page
from gateway.core.units import plain_number, quantity_for_people

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE = 100_000
# "Expiring within N days": at most ten years ahead.
MAX_WITHIN_DAYS = 3650
# A CSV export holds every matching row up to this many (far beyond any real account).
CSV_LIMIT = 100_000
# Terms ending this soon are highlighted, each band with its own class and words.
HIGHLIGHT_DAYS = (30, 60, 90)
SORTS = ("line", "product", "end", "days_left")
DIRECTIONS = ("asc", "desc")
# Who sees quantities and terms: the permissions that open a license center.
SEEING_PERMISSIONS = frozenset({"licensing", "downloads"})
KIND_NAMES = {
    "perpetual": "Perpetual",
    "subscription": "Subscription",
    "maintenance": "Maintenance",
}


def long_date(value: date) -> str:
    """`1 May 2026`: unambiguous for customers in every country (as the choice page)."""
    return f"{value.day} {value:%B %Y}"


def may_see_entitlements(permission_names: Iterable[str]) -> bool:
    """Users who may open a license center (licensing or downloads) see their account's
    entitlements; portal-only users see who decides instead (docs/customer-pages.md)."""
    return not SEEING_PERMISSIONS.isdisjoint(permission_names)


@dataclass(frozen=True)
class Filters:
    """What to show: one line, one license center, one kind, terms ending within N days
    (None: no limit on that)."""

    line: str | None = None
    system: str | None = None
    kind: str | None = None
    expiring_within: int | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.line, self.system, self.kind, self.expiring_within))


@dataclass(frozen=True)
class Listing:
    """In which order, and which page of how many rows."""

    sort: str = "end"
    direction: str = "asc"
    page: int = 1
    per_page: int = PAGE_SIZE


@dataclass(frozen=True)
class Holder:
    """A license center holding an entitlement."""

    key: str
    name: str


@dataclass(frozen=True)
class EntitlementRow:
    """One entitlement as the page, the CSV and the API show it."""

    id: str
    line_code: str
    line_name: str
    product: str
    quantity: Decimal
    unit_of_measure: str
    # "1,200" and "endpoints", in the reader's locale: together "1,200 endpoints".
    quantity_number: str
    unit_words: str
    kind: str
    start: date | None
    # None for a perpetual licence: it has no term that ends.
    end: date | None
    # From today (UTC); negative once the term has ended; None without an end.
    days_left: int | None
    systems: tuple[Holder, ...]
    status: str

    @property
    def quantity_text(self) -> str:
        return f"{self.quantity_number} {self.unit_words}".strip()

    @property
    def quantity_plain(self) -> str:
        return plain_number(self.quantity)

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind.capitalize())

    @property
    def expiry_band(self) -> int | None:
        """30, 60 or 90 when the term ends within that many days (today counts), else None."""
        if self.days_left is None or self.days_left < 0:
            return None
        return next((band for band in HIGHLIGHT_DAYS if self.days_left <= band), None)

    @property
    def expired(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def days_left_text(self) -> str:
        """ "14 days left", "1 day left", "Ends today", "Ended 3 days ago", "No end date"."""
        days = self.days_left
        if days is None:
            return "No end date"
        if days == 0:
            return "Ends today"
        if days > 0:
            return f"{days} day{'' if days == 1 else 's'} left"
        return f"Ended {-days} day{'' if days == -1 else 's'} ago"

    @property
    def system_names(self) -> str:
        return ", ".join(holder.name for holder in self.systems)


@dataclass(frozen=True)
class FilterChoices:
    """What the filter controls offer: the lines and license centers the account has."""

    lines: tuple[tuple[str, str], ...]
    systems: tuple[tuple[str, str], ...]
    kinds: tuple[str, ...] = ENTITLEMENT_KINDS


def effective_end() -> ColumnElement[Any]:
    """The end of the term: none for a perpetual licence, whatever its row says."""
    return case((Entitlement.kind == "perpetual", None), else_=Entitlement.end_date)


def _filtered(statement: Select[Any], account_id: int, filters: Filters, today: date) -> Any:
    statement = statement.where(Entitlement.account_id == account_id)
    if filters.line is not None:
        statement = statement.where(ProductLine.code == filters.line)
    if filters.kind is not None:
        statement = statement.where(Entitlement.kind == filters.kind)
    if filters.system is not None:
        held = (
            select(EntitlementHolding.entitlement_id)
            .join(System, System.id == EntitlementHolding.system_id)
            .where(
                EntitlementHolding.entitlement_id == Entitlement.id, System.key == filters.system
            )
        )
        statement = statement.where(exists(held))
    if filters.expiring_within is not None:
        end = effective_end()
        last = today + timedelta(days=filters.expiring_within)
        statement = statement.where(end >= today, end <= last)
    return statement


def _order(sort: str, direction: str) -> list[ColumnElement[Any]]:
    """The ORDER BY: the chosen key, then stable tie-breakers. Terms without an end come
    last whichever way end dates are sorted (NULLS LAST, spelled out for every backend)."""
    descending = direction == "desc"

    def way(column: Any) -> ColumnElement[Any]:
        return column.desc() if descending else column.asc()  # type: ignore[no-any-return]

    end = effective_end()
    by_end = [end.is_(None).asc(), way(end)]
    keys: dict[str, list[ColumnElement[Any]]] = {
        "line": [way(ProductLine.name), way(ProductLine.code), *by_end],
        "product": [way(Entitlement.product), *by_end],
        # Days left are counted from the end date: the same order.
        "end": by_end,
        "days_left": by_end,
    }
    return [*keys.get(sort, by_end), Entitlement.product.asc(), Entitlement.id.asc()]


def _rows_statement() -> Select[Any]:
    return select(
        Entitlement.id,
        Entitlement.external_id,
        ProductLine.code,
        ProductLine.name.label("line_name"),
        Entitlement.product,
        Entitlement.unit_of_measure,
        Entitlement.quantity,
        Entitlement.kind,
        Entitlement.start_date,
        effective_end().label("end_date"),
        Entitlement.status,
    ).join(ProductLine, ProductLine.id == Entitlement.product_line_id)


def _holders(db: Session, ids: Sequence[int]) -> dict[int, tuple[Holder, ...]]:
    """The license centers holding each of these entitlements, by name."""
    found: dict[int, list[Holder]] = {}
    if ids:
        rows = db.execute(
            select(EntitlementHolding.entitlement_id, System.key, System.name)
            .join(System, System.id == EntitlementHolding.system_id)
            .where(EntitlementHolding.entitlement_id.in_(ids))
            .order_by(System.name, System.key)
        )
        for row in rows:
            found.setdefault(row.entitlement_id, []).append(Holder(row.key, row.name))
    return {key: tuple(value) for key, value in found.items()}


def _as_rows(db: Session, rows: Sequence[Any], today: date, locale: str) -> list[EntitlementRow]:
    holders = _holders(db, [row.id for row in rows])
    shown = []
    for row in rows:
        quantity = quantity_for_people(row.quantity, row.unit_of_measure, locale)
        end: date | None = row.end_date
        shown.append(
            EntitlementRow(
                id=row.external_id,
                line_code=row.code,
                line_name=row.line_name,
                product=row.product,
                quantity=row.quantity,
                unit_of_measure=row.unit_of_measure,
                quantity_number=quantity.number,
                unit_words=quantity.unit,
                kind=row.kind,
                start=row.start_date,
                end=end,
                days_left=(end - today).days if end is not None else None,
                systems=holders.get(row.id, ()),
                status=row.status,
            )
        )
    return shown


def entitlement_page(
    db: Session,
    account_id: int,
    filters: Filters,
    listing: Listing,
    *,
    today: date,
    locale: str,
) -> Page[EntitlementRow]:
    """One page of the account's entitlements matching `filters`, in `listing`'s order.
    A page past the last shows the last one."""
    per_page = min(max(listing.per_page, 1), MAX_PAGE_SIZE)
    counted = _filtered(
        select(func.count()).select_from(Entitlement).join(ProductLine), account_id, filters, today
    )
    total = int(db.scalar(counted) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(listing.page, 1), pages)
    statement = (
        _filtered(_rows_statement(), account_id, filters, today)
        .order_by(*_order(listing.sort, listing.direction))
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = db.execute(statement).all()
    return Page(tuple(_as_rows(db, rows, today, locale)), total, page, per_page)


def all_entitlements(
    db: Session,
    account_id: int,
    filters: Filters,
    listing: Listing,
    *,
    today: date,
    locale: str,
) -> list[EntitlementRow]:
    """Every entitlement matching `filters` in `listing`'s order (paging ignored), for
    the CSV export, up to CSV_LIMIT rows."""
    statement = (
        _filtered(_rows_statement(), account_id, filters, today)
        .order_by(*_order(listing.sort, listing.direction))
        .limit(CSV_LIMIT)
    )
    rows = db.execute(statement).all()
    result: list[EntitlementRow] = []
    # Holders are read in chunks: an IN list of every id would grow without bound.
    for start in range(0, len(rows), 1000):
        result += _as_rows(db, rows[start : start + 1000], today, locale)
    return result


def filter_choices(db: Session, account_id: int) -> FilterChoices:
    """The product lines and license centers among the account's entitlements."""
    lines = db.execute(
        select(ProductLine.code, ProductLine.name)
        .where(
            exists(
                select(Entitlement.id).where(
                    Entitlement.account_id == account_id,
                    Entitlement.product_line_id == ProductLine.id,
                )
            )
        )
        .order_by(ProductLine.name, ProductLine.code)
    ).all()
    systems = db.execute(
        select(System.key, System.name)
        .where(
            exists(
                select(EntitlementHolding.entitlement_id)
                .join(Entitlement, Entitlement.id == EntitlementHolding.entitlement_id)
                .where(
                    Entitlement.account_id == account_id,
                    EntitlementHolding.system_id == System.id,
                )
            )
        )
        .order_by(System.name, System.key)
    ).all()
    return FilterChoices(
        tuple((row.code, row.name) for row in lines),
        tuple((row.key, row.name) for row in systems),
    )


def account_of(db: Session, account_id: int) -> Account:
    account = db.get(Account, account_id)
    assert account is not None  # a signed-in user's account exists (users cascade with it)
    return account


CSV_HEADER = (
    "entitlement",
    "product_line",
    "product_line_name",
    "product",
    "quantity",
    "unit_of_measure",
    "quantity_text",
    "kind",
    "start_date",
    "end_date",
    "days_left",
    "license_centers",
    "status",
)


def csv_rows(rows: Iterable[EntitlementRow]) -> list[list[object]]:
    """The export's rows, in CSV_HEADER's order: machine-readable numbers and ISO dates,
    with the quantity for people beside them."""
    return [
        [
            row.id,
            row.line_code,
            row.line_name,
            row.product,
            row.quantity_plain,
            row.unit_of_measure,
            row.quantity_text,
            row.kind,
            row.start.isoformat() if row.start else "",
            row.end.isoformat() if row.end else "",
            "" if row.days_left is None else row.days_left,
            " ".join(holder.key for holder in row.systems),
            row.status,
        ]
        for row in rows
    ]
