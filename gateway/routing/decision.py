"""The routing rule: which license center(s) a user's active entitlements live in.

Pure Python on frozen values, so it is unit- and property-tested without Flask or a
database. The service loads the inputs; the views act on the RouteDecision.

    decision = decide(user, entitlements, lines, today=date.today(), grace_days=0,
                      deep_link_system=None, remembered_system=user.remembered_system,
                      now=datetime.now(UTC), down_systems=frozenset({"new"}))
    if decision.kind == "system":
        send_to(decision.systems[0])

Each line resolves by an active account override, else by its state's rule (a pilot
account stays on new when its line moves on to rollout); then
the readiness gate (new only when the new system holds the account's data for the
line and, where the line asks for it, that data agrees with Salesforce) and the
health gate (never a system that is down) apply, in that order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

LEGACY = "legacy"
NEW = "new"
SYSTEMS = (LEGACY, NEW)
# Rollout buckets: 0..9999, so a percentage with two decimals selects whole buckets.
BUCKETS = 10_000
# Either one is enough to use a license center: licensing shows keys, downloads shows files.
ROUTING_PERMISSIONS = frozenset({"licensing", "downloads"})

DecisionKind = Literal["system", "choice", "none", "no_access", "unavailable"]
GateName = Literal["readiness", "health"]


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
class Override:
    """IT's account-level exception for one line: always `system`, until `expires_at`."""

    system: str
    reason: str = ""
    expires_at: datetime | None = None

    def active_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class LineState:
    """A product line as one account sees it: state, rollout percent, pilot, override.

    `pilot` and `override` are already narrowed to the account being routed, so the
    rule never sees other customers' settings.
    """

    code: str
    name: str
    state: str
    percent: Decimal = Decimal(0)
    pilot: bool = False
    override: Override | None = None
    # None: the line does not ask; else whether the account's entitlements of the line
    # in the new system agree with Salesforce (unknown counts as not agreeing).
    salesforce_agrees: bool | None = None


@dataclass(frozen=True)
class UserView:
    """What routing needs to know about the user.

    `remembered_system` is the stored choice; decide() honours its own
    `remembered_system` argument instead, so the choice page can set it aside.
    """

    permissions: frozenset[str]
    remembered_system: str | None = None
    # The rollout bucket is per account: everyone in an organisation moves together.
    account_number: str = ""


@dataclass(frozen=True)
class LineTrace:
    """Why one product line went where it went: support reads these."""

    line_code: str
    state: str
    system: str
    reason: str
    bucket: int | None = None
    override: str | None = None
    # Which gate changed the rule's answer, if one did.
    gate: GateName | None = None

    def as_dict(self) -> dict[str, object]:
        """The trace as support tools and log lines show it."""
        return {
            "line": self.line_code,
            "state": self.state,
            "system": self.system,
            "reason": self.reason,
            "bucket": self.bucket,
            "override": self.override,
            "gate": self.gate,
        }


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
    # Systems that would have served one of the user's lines but are down.
    down: tuple[str, ...] = ()

    @property
    def options(self) -> tuple[str, ...]:
        """Every system that holds at least one of the user's active lines."""
        return tuple(self.by_system)


@dataclass(frozen=True)
class Resolution:
    """What a state rule says about a line, before the readiness gate."""

    system: str
    reason: str


def bucket(line_code: str, account_number: str) -> int:
    """The account's place (0-9999) in a line's rollout: the same in every process and
    release (sha256, not Python's salted hash()), so a percentage selects stable accounts."""
    digest = hashlib.sha256(f"{line_code}:{account_number}".encode()).hexdigest()
    return int(digest, 16) % BUCKETS


def in_rollout(bucket_value: int, percent: Decimal) -> bool:
    """New when the bucket is below percent x 100: raising the percent only ever adds accounts."""
    return bucket_value < int(percent * 100)


def _pilot_rule(line: LineState, user: UserView) -> Resolution:
    if line.pilot:
        return Resolution(NEW, "account is in the line's pilot")
    return Resolution(LEGACY, "line is in pilot; this account is not in it")


def _rollout_rule(line: LineState, user: UserView) -> Resolution:
    # The pilot's accounts were on new before the rollout began; a rollout only ever adds
    # accounts to new, so they stay there whatever the percent.
    if line.pilot:
        return Resolution(NEW, "account was in the line's pilot; pilots stay on new in rollout")
    place = bucket(line.code, user.account_number)
    if in_rollout(place, line.percent):
        return Resolution(NEW, f"bucket {place} is inside the {line.percent}% rollout")
    return Resolution(LEGACY, f"bucket {place} is outside the {line.percent}% rollout")


# A state rule maps a line (and, for pilot and rollout, the user's account) to a system.
StateRule = Callable[[LineState, UserView], Resolution]

