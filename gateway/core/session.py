"""Who is signed in: the one place other capabilities ask."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import Flask, session
from sqlalchemy import Row, Table, bindparam, func, select

from gateway.core.db import get_session, single_statements
from gateway.core.errors import GatewayError
from gateway.core.models import Account, DirectoryRevision, Permission, User
from gateway.core.settings import current_settings

log = logging.getLogger(__name__)


class NotSignedIn(GatewayError):
    """No signed-in session: a 401 for APIs, a sign-in that comes back for pages."""

    status = 401
    title = "Not signed in"
    event = "session.missing"


@dataclass(frozen=True)
class SignedInUser:
    """What sign-in and routing read about a user, loaded by one statement (the hot
    path), rather than an ORM user with its account and permissions (three)."""

    id: int
    account_id: int
    account_number: str
    email: str
    permission_names: frozenset[str]
    remembered_system: str | None
    # The directory revision read with the user (None: unknown, so nothing cached
    # about their account may be used; see routing.service.load_route_summary).
    directory_revision: int | None = None

    @classmethod
    def of(cls, user: User) -> SignedInUser:
        return cls(
            user.id,
            user.account_id,
            user.account.account_number,
            user.email,
            user.permission_names,
            user.remembered_system,
        )


# The mapped tables, for Core statements (declarative types __table__ as FromClause).
USERS = cast(Table, User.__table__)
ACCOUNTS = cast(Table, Account.__table__)
PERMISSIONS = cast(Table, Permission.__table__)
DIRECTORY_REVISION = cast(Table, DirectoryRevision.__table__)


def signed_in_user_columns() -> tuple[Any, ...]:
    """A SignedInUser's columns, for a SELECT or an UPDATE … RETURNING over `users`.

    Core table columns, not ORM attributes: the hot path needs no ORM objects, and an
    ORM-enabled statement costs several times more CPU to run.
    """
    # Correlated subqueries rather than joins: SQLite's RETURNING cannot name other tables.
    account_number = (
        select(ACCOUNTS.c.account_number)
        .where(ACCOUNTS.c.id == USERS.c.account_id)
        .scalar_subquery()
    )
    permissions = (
        select(func.aggregate_strings(PERMISSIONS.c.name, ","))
        .where(PERMISSIONS.c.user_id == USERS.c.id)
        .scalar_subquery()
    )
    revision = select(DIRECTORY_REVISION.c.revision).scalar_subquery()
    return (
        USERS.c.id,
        USERS.c.account_id,
        account_number.label("account_number"),
        USERS.c.email,
        permissions.label("permissions"),
        USERS.c.remembered_system,
        revision.label("directory_revision"),
    )


def signed_in_user_from(row: Row[Any]) -> SignedInUser:
    """The SignedInUser in a row of signed_in_user_columns()."""
    return SignedInUser(
        row.id,
        row.account_id,
        row.account_number,
        row.email,
        frozenset(row.permissions.split(",")) if row.permissions else frozenset(),
        row.remembered_system,
        row.directory_revision,
    )


def current_user() -> User | None:
    """The signed-in, active user of this request, or None."""
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = get_session().scalar(select(User).where(User.id == user_id))
    if user is None or user.status != "active" or user.account_id != session.get("account_id"):
        return None
    return user


def require_user() -> User:
    """The signed-in user, or NotSignedIn (a 401 for APIs, a sign-in redirect for pages)."""
    user = current_user()
    if user is None:
        raise NotSignedIn("Sign in first.")
    return user


_ACTIVE_USER = select(*signed_in_user_columns()).where(
    USERS.c.id == bindparam("user_id"),
    USERS.c.account_id == bindparam("account_id"),
    USERS.c.status == "active",
)


def current_signed_in_user() -> SignedInUser | None:
    """Like current_user(), as a SignedInUser from one statement (routing's hot path)."""
    user_id, account_id = session.get("user_id"), session.get("account_id")
    if not isinstance(user_id, int) or not isinstance(account_id, int):
        return None
    parameters = {"user_id": user_id, "account_id": account_id}
    row = single_statements(get_session()).execute(_ACTIVE_USER, parameters).one_or_none()
    return signed_in_user_from(row) if row is not None else None


def require_signed_in_user() -> SignedInUser:
    """current_signed_in_user(), or NotSignedIn."""
    user = current_signed_in_user()
    if user is None:
        raise NotSignedIn("Sign in first.")
    return user


def has_role(role: str) -> bool:
    """Whether the sign-in that started this session granted `role` (e.g. "it")."""
    roles = session.get("roles")
    return isinstance(roles, list) and role in roles


def absolute_limit(roles: object) -> timedelta:
    """How long after its sign-in a session with `roles` may live, however active."""
    settings = current_settings()
    hours = settings.session_absolute_hours
    if isinstance(roles, list) and "it" in roles:
        hours = min(hours, settings.it_session_absolute_hours)
    return timedelta(hours=hours)


def end_expired_session() -> None:
    """Before every request: a session past its absolute lifetime ends here, so the
    request runs signed out (pages start a sign-in, APIs answer 401). A session without
    a readable sign-in time is treated as expired: it cannot prove its age."""
    if "user_id" not in session:
        return
    try:
        signed_in_at = datetime.fromisoformat(str(session.get("signed_in_at")))
    except ValueError:
        signed_in_at = None
    limit = absolute_limit(session.get("roles"))
    if signed_in_at is not None and datetime.now(UTC) - signed_in_at < limit:
        return
    log.info(
        "session ended: absolute lifetime reached",
        extra={"event": "session.expired", "user_id": session.get("user_id")},
    )
    session.clear()


def init_app(app: Flask) -> None:
    app.before_request(end_expired_session)


def end_session() -> None:
    """Forget the session server-side too, so its cookie is worthless afterwards."""
    session.clear()
