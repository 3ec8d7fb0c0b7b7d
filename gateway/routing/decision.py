"""The routing rule: which license center(s) a user's active entitlements live in.

Pure Python on frozen values, so it is unit- and property-tested without Flask or a
database. The service loads the inputs; the views act on the RouteDecision.

    decision = decide(user, entitlements, lines, today=date.today(), grace_days=0,
                      deep_link_system=None, remembered_system=user.remembered_system)
    if decision.kind == "system":
        send_to(decision.systems[0])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

LEGACY = "legacy"
NEW = "new"
# Either one is enough to use a license center: licensing shows keys, downloads shows files.
ROUTING_PERMISSIONS = frozenset({"licensing", "downloads"})

DecisionKind = Literal["system", "choice", "none", "no_access"]


@dataclass(frozen=True)
class EntitlementView:
    """One entitlement of the user's account, as routing sees it."""

    external_id: str
    product_line_code: str
    product_line_name: str
    product: str
    unit_of_measure: str
    quantity: Decimal
    kind: str
    start_date: date | None
    end_date: date | None
    status: str
    held_by: frozenset[str]


@dataclass(frozen=True)
class LineState:
    """A product line and its migration state (`legacy` or `new`)."""

    code: str
    name: str
    state: str


@dataclass(frozen=True)
class UserView:
    """What routing needs to know about the user.

    `remembered_system` is the stored choice; decide() honours its own
    `remembered_system` argument instead, so the choice page can set it aside.
    """

    permissions: frozenset[str]
    remembered_system: str | None = None


@dataclass(frozen=True)
class LineTrace:
    """Why one product line went where it went: support reads these."""

    line_code: str
    state: str
    system: str
    reason: str


@dataclass(frozen=True)
class RouteDecision:
    """Where to send the user.

    `systems` is the destination for "system", the options for "choice", and empty
    otherwise; `by_system` holds every option's active entitlements, so a
    remembered or deep-linked destination still shows what lives elsewhere.
    """

    kind: DecisionKind
    systems: tuple[str, ...]
    by_system: Mapping[str, tuple[EntitlementView, ...]]
    trace: tuple[LineTrace, ...]
    reason: str

    @property
    def options(self) -> tuple[str, ...]:
        """Every system that holds at least one of the user's active lines."""
        return tuple(self.by_system)


@dataclass(frozen=True)
class Resolution:
    """What a state rule says about a line, before the readiness gate."""

    system: str
    reason: str


# A state rule maps a line (and, for future pilot/rollout states, the user) to a system.
StateRule = Callable[[LineState, UserView], Resolution]

STATE_RULES: Mapping[str, StateRule] = MappingProxyType(
    {
        "legacy": lambda line, user: Resolution(LEGACY, "line is on the legacy system"),
        "new": lambda line, user: Resolution(NEW, "line has moved to the new system"),
    }
)

_EMPTY: Mapping[str, tuple[EntitlementView, ...]] = MappingProxyType({})


def is_active(entitlement: EntitlementView, today: date, grace_days: int) -> bool:
    """Active status and not past its end date plus the grace period."""
    if entitlement.status != "active":
        return False
    end = entitlement.end_date
    return end is None or end + timedelta(days=grace_days) >= today


def decide(
    user: UserView,
    entitlements: Iterable[EntitlementView],
    lines: Iterable[LineState],
    *,
    today: date,
    grace_days: int,
    deep_link_system: str | None,
    remembered_system: str | None,
) -> RouteDecision:
    """Apply the routing rule (DESIGN.md, "The routing rule") to one user."""
    if not user.permissions & ROUTING_PERMISSIONS:
        return RouteDecision("no_access", (), _EMPTY, (), "no licensing or downloads permission")
    active = [e for e in entitlements if is_active(e, today, grace_days)]
    states = {line.code: line for line in lines}
    trace = tuple(
        _resolve_line(code, states.get(code), active, user)
        for code in sorted({e.product_line_code for e in active})
    )
    by_system = _group_by_system(active, trace)
    return _choose(by_system, trace, deep_link_system, remembered_system)


def _resolve_line(
    code: str, line: LineState | None, active: list[EntitlementView], user: UserView
) -> LineTrace:
    if line is None:
        return LineTrace(code, "unknown", LEGACY, "line is not configured; legacy by default")
    rule = STATE_RULES.get(line.state)
    if rule is None:
        return LineTrace(code, line.state, LEGACY, f"state {line.state!r} has no rule; legacy")
    resolution = rule(line, user)
    if resolution.system == NEW and not _new_holds_line(code, active):
        return LineTrace(code, line.state, LEGACY, "waiting for data in new system")
    return LineTrace(code, line.state, resolution.system, resolution.reason)


def _new_holds_line(code: str, active: list[EntitlementView]) -> bool:
    """Readiness gate: the new system exports at least one of this line's entitlements."""
    return any(e.product_line_code == code and NEW in e.held_by for e in active)


def _group_by_system(
    active: list[EntitlementView], trace: tuple[LineTrace, ...]
) -> Mapping[str, tuple[EntitlementView, ...]]:
    system_of_line = {entry.line_code: entry.system for entry in trace}
    grouped: dict[str, list[EntitlementView]] = {}
    for entitlement in sorted(active, key=_display_order):
        grouped.setdefault(system_of_line[entitlement.product_line_code], []).append(entitlement)
    return MappingProxyType({key: tuple(grouped[key]) for key in sorted(grouped)})


def _display_order(entitlement: EntitlementView) -> tuple[str, str, str]:
    return (entitlement.product_line_code, entitlement.product, entitlement.external_id)


def _choose(
    by_system: Mapping[str, tuple[EntitlementView, ...]],
    trace: tuple[LineTrace, ...],
    deep_link_system: str | None,
    remembered_system: str | None,
) -> RouteDecision:
    options = tuple(by_system)
    if not options:
        return RouteDecision("none", (), by_system, trace, "no active entitlements")
    if len(options) == 1:
        return RouteDecision("system", options, by_system, trace, "one system holds every line")
    if deep_link_system is not None and deep_link_system in options:
        return RouteDecision("system", (deep_link_system,), by_system, trace, "deep link")
    if remembered_system is not None and remembered_system in options:
        return RouteDecision("system", (remembered_system,), by_system, trace, "remembered choice")
    return RouteDecision("choice", options, by_system, trace, "lines live in several systems")
