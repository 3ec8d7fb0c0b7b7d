"""The landing service: what the routing pages show, entitlements per system and product
line, labelled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from gateway.core.units import DEFAULT_LOCALE, quantity_for_people
from gateway.routing.config import SystemStatus
from gateway.routing.decision import EntitlementView, RouteDecision

# Customers renew on quarterly cycles; two months gives them time to act.
ENDS_SOON_DAYS = 60
TERM_NAMES = {"subscription": "Subscription", "maintenance": "Maintenance"}
# The choice page shows a system's details open when they are this short; longer
# ones wait behind their summary so that the page (and Continue) stays in view.
DETAILS_OPEN_ROWS = 12


@dataclass(frozen=True)
class EntitlementRow:
    """One entitlement as a table row."""

    product: str
    quantity: str
    unit_of_measure: str
    # The two together for people, in the reader's locale: "1,200 endpoints".
    quantity_text: str
    kind: str
    status: str
    end_label: str
    # Only for terms that end; a perpetual licence shows no date.
    end_date: date | None
    ends_soon: bool


@dataclass(frozen=True)
class LineGroup:
    """A product line's entitlements within one system."""

    code: str
    name: str
    entitlements: tuple[EntitlementRow, ...]

    @property
    def nearest_end(self) -> date | None:
        """The soonest end among the line's terms (perpetual licences have none)."""
        return min((row.end_date for row in self.entitlements if row.end_date), default=None)

    @property
    def ends_soon(self) -> bool:
        return any(row.ends_soon for row in self.entitlements)


@dataclass(frozen=True)
class SystemOption:
    """One license center on the choice page and what the user has there."""

    key: str
    name: str
    lines: tuple[LineGroup, ...]

    @property
    def count(self) -> int:
        """How many entitlements the user's account holds there."""
        return sum(len(line.entitlements) for line in self.lines)

    @property
    def nearest_end(self) -> date | None:
        return min((end for line in self.lines if (end := line.nearest_end)), default=None)


def long_date(value: date) -> str:
    """`1 May 2026`: unambiguous for customers in every country."""
    return f"{value.day} {value:%B %Y}"


def quantity_text(quantity: Decimal) -> str:
    """`25`, `2.5`: no trailing zeros and never scientific notation."""
    return format(quantity.normalize(), "f")


def end_label(entitlement: EntitlementView, today: date) -> str:
    """ "Perpetual", "Subscription ends 1 May 2026", "Maintenance ended 2 May 2025"."""
    term = TERM_NAMES.get(entitlement.kind)
    if term is None:
        return "Perpetual"
    if entitlement.end_date is None:
        return f"{term}, no end date"
    verb = "ended" if entitlement.end_date < today else "ends"
    return f"{term} {verb} {long_date(entitlement.end_date)}"


def ends_soon(entitlement: EntitlementView, today: date) -> bool:
    """A term that ends (or ended, within the grace period) in the next 60 days."""
    if entitlement.kind not in TERM_NAMES or entitlement.end_date is None:
        return False
    return (entitlement.end_date - today).days <= ENDS_SOON_DAYS


def entitlement_row(
    entitlement: EntitlementView, today: date, locale: str = DEFAULT_LOCALE
) -> EntitlementRow:
    """The display form of one entitlement."""
    return EntitlementRow(
        product=entitlement.product,
        quantity=quantity_text(entitlement.quantity),
        unit_of_measure=entitlement.unit_of_measure,
        quantity_text=quantity_for_people(
            entitlement.quantity, entitlement.unit_of_measure, locale
        ).text,
        kind=entitlement.kind,
        status=entitlement.status,
        end_label=end_label(entitlement, today),
        end_date=entitlement.end_date if entitlement.kind in TERM_NAMES else None,
        ends_soon=ends_soon(entitlement, today),
    )


def line_groups(
    entitlements: Iterable[EntitlementView], today: date, locale: str = DEFAULT_LOCALE
) -> tuple[LineGroup, ...]:
    """Entitlements grouped by product line, lines by name."""
    grouped: dict[str, list[EntitlementView]] = {}
    for entitlement in entitlements:
        grouped.setdefault(entitlement.product_line_code, []).append(entitlement)
    groups = [
        LineGroup(
            code,
            members[0].product_line_name,
            tuple(entitlement_row(e, today, locale) for e in members),
        )
        for code, members in grouped.items()
    ]
    return tuple(sorted(groups, key=lambda group: (group.name, group.code)))


def system_options(
    decision: RouteDecision,
    system_names: Mapping[str, str],
    today: date,
    locale: str = DEFAULT_LOCALE,
) -> tuple[SystemOption, ...]:
    """One entry per system the user may choose, with what it holds for them."""
    return tuple(
        SystemOption(
            key, system_names.get(key, key), line_groups(decision.by_system[key], today, locale)
        )
        for key in decision.options
    )


@dataclass(frozen=True)
class DownSystem:
    """A license center that is down, as a customer is told about it."""

    name: str
    # Plain words for what is wrong: "down for maintenance", "not answering".
    state: str
    # IT's message to customers about the outage; empty shows only `state`.
    customer_message: str = ""


@dataclass(frozen=True)
class UnreachableLine:
    """A product line the user cannot open right now, with its products."""

    name: str
    products: tuple[str, ...]


@dataclass(frozen=True)
class DownNotice:
    """The short notice before a hand-off while part of the user's products are down."""

    destination: str
    down: tuple[DownSystem, ...]
    lines: tuple[UnreachableLine, ...]


def down_system(status: SystemStatus) -> DownSystem:
    """What customers read about a down system. IT's maintenance note is written for
    IT and is not shown here; a customer-facing maintenance message, where the system
    carries one, is passed on as `customer_message`."""
    state = "down for maintenance" if status.maintenance else "not answering at the moment"
    return DownSystem(status.name, state, customer_message_of(status))


def customer_message_of(status: SystemStatus) -> str:
    """The system's customer-facing maintenance message ("" when IT wrote none); only
    while it is in maintenance, so an old message never outlives its maintenance."""
    return status.customer_message if status.maintenance else ""


def down_notice(
    destination: SystemStatus,
    down: Iterable[SystemStatus],
    unreachable: Iterable[EntitlementView],
) -> DownNotice:
    """The notice naming the down systems and the unreachable lines and products."""
    products: dict[tuple[str, str], set[str]] = {}
    for entitlement in unreachable:
        key = (entitlement.product_line_name, entitlement.product_line_code)
        products.setdefault(key, set()).add(entitlement.product)
    lines = tuple(
        UnreachableLine(name, tuple(sorted(p for p in names if p)))
        for (name, _), names in sorted(products.items())
    )
    return DownNotice(destination.name, tuple(down_system(s) for s in down), lines)
