"""Loading routing inputs from the real database: isolation and a constant query count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import User
from gateway.core.settings import Settings
from gateway.routing import service
from gateway.routing.config import RoutingConfig
from tests import factories
from tests.routing.conftest import StatementCounter
from tests.routing.factories_extra import admin
from tests.world import World


def test_inputs_hold_only_the_users_own_account(
    dbs: Session, world: World, config_now: Callable[[], RoutingConfig]
) -> None:
    plm = factories.product_line(dbs, "PLM", "new")
    ours, theirs = factories.account(dbs), factories.account(dbs)
    mine = factories.entitlement(dbs, ours, world.cad, [world.legacy])
    factories.entitlement(dbs, theirs, world.cad, [world.legacy])
    factories.entitlement(dbs, theirs, plm, [world.new])
    user = factories.user(dbs, ours)

    inputs = service.load_inputs(dbs, user, config_now())

    assert [e.external_id for e in inputs.entitlements] == [mine.external_id]
    assert [line.code for line in inputs.lines] == ["CAD"]


def test_entitlement_carries_every_holding_system_and_its_line(
    dbs: Session, world: World, config_now: Callable[[], RoutingConfig]
) -> None:
    plm = factories.product_line(dbs, "PLM", "new")
    customer = factories.account(dbs)
    both = factories.entitlement(dbs, customer, plm, [world.legacy, world.new])
    orphan = factories.entitlement(dbs, customer, world.cad, [])

    inputs = service.load_inputs(dbs, factories.user(dbs, customer), config_now())

    held = {e.external_id: e.held_by for e in inputs.entitlements}
    assert held == {both.external_id: {"legacy", "new"}, orphan.external_id: frozenset()}
    assert {(line.code, line.state) for line in inputs.lines} == {("CAD", "legacy"), ("PLM", "new")}


def test_query_count_does_not_grow_with_entitlements(
    dbs: Session,
    world: World,
    statements: StatementCounter,
    config_now: Callable[[], RoutingConfig],
) -> None:
    plm = factories.product_line(dbs, "PLM", "new")
    small, large = factories.account(dbs), factories.account(dbs)
    factories.entitlement(dbs, small, world.cad, [world.legacy])
    for _ in range(20):
        factories.entitlement(dbs, large, plm, [world.legacy, world.new])
    users = [factories.user(dbs, small), factories.user(dbs, large)]

    counts = []
    config = config_now()  # cached per worker: not part of a request's queries
    for user in users:
        assert user.permission_names  # loaded before counting: the request already has them
        statements.count, statements.counting = 0, True
        inputs = service.load_inputs(dbs, user, config)
        statements.counting = False
        counts.append(statements.count)
    assert len(inputs.entitlements) == 20
    assert counts == [1, 1]


def test_org_admins_are_the_active_admins_of_that_account_only(
    dbs: Session, config_now: Callable[[], RoutingConfig]
) -> None:
    ours, theirs = factories.account(dbs), factories.account(dbs)
    admin(dbs, ours, "Zoe", "Zimmer", "zoe@ours.example")
    admin(dbs, ours, "Ada", "Admin", "ada@ours.example")
    admin(dbs, ours, "Gone", "Away", "gone@ours.example", status="disabled")
    admin(dbs, theirs, "Other", "Org", "other@theirs.example")
    factories.user(dbs, ours, email="pat@ours.example")

    contacts = service.org_admins(dbs, ours.id)

    assert [(c.name, c.email) for c in contacts] == [
        ("Ada Admin", "ada@ours.example"),
        ("Zoe Zimmer", "zoe@ours.example"),
    ]


def test_inactive_entitlements_are_the_ended_ones_latest_first(
    dbs: Session, world: World, settings: Settings, config_now: Callable[[], RoutingConfig]
) -> None:
    customer = factories.account(dbs)
    factories.entitlement(dbs, customer, world.cad, [world.legacy])
    old = factories.entitlement(dbs, customer, world.cad, [world.legacy], days_left=-90)
    recent = factories.entitlement(dbs, customer, world.cad, [world.legacy], days_left=-2)
    cancelled = factories.entitlement(dbs, customer, world.cad, [world.legacy], status="cancelled")
    inputs = service.load_inputs(dbs, factories.user(dbs, customer), config_now())

    ended = service.inactive_entitlements(inputs, settings, date.today())

    assert [e.external_id for e in ended] == [
        cancelled.external_id,
        recent.external_id,
        old.external_id,
    ]


def test_system_for_url_matches_the_origin_not_a_prefix(
    dbs: Session, world: World, config_now: Callable[[], RoutingConfig]
) -> None:
    systems = config_now().systems
    assert service.system_for_url(systems, "https://NEW.licenses.test/orders/7") == "new"
    assert service.system_for_url(systems, "https://new.licenses.test.evil.example/x") is None


def test_remembered_choice_is_stored_on_the_user(
    dbs: Session, config_now: Callable[[], RoutingConfig]
) -> None:
    user = factories.user(dbs, factories.account(dbs))
    service.remember_choice(dbs, user, "new")
    dbs.expire_all()
    assert dbs.scalar(select(User.remembered_system).where(User.id == user.id)) == "new"


def test_decide_for_applies_the_configured_grace_period(
    dbs: Session, world: World, settings: Settings, config_now: Callable[[], RoutingConfig]
) -> None:
    customer = factories.account(dbs)
    factories.entitlement(dbs, customer, world.cad, [world.legacy], days_left=-3)
    inputs = service.load_inputs(dbs, factories.user(dbs, customer), config_now())
    today = date.today()

    def kind(grace_days: int) -> str:
        with_grace = settings.model_copy(update={"entitlement_grace_days": grace_days})
        return service.decide_for(
            inputs, with_grace, today=today, deep_link_system=None, remembered_system=None
        ).kind

    assert (kind(3), kind(2)) == ("system", "none")
