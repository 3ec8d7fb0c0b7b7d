"""The routing rule, rule by rule, then as properties over generated accounts."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.routing.decision import (
    EntitlementView,
    LineState,
    RouteDecision,
    UserView,
    decide,
    is_active,
)

TODAY = date(2026, 6, 15)
EVERYONE = frozenset({"portal", "licensing", "downloads"})
LINES = (LineState("CAD", "CAD suite", "legacy"), LineState("PLM", "PLM suite", "new"))


def ent(
    line: str = "CAD",
    held_by: tuple[str, ...] = ("legacy",),
    *,
    status: str = "active",
    end: date | None = TODAY + timedelta(days=100),
    external_id: str = "E-1",
) -> EntitlementView:
    return EntitlementView(
        external_id=external_id,
        product_line_code=line,
        product_line_name=f"{line} suite",
        product=f"{line} Server",
        unit_of_measure="seat",
        quantity=Decimal(5),
        kind="subscription",
        start_date=TODAY - timedelta(days=10),
        end_date=end,
        status=status,
        held_by=frozenset(held_by),
    )


def route(
    entitlements: list[EntitlementView],
    *,
    lines: tuple[LineState, ...] = LINES,
    permissions: frozenset[str] = EVERYONE,
    grace_days: int = 0,
    deep_link: str | None = None,
    remembered: str | None = None,
) -> RouteDecision:
    return decide(
        UserView(permissions),
        entitlements,
        lines,
        today=TODAY,
        grace_days=grace_days,
        deep_link_system=deep_link,
        remembered_system=remembered,
    )


# --- activity -----------------------------------------------------------------------------


def test_entitlement_ending_today_is_active_and_yesterday_is_not() -> None:
    assert is_active(ent(end=TODAY), TODAY, 0)
    assert not is_active(ent(end=TODAY - timedelta(days=1)), TODAY, 0)


def test_grace_period_keeps_a_recently_ended_entitlement_active() -> None:
    ended = ent(end=TODAY - timedelta(days=3))
    assert is_active(ended, TODAY, 3)
    assert not is_active(ended, TODAY, 2)


def test_entitlement_without_end_date_is_active_only_with_active_status() -> None:
    assert is_active(ent(end=None), TODAY, 0)
    assert not is_active(ent(end=None, status="cancelled"), TODAY, 0)


# --- permissions --------------------------------------------------------------------------


def test_portal_only_user_has_no_access_even_with_entitlements() -> None:
    decision = route([ent()], permissions=frozenset({"portal", "admin"}))
    assert decision.kind == "no_access"
    assert decision.systems == () and decision.by_system == {}


def test_licensing_or_downloads_alone_is_enough_to_be_routed() -> None:
    assert route([ent()], permissions=frozenset({"licensing"})).kind == "system"
    assert route([ent()], permissions=frozenset({"downloads"})).kind == "system"


# --- line resolution ----------------------------------------------------------------------


def test_legacy_line_goes_to_legacy_even_when_new_holds_it() -> None:
    decision = route([ent("CAD", ("legacy", "new"))])
    assert (decision.kind, decision.systems) == ("system", ("legacy",))


def test_new_line_held_by_new_goes_to_new() -> None:
    decision = route([ent("PLM", ("new",))])
    assert (decision.kind, decision.systems) == ("system", ("new",))
    assert decision.trace[0].line_code == "PLM" and decision.trace[0].system == "new"


def test_new_line_not_yet_in_new_system_waits_on_legacy() -> None:
    decision = route([ent("PLM", ("legacy",))])
    assert decision.systems == ("legacy",)
    assert decision.trace[0].reason == "waiting for data in new system"


def test_readiness_ignores_expired_entitlements_held_by_new() -> None:
    expired_in_new = ent("PLM", ("new",), end=TODAY - timedelta(days=30), external_id="E-2")
    decision = route([ent("PLM", ("legacy",)), expired_in_new])
    assert decision.systems == ("legacy",)


def test_line_in_a_state_without_rule_stays_on_legacy_with_a_reason() -> None:
    frozen = (LineState("PLM", "PLM suite", "frozen"),)
    decision = route([ent("PLM", ("new",))], lines=frozen)
    assert decision.systems == ("legacy",)
    assert "frozen" in decision.trace[0].reason


def test_line_missing_from_configuration_stays_on_legacy() -> None:
    decision = route([ent("XYZ", ("new",))])
    assert decision.systems == ("legacy",) and decision.trace[0].state == "unknown"


# --- one, two or no systems ---------------------------------------------------------------


def test_lines_in_both_systems_offer_a_choice_with_entitlements_per_system() -> None:
    cad, plm = ent("CAD", external_id="E-1"), ent("PLM", ("new",), external_id="E-2")
    decision = route([plm, cad])
    assert (decision.kind, decision.systems) == ("choice", ("legacy", "new"))
    assert decision.by_system == {"legacy": (cad,), "new": (plm,)}


def test_deep_link_to_one_of_the_options_wins_over_the_choice_and_the_memory() -> None:
    both = [ent("CAD", external_id="E-1"), ent("PLM", ("new",), external_id="E-2")]
    decision = route(both, deep_link="new", remembered="legacy")
    assert (decision.kind, decision.systems, decision.reason) == ("system", ("new",), "deep link")


def test_deep_link_to_a_system_without_the_users_lines_is_ignored() -> None:
    decision = route([ent("CAD")], deep_link="new")
    assert decision.systems == ("legacy",)


def test_remembered_choice_is_used_while_still_an_option() -> None:
    both = [ent("CAD", external_id="E-1"), ent("PLM", ("new",), external_id="E-2")]
    assert route(both, remembered="new").systems == ("new",)
    assert route(both, remembered="retired").kind == "choice"


def test_no_active_entitlements_means_none() -> None:
    assert route([]).kind == "none"
    expired = route([ent(end=TODAY - timedelta(days=1)), ent(status="expired", external_id="E-2")])
    assert (expired.kind, expired.trace) == ("none", ())


# --- properties ---------------------------------------------------------------------------

FAST = settings(max_examples=150, deadline=None, database=None, derandomize=True)
SYSTEM_KEYS = ("legacy", "new")
LINE_CODES = ("CAD", "CAM", "PLM")

line_states = st.dictionaries(
    st.sampled_from(LINE_CODES), st.sampled_from(("legacy", "new", "pilot")), max_size=3
)
entitlements = st.lists(
    st.builds(
        ent,
        line=st.sampled_from(LINE_CODES),
        held_by=st.lists(st.sampled_from(SYSTEM_KEYS), max_size=2, unique=True).map(tuple),
        status=st.sampled_from(("active", "active", "inactive", "expired", "cancelled")),
        end=st.none() | st.integers(-120, 400).map(lambda days: TODAY + timedelta(days=days)),
        external_id=st.uuids().map(str),
    ),
    max_size=8,
)
permission_sets = st.frozensets(st.sampled_from(("portal", "licensing", "downloads", "admin")))
maybe_system = st.none() | st.sampled_from((*SYSTEM_KEYS, "retired"))


def lines_of(states: dict[str, str]) -> tuple[LineState, ...]:
    return tuple(LineState(code, f"{code} suite", state) for code, state in states.items())


@FAST
@given(entitlements, line_states, permission_sets, maybe_system, maybe_system, st.integers(0, 30))
def test_decision_is_deterministic_and_order_independent(
    rows: list[EntitlementView],
    states: dict[str, str],
    permissions: frozenset[str],
    deep_link: str | None,
    remembered: str | None,
    grace_days: int,
) -> None:
    def once(order: list[EntitlementView], lines: tuple[LineState, ...]) -> RouteDecision:
        return route(
            order,
            lines=lines,
            permissions=permissions,
            grace_days=grace_days,
            deep_link=deep_link,
            remembered=remembered,
        )

    first = once(rows, lines_of(states))
    assert once(list(reversed(rows)), tuple(reversed(lines_of(states)))) == first
    assert once(rows, lines_of(states)) == first


@FAST
@given(
    entitlements,
    line_states,
    permission_sets,
    maybe_system,
    maybe_system,
    entitlements.filter(bool).map(lambda rows: rows[0]),
    st.integers(1, 500),
)
def test_adding_an_expired_entitlement_never_changes_the_decision(
    rows: list[EntitlementView],
    states: dict[str, str],
    permissions: frozenset[str],
    deep_link: str | None,
    remembered: str | None,
    extra: EntitlementView,
    days_ago: int,
) -> None:
    expired = dataclasses.replace(
        extra, external_id="E-expired", end_date=TODAY - timedelta(days=days_ago)
    )
    before = route(
        rows,
        lines=lines_of(states),
        permissions=permissions,
        deep_link=deep_link,
        remembered=remembered,
    )
    after = route(
        [*rows, expired],
        lines=lines_of(states),
        permissions=permissions,
        deep_link=deep_link,
        remembered=remembered,
    )
    assert after == before


@FAST
@given(entitlements, line_states, permission_sets)
def test_user_without_licensing_or_downloads_is_always_no_access(
    rows: list[EntitlementView], states: dict[str, str], permissions: frozenset[str]
) -> None:
    without = permissions - {"licensing", "downloads"}
    assert route(rows, lines=lines_of(states), permissions=without).kind == "no_access"


@FAST
@given(entitlements, line_states)
def test_a_line_goes_to_new_only_when_new_holds_an_active_entitlement_of_it(
    rows: list[EntitlementView], states: dict[str, str]
) -> None:
    decision = route(rows, lines=lines_of(states))
    for entry in decision.trace:
        if entry.system == "new":
            assert states.get(entry.line_code) == "new"
            assert any(
                e.product_line_code == entry.line_code
                and "new" in e.held_by
                and is_active(e, TODAY, 0)
                for e in rows
            )


@FAST
@given(entitlements, line_states, maybe_system, maybe_system)
def test_destination_is_always_a_system_holding_an_active_line(
    rows: list[EntitlementView],
    states: dict[str, str],
    deep_link: str | None,
    remembered: str | None,
) -> None:
    decision = route(rows, lines=lines_of(states), deep_link=deep_link, remembered=remembered)
    active = sorted(e.external_id for e in rows if is_active(e, TODAY, 0))
    routed = sorted(e.external_id for group in decision.by_system.values() for e in group)
    assert routed == active
    assert set(decision.systems) <= set(decision.by_system)
    if decision.kind == "system":
        assert len(decision.systems) == 1
    if decision.kind == "choice":
        assert len(decision.systems) >= 2
        assert deep_link not in decision.systems and remembered not in decision.systems
    assert (decision.kind == "none") == (not active)
