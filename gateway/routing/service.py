"""Routing inputs from the directory, always scoped to the signed-in user's account."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from gateway.core import hooks
from gateway.core.models import (
    Entitlement,
    EntitlementHolding,
    Permission,
    ProductLine,
    System,
    User,
)
from gateway.core.session import SignedInUser
from gateway.core.settings import Settings
from gateway.core.store import get_store
from gateway.core.targets import origin
from gateway.routing.config import RoutingConfig, SystemStatus, current_routing_config
from gateway.routing.decision import (
    EntitlementView,
    LineState,
    LineTrace,
    RouteDecision,
    UserView,
    decide,
    is_active,
)


@dataclass(frozen=True)
class RouteInputs:
    """Everything decide() reads for one user, loaded once per request."""

    user: UserView
    entitlements: tuple[EntitlementView, ...]
    lines: tuple[LineState, ...]
    down_systems: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AdminContact:
    """An org admin the no-access page tells people to ask."""

    name: str
    email: str


def today_utc() -> date:
    """The date routing compares end dates with; UTC, so every instance agrees."""
    return datetime.now(UTC).date()


def load_inputs(db: Session, user: User, config: RoutingConfig | None = None) -> RouteInputs:
    """The user's permissions and their own account's entitlements, with the lines'
    routing settings as they apply to that account (by default from this app's cached
    configuration, so every caller routes by the same version)."""
    config = config or current_routing_config(db)
    number = user.account.account_number
    entitlements, lines = account_entitlements(db, user.account_id, config, number)
    view = UserView(user.permission_names, user.remembered_system, number)
    return RouteInputs(view, entitlements, lines, config.down_systems)


def load_route_summary(
    db: Session,
    user: SignedInUser,
    *,
    today: date,
    grace_days: int,
    config: RoutingConfig | None = None,
) -> RouteInputs:
    """Like load_inputs, but only what the decision's outcome depends on: for each of
    the account's lines with an active entitlement, the systems holding one of them.

    decide() reads entitlements only through "is this line active" and "does system S
    hold an active entitlement of line L", so one stand-in per (line, system) gives the
    same kind, destinations and trace as every entitlement would, from a grouped query
    of a few dozen rows instead of thousands (an account can hold 5,000). The decision's
    `by_system` then lists stand-ins: pages that show entitlements use load_inputs.
    """
    config = config or current_routing_config(db)
    number = user.account_number
    cutoff = today - timedelta(days=grace_days)
    rows = account_line_systems(db, user.account_id, cutoff, user.directory_revision)
    stand_ins = tuple(_stand_in(code, name, key) for code, name, key in rows)
    lines = line_states(db, config, {code: name for code, name, _ in rows}, number)
    view = UserView(user.permission_names, user.remembered_system, number)
    return RouteInputs(view, stand_ins, lines, config.down_systems)


def line_states(
    db: Session, config: RoutingConfig, names: Mapping[str, str], account_number: str
) -> tuple[LineState, ...]:
    """The account's lines (code → name) as routing sees them, in code order. Salesforce's
    agreement is asked only for lines that require it and could send the account to new,
    so other accounts and lines pay nothing for the setting."""
    agreeing = {
        code: hooks.accounts_in_agreement(db, code, account_number)
        for code in config.agreements_needed(names, account_number)
    }
    return tuple(
        config.line_state(code, names[code], account_number, agreeing.get(code, frozenset()))
        for code in sorted(names)
    )


def account_line_systems(
    db: Session, account_id: int, cutoff: date, revision: int | None
) -> list[tuple[str, str, str | None]]:
    """(line code, line name, holding system key or None) for each line of the
    account with an entitlement active on `cutoff`.

    Cached in Redis under the directory revision the caller read with the user:
    triggers move that revision on any write to what this reads, so a cached answer
    is never older than the data it was read with. Without a revision, or without
    the cache, it is read from the database.
    """
    key = f"{SUMMARY_PREFIX}{account_id}:{revision}:{cutoff.isoformat()}"
    store = get_store() if revision is not None else None
    if store is not None:
        try:
            cached = store.get(key)
        except redis.RedisError:
            store = None  # the cache is an optimisation; the database still answers
        else:
            if cached is not None:
                return [(code, name, system) for code, name, system in json.loads(cached)]
    parameters = {"account_id": account_id, "cutoff": cutoff}
    rows = [(r.code, r.name, r.key) for r in db.execute(_ACCOUNT_LINE_SYSTEMS, parameters)]
    if store is not None:
        with contextlib.suppress(redis.RedisError):
            store.set(key, json.dumps(rows), ex=SUMMARY_TTL_SECONDS)
    return rows


SUMMARY_PREFIX = "routing:summary:"
# Entries of an old revision are never read again; they leave on their own.
SUMMARY_TTL_SECONDS = 6 * 3600

# Built once: on the sign-in hot path, building a statement costs more than running it.
_ACCOUNT_LINE_SYSTEMS = (
    select(ProductLine.code, ProductLine.name, System.key)
    .select_from(Entitlement)
    .join(ProductLine, ProductLine.id == Entitlement.product_line_id)
    .outerjoin(EntitlementHolding, EntitlementHolding.entitlement_id == Entitlement.id)
    .outerjoin(System, System.id == EntitlementHolding.system_id)
    .where(
        Entitlement.account_id == bindparam("account_id"),
        Entitlement.status == "active",
        or_(Entitlement.end_date.is_(None), Entitlement.end_date >= bindparam("cutoff")),
    )
    .group_by(ProductLine.code, ProductLine.name, System.key)
)


def _stand_in(code: str, name: str, system_key: str | None) -> EntitlementView:
    """An active entitlement of line `code` held by `system_key` (or by none)."""
    held_by = frozenset((system_key,)) if system_key else frozenset()
    return EntitlementView(
        f"{code}:{system_key or '-'}", code, name, "", "", Decimal(0), "", None, None, "active",
        held_by,
    )  # fmt: skip


def account_entitlements(
    db: Session, account_id: int, config: RoutingConfig, account_number: str
) -> tuple[tuple[EntitlementView, ...], tuple[LineState, ...]]:
    """One account's entitlements with their lines and holding systems, in one query."""
    statement = (
        select(
            Entitlement.external_id,
            Entitlement.product,
            Entitlement.unit_of_measure,
            Entitlement.quantity,
            Entitlement.kind,
            Entitlement.start_date,
            Entitlement.end_date,
            Entitlement.status,
            ProductLine.code,
            ProductLine.name,
            System.key,
        )
        .join(ProductLine, ProductLine.id == Entitlement.product_line_id)
        .outerjoin(EntitlementHolding, EntitlementHolding.entitlement_id == Entitlement.id)
        .outerjoin(System, System.id == EntitlementHolding.system_id)
        .where(Entitlement.account_id == account_id)
        .order_by(Entitlement.external_id)
    )
    rows = db.execute(statement).all()
    # One row per (entitlement, holding system): fold the holdings back together.
    # Typed Any: SQLAlchemy 2.0 and 2.1 spell Row's type parameters differently.
    rows_by_entitlement: dict[str, list[Any]] = {}
    for row in rows:
        rows_by_entitlement.setdefault(row.external_id, []).append(row)
    entitlements = tuple(_entitlement_view(group) for group in rows_by_entitlement.values())
    return entitlements, line_states(
        db, config, {row.code: row.name for row in rows}, account_number
    )