STATE_RULES: Mapping[str, StateRule] = MappingProxyType(
    {
        "legacy": lambda line, user: Resolution(LEGACY, "line is on the legacy system"),
        "pilot": _pilot_rule,
        "rollout": _rollout_rule,
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
    now: datetime | None = None,
    down_systems: frozenset[str] = frozenset(),
) -> RouteDecision:
    """Apply the routing rule (docs/migration.md, "The rule") to one user.

    `now` decides whether overrides have expired (default: the start of `today`, UTC);
    `down_systems` are those in maintenance or failing their health probe.
    """
    if not user.permissions & ROUTING_PERMISSIONS:
        return RouteDecision("no_access", (), _EMPTY, (), "no licensing or downloads permission")
    active = [e for e in entitlements if is_active(e, today, grace_days)]
    moment = now or datetime.combine(today, time.min, UTC)
    trace = route_lines(user, active, lines, now=moment, down_systems=down_systems)
    by_system = _group_by_system(active, trace, down_systems)
    involved = {t.system for t in trace} | {system for e in active for system in e.held_by}
    down = tuple(sorted(involved & down_systems))
    if trace and not by_system:
        reason = "every system holding the user's lines is down"
        return RouteDecision("unavailable", (), by_system, trace, reason, down)
    return replace(_choose(by_system, trace, deep_link_system, remembered_system), down=down)


def route_lines(
    user: UserView,
    active: list[EntitlementView],
    lines: Iterable[LineState],
    *,
    now: datetime,
    down_systems: frozenset[str],
) -> tuple[LineTrace, ...]:
    """Where each of the user's active lines goes, and why; the core of decide().

    The migration preview calls this too, so preview and routing cannot disagree.
    """
    states = {line.code: line for line in lines}
    return tuple(
        resolve_line(code, states.get(code), active, user, now=now, down_systems=down_systems)
        for code in sorted({e.product_line_code for e in active})
    )


def resolve_line(
    code: str,
    line: LineState | None,
    active: list[EntitlementView],
    user: UserView,
    *,
    now: datetime,
    down_systems: frozenset[str],
) -> LineTrace:
    """One line: override or state rule, then the readiness gate, then the health gate."""
    place = bucket(code, user.account_number)
    if line is None:
        trace = LineTrace(
            code, "unknown", LEGACY, "line is not configured; legacy by default", place
        )
    elif line.override is not None and line.override.active_at(now):
        reason = f"account override: {line.override.reason}".rstrip(": ")
        trace = LineTrace(
            code, line.state, line.override.system, reason, place, line.override.system
        )
    elif (rule := STATE_RULES.get(line.state)) is None:
        reason = f"state {line.state!r} has no rule; legacy"
        trace = LineTrace(code, line.state, LEGACY, reason, place)
    else:
        resolution = rule(line, user)
        trace = LineTrace(code, line.state, resolution.system, resolution.reason, place)
    # Traces are built once and copied only when a gate changes them: the preview runs
    # this for every account of a line (hundreds of thousands of calls).
    return _health_gate(_readiness_gate(trace, line, active), active, down_systems)


WAITING_FOR_DATA = "waiting for data in new system"
WAITING_FOR_AGREEMENT = "waiting for the new system's data to agree with Salesforce"


def _readiness_gate(
    trace: LineTrace, line: LineState | None, active: list[EntitlementView]
) -> LineTrace:
    """New only when the new system exports at least one of the account's entitlements
    of this line and, on a line that asks for it, they agree with Salesforce; until then
    the line waits on legacy."""
    if trace.system != NEW:
        return trace
    if not _holds_line(trace.line_code, NEW, active):
        return replace(trace, system=LEGACY, reason=WAITING_FOR_DATA, gate="readiness")
    if line is not None and line.salesforce_agrees is False:
        return replace(trace, system=LEGACY, reason=WAITING_FOR_AGREEMENT, gate="readiness")
    return trace


def _health_gate(
    trace: LineTrace, active: list[EntitlementView], down_systems: frozenset[str]
) -> LineTrace:
    """A down system is no destination: use another healthy system holding the line, if any."""
    if trace.system not in down_systems:
        return trace
    for system in SYSTEMS:
        if system not in down_systems and _holds_line(trace.line_code, system, active):
            reason = f"{trace.system} system is down; {system} holds this line too"
            return replace(trace, system=system, reason=reason, gate="health")
    reason = f"{trace.system} system is down and no other system holds this line"
    return replace(trace, reason=reason, gate="health")


def _holds_line(code: str, system: str, active: list[EntitlementView]) -> bool:
    return any(e.product_line_code == code and system in e.held_by for e in active)


def _group_by_system(
    active: list[EntitlementView], trace: tuple[LineTrace, ...], down_systems: frozenset[str]
) -> Mapping[str, tuple[EntitlementView, ...]]:
    system_of_line = {entry.line_code: entry.system for entry in trace}
    grouped: dict[str, list[EntitlementView]] = {}
    for entitlement in sorted(active, key=_display_order):
        system = system_of_line[entitlement.product_line_code]
        if system not in down_systems:
            grouped.setdefault(system, []).append(entitlement)
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
