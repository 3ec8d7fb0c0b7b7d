"""Labels and grouping on the routing pages, and the hand-off URL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from gateway.landing.handoff import handoff_url
from gateway.landing.service import end_label, ends_soon, line_groups, quantity_text, system_options
from gateway.routing.decision import EntitlementView, LineState, UserView, decide

TODAY = date(2026, 6, 15)


def ent(
    kind: str = "subscription",
    end: date | None = date(2026, 9, 1),
    line: str = "CAD",
    name: str = "CAD suite",
    external_id: str = "E-1",
    held_by: frozenset[str] = frozenset({"legacy"}),
) -> EntitlementView:
    return EntitlementView(
        external_id,
        line,
        name,
        "Server",
        "seat",
        Decimal("25.00"),
        kind,
        None,
        end,
        "active",
        held_by,
    )


def test_end_labels_name_the_term_and_its_date() -> None:
    assert end_label(ent("subscription"), TODAY) == "Subscription ends 1 September 2026"
    assert end_label(ent("maintenance"), TODAY) == "Maintenance ends 1 September 2026"
    assert end_label(ent("perpetual"), TODAY) == "Perpetual"
    assert end_label(ent("subscription", TODAY - timedelta(days=1)), TODAY) == (
        "Subscription ended 14 June 2026"
    )
    assert end_label(ent("subscription", None), TODAY) == "Subscription, no end date"


def test_ends_soon_flags_terms_ending_within_sixty_days_only() -> None:
    assert ends_soon(ent(end=TODAY + timedelta(days=60)), TODAY)
    assert not ends_soon(ent(end=TODAY + timedelta(days=61)), TODAY)
    assert not ends_soon(ent("perpetual", TODAY + timedelta(days=1)), TODAY)
    assert not ends_soon(ent(end=None), TODAY)


def test_quantities_drop_trailing_zeros_without_exponents() -> None:
    assert [quantity_text(Decimal(q)) for q in ("25.00", "2.50", "100", "0.00")] == [
        "25",
        "2.5",
        "100",
        "0",
    ]


def test_lines_are_grouped_and_sorted_by_name() -> None:
    rows = [
        ent(line="PLM", name="Lifecycle", external_id="E-1"),
        ent(line="CAD", name="Design", external_id="E-2"),
        ent(line="PLM", name="Lifecycle", external_id="E-3"),
    ]
    groups = line_groups(rows, TODAY)
    assert [(g.name, len(g.entitlements)) for g in groups] == [("Design", 1), ("Lifecycle", 2)]


def test_system_options_follow_the_decision_and_fall_back_to_the_key() -> None:
    rows = [ent(external_id="E-1"), ent(line="PLM", external_id="E-2", held_by=frozenset({"new"}))]
    lines = [LineState("CAD", "CAD suite", "legacy"), LineState("PLM", "PLM suite", "new")]
    decision = decide(
        UserView(frozenset({"licensing"})),
        rows,
        lines,
        today=TODAY,
        grace_days=0,
        deep_link_system=None,
        remembered_system=None,
    )
    options = system_options(decision, {"legacy": "Legacy center"}, TODAY)
    assert [(o.key, o.name, o.lines[0].code) for o in options] == [
        ("legacy", "Legacy center", "CAD"),
        ("new", "new", "PLM"),
    ]


def test_handoff_url_keeps_the_entry_query_and_replaces_smuggled_parameters() -> None:
    url = handoff_url(
        "https://lc.test/start?tenant=7&login_hint=mallory@evil.example",
        login_hint="pat@acme.example",
        target_link_uri="https://lc.test/x?a=1&b=2",
    )
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("lc.test", "/start")
    assert parse_qs(parts.query) == {
        "tenant": ["7"],
        "login_hint": ["pat@acme.example"],
        "target_link_uri": ["https://lc.test/x?a=1&b=2"],
    }
