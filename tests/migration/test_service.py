"""IT's changes as plain functions: validated, audited with before/after/reason, announced."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import db as database
from gateway.core.announce import current_version
from gateway.core.audit import ReasonRequired
from gateway.core.errors import ConflictingChange, InvalidChange, NotFound
from gateway.core.models import AuditEvent, ProductLine
from gateway.core.store import Store
from gateway.migration import service
from gateway.routing.config import RoutingConfigCache, load_routing_config
from gateway.systems import service as systems
from tests.it_console import ACTOR, NOW
from tests.world import World


def events(db: Session) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_change_is_audited_with_who_when_before_after_and_reason(
    dbs: Session, store: Store, world: World
) -> None:
    version = current_version(store)
    service.change_state(
        dbs, store, "NET", "rollout", "12.5", reason="wave 1", actor=ACTOR, now=NOW
    )
    [event] = events(dbs)
    assert (event.actor, event.action, event.target) == (
        "it@vendor.example",
        "product_line.change",
        "product_line:NET",
    )
    assert event.before == {"state": "legacy", "percent": "0.00"}
    assert event.after == {"state": "rollout", "percent": "12.50"}
    assert (event.reason, event.request_id) == ("wave 1", "req-test-0001")
    assert current_version(store) == version + 1
    dbs.expire_all()
    line = dbs.scalars(select(ProductLine).where(ProductLine.code == "NET")).one()
    assert (line.state, line.rollout_percent) == ("rollout", Decimal("12.50"))


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_change_without_a_reason_changes_nothing(
    dbs: Session, store: Store, world: World, reason: str | None
) -> None:
    with pytest.raises(ReasonRequired):
        service.change_state(dbs, store, "NET", "new", None, reason=reason, actor=ACTOR, now=NOW)
    dbs.rollback()
    assert events(dbs) == [] and world.net.state == "legacy"


@pytest.mark.parametrize(
    ("state", "percent"),
    [
        ("rollout", None),
        ("rollout", "101"),
        ("rollout", "-1"),
        ("rollout", "1.005"),
        ("rollout", "ten"),
        ("paused", None),
        ("rollout", "NaN"),
    ],
)
def test_invalid_targets_are_refused(
    dbs: Session, store: Store, world: World, state: str, percent: str | None
) -> None:
    with pytest.raises(InvalidChange):
        service.change_state(dbs, store, "NET", state, percent, reason="x", actor=ACTOR, now=NOW)


def test_unknown_line_is_not_found(dbs: Session, store: Store, world: World) -> None:
    with pytest.raises(NotFound):
        service.change_state(dbs, store, "NOPE", "new", None, reason="x", actor=ACTOR, now=NOW)


def test_a_stale_preview_is_refused(dbs: Session, store: Store, world: World) -> None:
    stale = service.LineSetting("legacy", Decimal("0.00"))
    service.change_state(dbs, store, "NET", "pilot", None, reason="a", actor=ACTOR, now=NOW)
    with pytest.raises(ConflictingChange):
        service.change_state(
            dbs, store, "NET", "new", None, reason="b", actor=ACTOR, now=NOW, expected=stale
        )
    assert [e.after["state"] for e in events(dbs) if e.after] == ["pilot"]


def test_rollback_is_one_action_back_to_legacy_keeping_the_percent(
    dbs: Session, store: Store, world: World
) -> None:
    service.change_state(dbs, store, "NET", "rollout", 40, reason="wave", actor=ACTOR, now=NOW)
    service.change_state(dbs, store, "NET", "new", None, reason="all", actor=ACTOR, now=NOW)
    service.rollback(dbs, store, "NET", reason="new center broken", actor=ACTOR, now=NOW)
    last = events(dbs)[-1]
    assert last.action == "product_line.rollback"
    assert (last.before, last.after) == (
        {"state": "new", "percent": "40.00"},
        {"state": "legacy", "percent": "40.00"},
    )


def test_pilot_accounts_are_added_and_removed_with_an_audit_trail(
    dbs: Session, store: Store, world: World
) -> None:
    service.set_pilot_accounts(
        dbs,
        store,
        "NET",
        add=["100001", "100003"],
        remove=[],
        reason="first customers",
        actor=ACTOR,
        now=NOW,
    )
    service.set_pilot_accounts(
        dbs, store, "NET", add=[], remove=["100003"], reason="asked out", actor=ACTOR, now=NOW
    )
    assert service.pilot_numbers(dbs, world.net) == {"100001"}
    assert [e.after for e in events(dbs)] == [
        {"pilot_accounts": ["100001", "100003"]},
        {"pilot_accounts": ["100001"]},
    ]
    with pytest.raises(NotFound):
        service.set_pilot_accounts(
            dbs, store, "NET", add=["999"], remove=[], reason="x", actor=ACTOR, now=NOW
        )


def test_override_with_expiry_reaches_the_routing_config(
    dbs: Session, store: Store, world: World
) -> None:
    until = NOW + timedelta(days=7)
    service.set_override(
        dbs,
        store,
        "NET",
        "100002",
        "new",
        reason="early adopter",
        actor=ACTOR,
        now=NOW,
        expires_at=until,
    )
    config = load_routing_config(dbs, store, current_version(store))
    state = config.line_state("NET", "NET", "100002")
    assert state.override is not None
    assert (state.override.system, state.override.expires_at) == ("new", until)
    service.remove_override(dbs, store, "NET", "100002", reason="done", actor=ACTOR, now=NOW)
    assert load_routing_config(dbs, store, 0).line_state("NET", "NET", "100002").override is None
    assert [e.action for e in events(dbs)] == [
        "product_line.override",
        "product_line.override_removed",
    ]


def test_override_must_name_a_system_and_a_future_expiry(
    dbs: Session, store: Store, world: World
) -> None:
    with pytest.raises(InvalidChange):
        service.set_override(
            dbs, store, "NET", "100002", "elsewhere", reason="x", actor=ACTOR, now=NOW
        )
    with pytest.raises(InvalidChange):
        service.set_override(
            dbs, store, "NET", "100002", "new", reason="x", actor=ACTOR, now=NOW, expires_at=NOW
        )


def test_maintenance_switch_marks_the_system_down_for_routing(
    dbs: Session, store: Store, world: World
) -> None:
    systems.set_maintenance(dbs, store, "new", True, reason="upgrade", actor=ACTOR, now=NOW)
    config = load_routing_config(dbs, store, 0)
    assert config.down_systems == frozenset({"new"})
    assert config.systems["new"].maintenance_note == "upgrade"
    systems.set_maintenance(dbs, store, "new", False, reason="done", actor=ACTOR, now=NOW)
    assert load_routing_config(dbs, store, 0).down_systems == frozenset()


def test_worker_cache_reloads_only_when_the_version_moves(
    app: Flask, dbs: Session, store: Store, world: World
) -> None:
    cache = RoutingConfigCache()
    with database.new_session(app) as reader:
        first = cache.get(reader, store)
        assert cache.get(reader, store) is first
        service.change_state(dbs, store, "NET", "new", None, reason="go", actor=ACTOR, now=NOW)
        second = cache.get(reader, store)
    assert second is not first and second.lines["NET"].state == "new"
    assert second.version == first.version + 1
