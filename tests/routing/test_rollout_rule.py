"""The rollout part of the routing rule: buckets, pilot, rollout, overrides, and the
readiness and health gates, as examples and as properties over generated accounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.routing.decision import (
    BUCKETS,
    EntitlementView,
    LineState,
    Override,
    RouteDecision,
    UserView,
    bucket,
    decide,
    in_rollout,
)

TODAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
EVERYONE = frozenset({"portal", "licensing", "downloads"})
ROOT = Path(__file__).resolve().parents[2]


def ent(line: str, held_by: frozenset[str]) -> EntitlementView:
    return EntitlementView(
        f"E-{line}",
        line,
        f"{line} suite",
        f"{line} Server",
        "seat",
        Decimal(1),
        "subscription",
        TODAY - timedelta(days=1),
        TODAY + timedelta(days=30),
        "active",
        held_by,
    )


def route(
    account: str,
    lines: list[LineState],
    held: dict[str, frozenset[str]],
    down: frozenset[str] = frozenset(),
    now: datetime = NOW,
) -> RouteDecision:
    return decide(
        UserView(EVERYONE, None, account),
        [ent(code, systems) for code, systems in held.items()],
        lines,
        today=TODAY,
        grace_days=0,
        deep_link_system=None,
        remembered_system=None,
        now=now,
        down_systems=down,
    )


def system_of(decision: RouteDecision, code: str) -> str:
    return next(t.system for t in decision.trace if t.line_code == code)


BOTH = frozenset({"legacy", "new"})
accounts = st.text("0123456789ABCDEFXYZ-", min_size=1, max_size=12)
percents = st.decimals(min_value=0, max_value=100, places=2)
states = st.sampled_from(["legacy", "pilot", "rollout", "new"])
holdings = st.sampled_from([frozenset({"legacy"}), frozenset({"new"}), BOTH, frozenset()])
overrides = st.none() | st.builds(
    Override,
    st.sampled_from(["legacy", "new"]),
    st.just("support case"),
    st.none() | st.sampled_from([NOW - timedelta(hours=1), NOW + timedelta(hours=1)]),
)


@st.composite
def line_states(draw: st.DrawFn, code: str) -> LineState:
    return LineState(
        code, f"{code} suite", draw(states), draw(percents), draw(st.booleans()), draw(overrides)
    )


# --- examples -----------------------------------------------------------------------------


def test_bucket_is_sha256_of_line_and_account_mod_10000() -> None:
    # Pinned values: a release that changed the hash would silently move customers.
    assert bucket("NETGUARD", "100100") == 7025
    assert bucket("CLOUDVAULT", "100100") == 1264
    assert all(0 <= bucket("X", str(n)) < BUCKETS for n in range(200))


def test_rollout_sends_accounts_below_the_percent_to_new() -> None:
    place = bucket("NET", "A-1")
    inside = LineState("NET", "Net", "rollout", Decimal(place + 1) / 100)
    outside = LineState("NET", "Net", "rollout", Decimal(place) / 100)
    assert system_of(route("A-1", [inside], {"NET": BOTH}), "NET") == "new"
    decision = route("A-1", [outside], {"NET": BOTH})
    assert system_of(decision, "NET") == "legacy"
    assert decision.trace[0].bucket == place and f"bucket {place}" in decision.trace[0].reason


def test_pilot_sends_only_listed_accounts_to_new() -> None:
    listed = LineState("NET", "Net", "pilot", pilot=True)
    unlisted = LineState("NET", "Net", "pilot", pilot=False)
    assert system_of(route("A", [listed], {"NET": BOTH}), "NET") == "new"
    assert system_of(route("A", [unlisted], {"NET": BOTH}), "NET") == "legacy"


def test_expired_override_no_longer_applies() -> None:
    expired = Override("new", "trial", NOW - timedelta(seconds=1))
    line = LineState("NET", "Net", "legacy", override=expired)
    decision = route("A", [line], {"NET": BOTH})
    assert system_of(decision, "NET") == "legacy" and decision.trace[0].override is None
    live = LineState("NET", "Net", "legacy", override=Override("new", "trial", NOW))
    assert system_of(route("A", [live], {"NET": BOTH}, now=NOW - timedelta(seconds=1)), "NET") == (
        "new"
    )


def test_down_system_falls_back_to_the_other_holder_or_the_status_page() -> None:
    line = LineState("NET", "Net", "new")
    fallback = route("A", [line], {"NET": BOTH}, down=frozenset({"new"}))
    assert (fallback.kind, fallback.systems) == ("system", ("legacy",))
    assert fallback.trace[0].gate == "health" and fallback.down == ("new",)
    stranded = route("A", [line], {"NET": frozenset({"new"})}, down=frozenset({"new"}))
    assert (stranded.kind, stranded.systems, stranded.down) == ("unavailable", (), ("new",))


def test_waiting_for_data_is_marked_by_the_readiness_gate() -> None:
    decision = route("A", [LineState("NET", "Net", "new")], {"NET": frozenset({"legacy"})})
    assert system_of(decision, "NET") == "legacy" and decision.trace[0].gate == "readiness"


def test_buckets_are_the_same_in_another_process_with_another_hash_seed() -> None:
    pairs = [("NETGUARD", str(n)) for n in range(100000, 100050)] + [("CAD", "A-7"), ("É", "ü")]
    script = (
        "import json, sys; from gateway.routing.decision import bucket; "
        "print(json.dumps([bucket(l, a) for l, a in json.loads(sys.argv[1])]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    output = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", script, json.dumps(pairs)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    ).stdout
    assert json.loads(output) == [bucket(line, account) for line, account in pairs]


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(accounts, percents, percents)
def test_raising_the_percent_never_moves_an_account_back(
    account: str, low: Decimal, high: Decimal
) -> None:
    low, high = min(low, high), max(low, high)
    place = bucket("NET", account)
    assert not (in_rollout(place, low) and not in_rollout(place, high))
    at_low = system_of(
        route(account, [LineState("NET", "N", "rollout", low)], {"NET": BOTH}), "NET"
    )
    at_high = system_of(
        route(account, [LineState("NET", "N", "rollout", high)], {"NET": BOTH}), "NET"
    )
    assert not (at_low == "new" and at_high == "legacy")


@settings(max_examples=300, deadline=None)
@given(accounts, percents)
def test_rollout_share_matches_the_percent_over_the_bucket_space(
    account: str, percent: Decimal
) -> None:
    assert in_rollout(bucket("NET", account), percent) == (
        bucket("NET", account) < int(percent * 100)
    )
    assert in_rollout(0, Decimal("0.01")) and not in_rollout(0, Decimal(0))
    assert in_rollout(BUCKETS - 1, Decimal(100))


@settings(max_examples=400, deadline=None)
@given(accounts, line_states("NET"), line_states("CAD"), holdings, holdings)
def test_active_override_wins_unless_a_gate_stops_it(
    account: str,
    net: LineState,
    cad: LineState,
    net_held: frozenset[str],
    cad_held: frozenset[str],
) -> None:
    decision = route(account, [net, cad], {"NET": net_held, "CAD": cad_held})
    for line, trace in zip((cad, net), decision.trace, strict=True):  # trace is sorted by code
        if line.override is not None and line.override.active_at(NOW):
            assert trace.override == line.override.system
            assert trace.system == line.override.system or trace.gate == "readiness"
        else:
            assert trace.override is None


@settings(max_examples=400, deadline=None)
@given(accounts, line_states("NET"), holdings)
def test_pilot_lists_are_respected(account: str, net: LineState, held: frozenset[str]) -> None:
    trace = route(account, [net], {"NET": held}).trace[0]
    overridden = net.override is not None and net.override.active_at(NOW)
    if net.state == "pilot" and not overridden and trace.gate is None:
        assert trace.system == ("new" if net.pilot else "legacy")


@settings(max_examples=500, deadline=None)
@given(
    accounts,
    line_states("NET"),
    line_states("CAD"),
    holdings,
    holdings,
    st.frozensets(st.sampled_from(["legacy", "new"])),
)
def test_never_new_without_the_data_and_never_a_system_that_is_down(
    account: str,
    net: LineState,
    cad: LineState,
    net_held: frozenset[str],
    cad_held: frozenset[str],
    down: frozenset[str],
) -> None:
    held = {"NET": net_held, "CAD": cad_held}
    decision = route(account, [net, cad], held, down=down)
    for trace in decision.trace:
        if trace.system == "new" and trace.line_code not in decision.down:
            assert "new" in held[trace.line_code]
    assert not set(decision.systems) & down
    assert not set(decision.by_system) & down
    assert decision.kind != "unavailable" or not decision.by_system


@settings(max_examples=200, deadline=None)
@given(accounts, line_states("NET"), holdings)
def test_the_rule_is_deterministic(account: str, net: LineState, held: frozenset[str]) -> None:
    assert route(account, [net], {"NET": held}) == route(account, [net], {"NET": held})


def test_a_pilot_account_stays_on_new_when_its_line_moves_from_pilot_to_rollout() -> None:
    # An account whose bucket is outside a 25 % rollout: it was on new in the pilot.
    account = next(f"P-{n}" for n in range(1000) if bucket("NET", f"P-{n}") >= 2500)
    piloted = LineState("NET", "Net", "pilot", pilot=True)
    rolled = LineState("NET", "Net", "rollout", Decimal(25), pilot=True)
    assert system_of(route(account, [piloted], {"NET": BOTH}), "NET") == "new"
    decision = route(account, [rolled], {"NET": BOTH})
    assert system_of(decision, "NET") == "new"
    assert "pilot" in decision.trace[0].reason


@settings(max_examples=300, deadline=None)
@given(accounts, percents)
def test_pilot_accounts_resolve_to_new_in_rollout_whatever_the_percent(
    account: str, percent: Decimal
) -> None:
    line = LineState("NET", "N", "rollout", percent, pilot=True)
    assert system_of(route(account, [line], {"NET": BOTH}), "NET") == "new"


@settings(max_examples=300, deadline=None)
@given(accounts, percents, percents, st.booleans())
def test_raising_the_percent_never_moves_an_account_back_pilot_or_not(
    account: str, low: Decimal, high: Decimal, pilot: bool
) -> None:
    low, high = min(low, high), max(low, high)
    at = {
        percent: system_of(
            route(account, [LineState("NET", "N", "rollout", percent, pilot)], {"NET": BOTH}),
            "NET",
        )
        for percent in (low, high)
    }
    assert not (at[low] == "new" and at[high] == "legacy")


@settings(max_examples=300, deadline=None)
@given(accounts, percents, st.booleans())
def test_moving_from_pilot_to_rollout_never_moves_an_account_back(
    account: str, percent: Decimal, pilot: bool
) -> None:
    before = route(account, [LineState("NET", "N", "pilot", pilot=pilot)], {"NET": BOTH})
    after = route(account, [LineState("NET", "N", "rollout", percent, pilot)], {"NET": BOTH})
    assert not (system_of(before, "NET") == "new" and system_of(after, "NET") == "legacy")
