"""The preview: counts from the routing rule itself, so it agrees with real routing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import User
from gateway.rollout import service
from gateway.rollout.preview import Preview, line_sides, preview_change
from gateway.routing import service as routing
from gateway.routing.config import load_routing_config
from gateway.settings import Settings
from gateway.store import Store
from tests.rollout.conftest import ACTOR, NOW, World


def preview(dbs: Session, store: Store, state: str, percent: str = "0") -> Preview:
    config = load_routing_config(dbs, store, 0)
    target = service.LineSetting(state, Decimal(percent))
    return preview_change(dbs, config, "NET", target, today=NOW.date(), grace_days=0, now=NOW)


def test_moving_to_new_counts_accounts_users_entitlements_choices_and_waiting(
    dbs: Session, store: Store, world: World
) -> None:
    result = preview(dbs, store, "new")
    [move] = result.movements
    # ready (2 NET entitlements, 2 routable users) and mixed (1, 1); waiting has no data.
    assert (move.source, move.target, move.accounts, move.users, move.entitlements) == (
        "legacy",
        "new",
        2,
        3,
        3,
    )
    assert result.new_choice_accounts == ("100003",) and result.new_choice_count == 1
    assert result.waiting_for_data == ("100002",) and result.accounts == 3
    assert result.summary == (
        "This change moves 2 accounts, 3 users and 3 entitlements from legacy to new; "
        "1 accounts will now hold entitlements in both systems and see the choice page."
    )


def test_rollback_preview_is_the_mirror_image(dbs: Session, store: Store, world: World) -> None:
    service.change_state(dbs, store, "NET", "new", None, reason="go", actor=ACTOR, now=NOW)
    [move] = preview(dbs, store, "legacy").movements
    assert (move.source, move.target, move.accounts) == ("new", "legacy", 2)


def test_pilot_preview_moves_only_named_accounts(dbs: Session, store: Store, world: World) -> None:
    service.set_pilot_accounts(
        dbs, store, "NET", add=["100001", "100002"], remove=[], reason="pilot", actor=ACTOR, now=NOW
    )
    result = preview(dbs, store, "pilot")
    [move] = result.movements
    assert move.accounts == 1  # 100002 is named but its data is not in the new system
    assert result.waiting_for_data == ("100002",)


def test_preview_agrees_with_routing_after_the_change(
    dbs: Session, store: Store, world: World, settings: Settings
) -> None:
    before = _routes(dbs, store, settings)
    result = preview(dbs, store, "rollout", "50")
    service.change_state(dbs, store, "NET", "rollout", "50", reason="half", actor=ACTOR, now=NOW)
    after = _routes(dbs, store, settings)
    moved = {n for n in after if before[n] != after[n]}
    assert sum(m.accounts for m in result.movements) == len(moved)


def _routes(dbs: Session, store: Store, settings: Settings) -> dict[str, str]:
    """Where each account's NET line goes, by routing one of its users for real."""
    config = load_routing_config(dbs, store, 0)
    routes = {}
    for user in dbs.scalars(select(User).order_by(User.id)):
        inputs = routing.load_inputs(dbs, user, config)
        decision = routing.decide_for(
            inputs,
            settings,
            today=NOW.date(),
            deep_link_system=None,
            remembered_system=None,
            now=NOW,
        )
        for trace in decision.trace:
            if trace.line_code == "NET":
                routes[user.account.account_number] = trace.system
    return routes


def test_dashboard_sides_list_who_is_waiting_for_data(
    dbs: Session, store: Store, world: World
) -> None:
    service.change_state(dbs, store, "NET", "new", None, reason="go", actor=ACTOR, now=NOW)
    sides = line_sides(
        dbs, load_routing_config(dbs, store, 0), today=NOW.date(), grace_days=0, now=NOW
    )
    assert sides["NET"].accounts == {"new": 2, "legacy": 1}
    assert sides["NET"].entitlements == {"new": 3, "legacy": 1}
    assert sides["NET"].waiting_for_data == ("100002",)
    assert sides["CAD"].accounts == {"legacy": 2}
