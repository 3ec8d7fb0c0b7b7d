"""'Who is affected': where a person (or a whole account) would be routed now, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.audit import Actor, checked_reason, record
from gateway.core.errors import InvalidChange, NotFound
from gateway.core.models import Account, AuditEvent, User
from gateway.core.settings import Settings
from gateway.routing import service as routing
from gateway.routing.config import RoutingConfig
from gateway.routing.decision import RouteDecision

# An account lookup lists at most this many of its people.
MAX_PEOPLE = 100


@dataclass(frozen=True)
class PersonRoute:
    """One person's routing decision with its per-line trace."""

    email: str
    name: str
    account_number: str
    account_name: str
    remembered_system: str | None
    decision: RouteDecision


def who_is_affected(
    db: Session,
    config: RoutingConfig,
    query: str,
    settings: Settings,
    *,
    today: date,
    now: datetime,
) -> list[PersonRoute]:
    """Decide for the user with this email, or for every active user of this account number."""
    text = query.strip()
    if not text:
        raise InvalidChange("Give an email address or an account number.")
    if "@" in text:
        users = list(db.scalars(select(User).where(User.email == text.lower())))
    else:
        found = db.scalar(select(Account).where(Account.account_number == text))
        if found is None:
            raise NotFound(f"No account {text!r}.")
        users = list(
            db.scalars(
                select(User)
                .where(User.account_id == found.id, User.status == "active")
                .order_by(User.email)
                .limit(MAX_PEOPLE)
            )
        )
    if not users and "@" in text:
        raise NotFound(f"No user {text!r}.")
    return [_route(db, config, user, settings, today, now) for user in users]


def _route(
    db: Session,
    config: RoutingConfig,
    user: User,
    settings: Settings,
    today: date,
    now: datetime,
) -> PersonRoute:
    inputs = routing.load_inputs(db, user, config)
    decision = routing.decide_for(
        inputs,
        settings,
        today=today,
        deep_link_system=None,
        remembered_system=user.remembered_system,
        now=now,
    )
    return PersonRoute(
        user.email,
        user.display_name,
        user.account.account_number,
        user.account.name,
        user.remembered_system,
        decision,
    )


def trace_dict(person: PersonRoute) -> dict[str, object]:
    """The JSON form the API and the CLI print."""
    decision = person.decision
    return {
        "email": person.email,
        "account_number": person.account_number,
        "decision": decision.kind,
        "systems": list(decision.systems),
        "reason": decision.reason,
        "remembered_system": person.remembered_system,
        "down": list(decision.down),
        "lines": [t.as_dict() for t in decision.trace],
    }


def clear_remembered_choice(
    db: Session, email: str, *, reason: str | None, actor: Actor
) -> AuditEvent:
    """Support: forget a person's remembered license center, so their next sign-in is
    routed afresh; audited with who cleared it, for whom, and what it was."""
    text = checked_reason(reason)
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user {email.strip()[:320]!r}.")
    if user.remembered_system is None:
        raise InvalidChange(f"{user.email} has no remembered choice to clear.")
    before = {"remembered_system": user.remembered_system}
    user.remembered_system = None
    target = f"user:{user.email} (account {user.account.account_number})"
    event = record(db, actor, "user.remembered_choice_cleared", target, before,
                  {"remembered_system": None}, text)  # fmt: skip
    db.commit()
    return event