def _entitlement_view(rows: list[Any]) -> EntitlementView:
    row = rows[0]
    return EntitlementView(
        external_id=row.external_id,
        product_line_code=row.code,
        product_line_name=row.name,
        product=row.product,
        unit_of_measure=row.unit_of_measure,
        quantity=row.quantity,
        kind=row.kind,
        start_date=row.start_date,
        end_date=row.end_date,
        status=row.status,
        held_by=frozenset(r.key for r in rows if r.key is not None),
    )


def decide_for(
    inputs: RouteInputs,
    settings: Settings,
    *,
    today: date,
    deep_link_system: str | None,
    remembered_system: str | None,
    now: datetime | None = None,
) -> RouteDecision:
    """The routing decision for loaded inputs, with the configured grace period."""
    return decide(
        inputs.user,
        inputs.entitlements,
        inputs.lines,
        today=today,
        grace_days=settings.entitlement_grace_days,
        deep_link_system=deep_link_system,
        remembered_system=remembered_system,
        now=now or datetime.now(UTC),
        down_systems=inputs.down_systems,
    )


def unreachable_lines(decision: RouteDecision) -> tuple[LineTrace, ...]:
    """The user's lines that only down systems serve: they cannot be opened anywhere
    right now (a line another healthy system holds was moved there by the health gate)."""
    down = frozenset(decision.down)
    return tuple(entry for entry in decision.trace if entry.system in down)


def unreachable_entitlements(
    inputs: RouteInputs, decision: RouteDecision, settings: Settings, today: date
) -> tuple[EntitlementView, ...]:
    """The active entitlements of the unreachable lines: the products a notice names."""
    codes = {entry.line_code for entry in unreachable_lines(decision)}
    return tuple(
        e
        for e in inputs.entitlements
        if e.product_line_code in codes and is_active(e, today, settings.entitlement_grace_days)
    )


def inactive_entitlements(
    inputs: RouteInputs, settings: Settings, today: date
) -> tuple[EntitlementView, ...]:
    """The entitlements that no longer count, most recently ended first."""
    inactive = [
        e for e in inputs.entitlements if not is_active(e, today, settings.entitlement_grace_days)
    ]
    return tuple(
        sorted(inactive, key=lambda e: (e.end_date or date.min, e.external_id), reverse=True)
    )


def org_admins(db: Session, account_id: int) -> list[AdminContact]:
    """Active users with the admin permission in this account, by name."""
    rows = db.execute(
        select(User.first_name, User.last_name, User.email)
        .join(Permission, Permission.user_id == User.id)
        .where(User.account_id == account_id, User.status == "active", Permission.name == "admin")
        .order_by(User.last_name, User.first_name, User.email)
    ).all()
    return [
        AdminContact(f"{row.first_name} {row.last_name}".strip() or row.email, row.email)
        for row in rows
    ]


def system_for_url(systems: Mapping[str, SystemStatus], url: str) -> str | None:
    """The key of the system whose origin serves `url`, if any."""
    for key in sorted(systems):
        if origin(systems[key].entry_url) == origin(url):
            return key
    return None


def remember_choice(db: Session, user: User, system_key: str) -> None:
    """Store the user's choice so their next sign-in goes straight there."""
    user.remembered_system = system_key
    db.commit()


@dataclass(frozen=True)
class RememberedChoice:
    """The license center a user asked to always go to, as every page shows it."""

    system: str
    name: str


def remembered_choice_of(db: Session, user: User) -> RememberedChoice | None:
    """The user's remembered choice with the system's name, or None."""
    key = user.remembered_system
    if key is None:
        return None
    name = db.scalar(select(System.name).where(System.key == key))
    return RememberedChoice(key, name or key)


def forget_choice(db: Session, user: User) -> str | None:
    """Forget the user's remembered choice (sign-in reads it afresh each time, so this
    takes effect at once); returns the system it named."""
    before = user.remembered_system
    user.remembered_system = None
    db.commit()
    return before
