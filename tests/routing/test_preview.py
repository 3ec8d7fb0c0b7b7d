"""The preview: counts from the routing rule itself, so it agrees with real routing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.errors import ConflictingChange
from gateway.core.models import AuditEvent, User
from gateway.core.settings import Settings
from gateway.core.store import Store
from gateway.migration import proposals, service
from gateway.migration.errors import BackToLegacyUnconfirmed
from gateway.migration.guard import ReturnCheck
from gateway.routing import service as routing
from gateway.routing.config import LineConfig, load_routing_config
from gateway.routing.preview import Preview, line_sides, preview_change
from tests.it_console import ACTOR, NOW
from tests.world import World


def preview(dbs: Session, store: Store, state: str, percent: str = "0") -> Preview:
    return preview_of(
        dbs, store, lambda line: proposals.state_proposal(line, state, Decimal(percent))
    )


def preview_of(dbs: Session, store: Store, propose: Callable[[LineConfig], LineConfig]) -> Preview:
    """The preview of a proposal for NET, as the console, the API and the CLI compute it."""
    config = load_routing_config(dbs, store, 0)
    proposed = propose(config.lines["NET"])
    return preview_change(dbs, config, proposed, today=NOW.date(), grace_days=0, now=NOW)


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


def test_pilot_addition_previews_exactly_the_accounts_that_move_and_agrees_with_routing(
    dbs: Session, store: Store, world: World, settings: Settings
) -> None:
    service.change_state(dbs, store, "NET", "pilot", None, reason="pilot", actor=ACTOR, now=NOW)
    before = _routes(dbs, store, settings)
    add = ["100001", "100003", "100004"]  # 100004 holds no NET: nothing to move
    result = preview_of(
        dbs, store, lambda line: proposals.pilot_proposal(dbs, line, add=add, remove=[])
    )
    [move] = result.movements
    assert (move.source, move.target, move.account_numbers) == (
        "legacy",
        "new",
        ("100001", "100003"),
    )
    assert (move.accounts, move.users, move.entitlements) == (2, 3, 3)
    assert result.new_choice_accounts == ("100003",)  # its CAD stays on legacy
    assert result.changes == ("add 100001, 100003, 100004 to the pilot",)
    service.set_pilot_accounts(
        dbs,
        store,
        "NET",
        add=add,
        remove=[],
        reason="wave",
        actor=ACTOR,
        now=NOW,
        revision=result.revision,
    )
    after = _routes(dbs, store, settings)
    assert {n for n in after if before[n] != after[n]} == set(move.account_numbers)
    assert {after[n] for n in move.account_numbers} == {"new"}


def test_an_override_to_new_without_new_system_data_shows_the_account_waiting(
    dbs: Session, store: Store, world: World
) -> None:
    until = NOW + timedelta(days=7)
    result = preview_of(
        dbs,
        store,
        lambda line: proposals.override_proposal(
            dbs, line, "100002", "new", reason="early", now=NOW, expires_at=until
        ),
    )
    assert result.movements == ()  # the readiness gate keeps it on legacy
    assert (result.waiting_for_data, result.waiting_count) == (("100002",), 1)
    assert result.changes == ("override 100002 to new until 2026-06-22 12:00 UTC",)
    assert result.summary == "This change moves no accounts."


def test_removing_an_override_previews_the_move_back(
    dbs: Session, store: Store, world: World, settings: Settings
) -> None:
    service.set_override(dbs, store, "NET", "100001", "new", reason="early", actor=ACTOR, now=NOW)
    result = preview_of(dbs, store, lambda line: proposals.removal_proposal(dbs, line, "100001"))
    [move] = result.movements
    assert (move.source, move.target, move.account_numbers) == ("new", "legacy", ("100001",))
    assert (move.accounts, move.users, move.entitlements) == (1, 2, 2)
    assert result.changes == ("remove the override sending 100001 to new",)
    assert result.back_to_legacy == move
    with pytest.raises(BackToLegacyUnconfirmed, match="1 accounts"):
        service.remove_override(
            dbs,
            store,
            "NET",
            "100001",
            reason="done",
            actor=ACTOR,
            now=NOW,
            revision=result.revision,
        )
    dbs.rollback()
    service.remove_override(
        dbs,
        store,
        "NET",
        "100001",
        reason="done",
        actor=ACTOR,
        now=NOW,
        revision=result.revision,
        back_to_legacy=ReturnCheck(confirmed=True),
    )
    assert _routes(dbs, store, settings)["100001"] == "legacy"


@pytest.mark.parametrize("change", ["pilot", "override", "removal", "state"])
def test_a_stale_preview_is_refused_for_every_kind_of_change(
    dbs: Session, store: Store, world: World, change: str
) -> None:
    service.set_override(dbs, store, "NET", "100003", "new", reason="x", actor=ACTOR, now=NOW)
    revision = preview(dbs, store, "pilot").revision
    service.set_pilot_accounts(  # someone else, meanwhile
        dbs, store, "NET", add=["100002"], remove=[], reason="other", actor=ACTOR, now=NOW
    )
    count = len(dbs.scalars(select(AuditEvent)).all())
    confirm = {
        "pilot": lambda: service.set_pilot_accounts(
            dbs,
            store,
            "NET",
            add=["100001"],
            remove=[],
            reason="r",
            actor=ACTOR,
            now=NOW,
            revision=revision,
        ),
        "override": lambda: service.set_override(
            dbs,
            store,
            "NET",
            "100001",
            "new",
            reason="r",
            actor=ACTOR,
            now=NOW,
            revision=revision,
        ),
        "removal": lambda: service.remove_override(
            dbs, store, "NET", "100003", reason="r", actor=ACTOR, now=NOW, revision=revision
        ),
        "state": lambda: service.change_state(
            dbs, store, "NET", "pilot", None, reason="r", actor=ACTOR, now=NOW, revision=revision
        ),
    }[change]
    with pytest.raises(ConflictingChange, match="changed since your preview"):
        confirm()
    dbs.rollback()
    assert len(dbs.scalars(select(AuditEvent)).all()) == count
    assert load_routing_config(dbs, store, 0).lines["NET"].pilot_accounts == {"100002"}


def test_the_revision_covers_what_routing_reads(dbs: Session, store: Store, world: World) -> None:
    line = load_routing_config(dbs, store, 0).lines["NET"]
    same = load_routing_config(dbs, store, 0).lines["NET"]
    assert line.revision == same.revision
    variants = [
        proposals.state_proposal(line, "rollout", Decimal("0.01")),
        proposals.pilot_proposal(dbs, line, add=["100001"], remove=[]),
        proposals.override_proposal(dbs, line, "100001", "legacy", reason="", now=NOW),
        proposals.override_proposal(
            dbs, line, "100001", "legacy", reason="", now=NOW, expires_at=NOW + timedelta(1)
        ),
    ]
    assert len({line.revision, *(v.revision for v in variants)}) == 5
