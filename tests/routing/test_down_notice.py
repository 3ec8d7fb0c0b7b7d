"""Which of a customer's products are unreachable while a license center is down."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Flask
from sqlalchemy.orm import Session

from gateway.core.models import Account, User
from gateway.core.models.base import utcnow
from gateway.core.session import SignedInUser
from gateway.core.settings import Settings
from gateway.core.store import get_store
from gateway.landing import service as pages
from gateway.routing import service
from gateway.routing.config import RoutingConfig
from gateway.routing.decision import RouteDecision
from gateway.systems import service as rollout
from tests import factories
from tests.world import World

ACTOR = rollout.Actor("it@vendor.example")


def customer_on_both(dbs: Session, world: World) -> tuple[World, Account, User]:
    """CAD (legacy line) held by legacy; PLM (moved to new) held by new only."""
    plm = factories.product_line(dbs, "PLM", "new")
    acme = factories.account(dbs, "ACME-1", "Acme Corp")
    factories.entitlement(dbs, acme, world.cad, [world.legacy], product="CAD Server")
    factories.entitlement(dbs, acme, plm, [world.new], product="PLM Vault")
    factories.entitlement(dbs, acme, plm, [world.new], product="PLM Viewer")
    return world, acme, factories.user(dbs, acme)


def maintenance(app: Flask, dbs: Session, key: str) -> None:
    rollout.set_maintenance(
        dbs, get_store(app), key, True, reason="upgrade", actor=ACTOR, now=utcnow()
    )


def decide(inputs: service.RouteInputs, settings: Settings) -> RouteDecision:
    return service.decide_for(
        inputs, settings, today=date.today(), deep_link_system=None, remembered_system=None
    )


def test_a_line_only_the_down_system_holds_is_unreachable_with_its_products(
    app: Flask,
    dbs: Session,
    world: World,
    settings: Settings,
    config_now: Callable[[], RoutingConfig],
) -> None:
    _, _, user = customer_on_both(dbs, world)
    maintenance(app, dbs, "new")
    inputs = service.load_inputs(dbs, user, config_now())
    decision = decide(inputs, settings)

    assert (decision.kind, decision.systems) == ("system", ("legacy",))
    assert [(t.line_code, t.system) for t in service.unreachable_lines(decision)] == [
        ("PLM", "new")
    ]
    unreachable = service.unreachable_entitlements(inputs, decision, settings, date.today())
    assert sorted(e.product for e in unreachable) == ["PLM Vault", "PLM Viewer"]


def test_the_sign_in_summary_finds_the_same_unreachable_lines(
    app: Flask,
    dbs: Session,
    world: World,
    settings: Settings,
    config_now: Callable[[], RoutingConfig],
) -> None:
    _, _, user = customer_on_both(dbs, world)
    maintenance(app, dbs, "legacy")
    summary = service.load_route_summary(
        dbs, SignedInUser.of(user), today=date.today(), grace_days=0, config=config_now()
    )
    decision = decide(summary, settings)
    assert (decision.kind, decision.systems) == ("system", ("new",))
    assert [t.line_code for t in service.unreachable_lines(decision)] == ["CAD"]


def test_a_line_another_system_also_holds_is_not_unreachable(
    app: Flask,
    dbs: Session,
    world: World,
    settings: Settings,
    config_now: Callable[[], RoutingConfig],
) -> None:
    plm = factories.product_line(dbs, "PLM", "new")
    acme = factories.account(dbs)
    factories.entitlement(dbs, acme, plm, [world.legacy, world.new])
    factories.entitlement(dbs, acme, world.cad, [world.legacy])
    maintenance(app, dbs, "new")
    decision = decide(service.load_inputs(dbs, factories.user(dbs, acme), config_now()), settings)
    assert decision.systems == ("legacy",) and decision.down == ("new",)
    assert service.unreachable_lines(decision) == ()


def test_nothing_is_unreachable_while_every_system_is_up(
    dbs: Session, world: World, settings: Settings, config_now: Callable[[], RoutingConfig]
) -> None:
    _, _, user = customer_on_both(dbs, world)
    decision = decide(service.load_inputs(dbs, user, config_now()), settings)
    assert decision.kind == "choice" and service.unreachable_lines(decision) == ()


def test_the_notice_names_lines_and_products_and_never_its_maintenance_note(
    app: Flask,
    dbs: Session,
    world: World,
    settings: Settings,
    config_now: Callable[[], RoutingConfig],
) -> None:
    _, _, user = customer_on_both(dbs, world)
    maintenance(app, dbs, "new")
    config = config_now()
    inputs = service.load_inputs(dbs, user, config)
    decision = decide(inputs, settings)
    unreachable = service.unreachable_entitlements(inputs, decision, settings, date.today())

    notice = pages.down_notice(config.systems["legacy"], [config.systems["new"]], unreachable)

    assert notice.destination == "Legacy license center"
    assert notice.lines == (pages.UnreachableLine("PLM suite", ("PLM Vault", "PLM Viewer")),)
    assert notice.down == (pages.DownSystem("New license center", "down for maintenance"),)
    assert "upgrade" not in repr(notice)
