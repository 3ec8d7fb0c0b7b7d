"""Who is signed in: the one place other capabilities ask.

Every session records the user's *session generation* at sign-in, a counter kept per
user in the shared store (`session-generation:<user id>`, a hash with the counter and
the roles the sessions of that generation were started with). Bumping the counter
(`end_sessions_of`) ends every session of that user on every instance at its next
request, without finding the sessions: each request with a session compares the two
(one store read, `check_session`). The provider stamps the same generation on the
codes and access tokens it issues in a session, so they end with it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis
from flask import Flask, g, request, session
from redis.client import Pipeline
from sqlalchemy import Row, Table, bindparam, func, select

from gateway.core import announce
from gateway.core.db import get_session, read_row
from gateway.core.errors import GatewayError
from gateway.core.models import Account, DirectoryRevision, Permission, User
from gateway.core.server_sessions import STORELESS_ENDPOINTS
from gateway.core.settings import current_settings
from gateway.core.store import Store, StoreUnavailable, get_store

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
        user = None
    _remember_whether_active(user_id, user is not None)
    return user


def _remember_whether_active(user_id: int, active: bool) -> None:
    """What this request learnt of the session's user, so has_role need not ask again."""
    g.session_user_active = (user_id, active)


def _session_user_is_active() -> bool:
    """Whether the session's user is (still) active, read once per request."""
    user_id = session.get("user_id")
    known = g.get("session_user_active")
    if isinstance(known, tuple) and known[0] == user_id:
        return bool(known[1])
    account_id = session.get("account_id")
    if not isinstance(user_id, int) or not isinstance(account_id, int):
        return False
    parameters = {"user_id": user_id, "account_id": account_id}
    active = read_row(_ACTIVE_USER, parameters) is not None
    _remember_whether_active(user_id, active)
    return active


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
    row = read_row(_ACTIVE_USER, parameters)
    _remember_whether_active(user_id, row is not None)
    return signed_in_user_from(row) if row is not None else None


def require_signed_in_user() -> SignedInUser:
    """current_signed_in_user(), or NotSignedIn."""
    user = current_signed_in_user()
    if user is None:
        raise NotSignedIn("Sign in first.")
    return user


def has_role(role: str) -> bool:
    """Whether the sign-in that started this session granted `role` (e.g. "it") and its
    user is still active: a deactivated IT user keeps nothing. (Roles lost at the IdP
    end the older sessions at the next sign-in: see start_generation.)"""
    roles = session.get("roles")
    return isinstance(roles, list) and role in roles and _session_user_is_active()


def absolute_limit(roles: object) -> timedelta:
    """How long after its sign-in a session with `roles` may live, however active. The
    vendor's roles (IT, support) reach every organisation, so they live shorter."""
    settings = current_settings()
    hours = settings.session_absolute_hours
    if isinstance(roles, list) and ("it" in roles or "support" in roles):
        hours = min(hours, settings.it_session_absolute_hours)
    return timedelta(hours=hours)


GENERATION_KEY = "session-generation:"


def generation_key(user_id: int) -> str:
    return f"{GENERATION_KEY}{user_id}"


def generation_lifetime() -> int:
    """Seconds a generation record outlives the last sign-in or ending that wrote it:
    longer than any session may live, and any code or access token issued in one
    after it. So nothing that recorded a generation ever finds the record gone (gone
    reads as generation 0, and a bump after that as 1 again)."""
    settings = current_settings()
    session_hours = max(settings.session_absolute_hours, settings.it_session_absolute_hours)
    issued_later = settings.oidc_code_seconds + settings.oidc_access_token_seconds
    return session_hours * 3600 + issued_later + 3600


def session_generation(store: Store, user_id: int) -> int:
    """The user's current session generation. Raises StoreUnavailable."""
    try:
        value = store.hget(generation_key(user_id), "generation")
    except redis.RedisError as error:
        raise StoreUnavailable(str(error)) from error
    return int(value or 0)


def recorded_generation(values: Mapping[str, Any]) -> int:
    """The generation a session recorded at sign-in; 0 for one from before there were
    generations (the generation of a user whose sessions were never ended)."""
    value = values.get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def start_generation(user_id: int, roles: list[str]) -> int:
    """The generation a new session of `user_id` with `roles` records.

    When the user's sessions of the current generation were started with a role that
    `roles` lacks (they lost IT or support at the IdP), the generation is bumped first,
    so those sessions end now and this one lives. Raises StoreUnavailable."""
    key, wanted = generation_key(user_id), set(roles)
    lifetime = generation_lifetime()
    started: list[int] = []

    def attempt(pipe: Pipeline) -> None:  # run again if another write to `key` raced it
        generation_value, held_value = pipe.hmget(key, ["generation", "roles"])
        generation = int(generation_value or 0)
        held = held_value.decode() if isinstance(held_value, bytes) else str(held_value or "")
        lost = set(held.split(",")) - {""} - wanted
        pipe.multi()
        if lost:
            generation += 1
            log.info(
                "roles lost at the identity provider: the user's other sessions end",
                extra={"event": "session.roles_lost", "user_id": user_id, "lost": sorted(lost)},
            )
        # Without a loss the held roles are among `wanted`: these are now the roles the
        # sessions of this generation may hold.
        pipe.hset(key, mapping={"generation": generation, "roles": ",".join(sorted(wanted))})
        pipe.expire(key, lifetime)
        started[:] = [generation]

    try:
        get_store().transaction(attempt, key)
    except redis.RedisError as error:
        raise StoreUnavailable(str(error)) from error
    return started[0]


def end_sessions_of(user_id: int) -> None:
    """End every session of `user_id` on every instance, at each one's next request
    (and the codes and access tokens issued in them). Raises StoreUnavailable."""
    key = generation_key(user_id)
    try:
        pipe = get_store().pipeline(transaction=True)
        pipe.hincrby(key, "generation", 1)
        pipe.hset(key, "roles", "")  # no session of the new generation holds a role yet
        pipe.expire(key, generation_lifetime())
        pipe.execute()
    except redis.RedisError as error:
        raise StoreUnavailable(str(error)) from error
    log.info(
        "every session of the user ends", extra={"event": "session.all_ended", "user_id": user_id}
    )


def _generation_prefetching_version(user_id: int) -> int:
    """session_generation(), with the routing configuration's version read in the same
    round trip: nearly every signed-in request needs both (announce.current_version
    takes it from here once). Raises StoreUnavailable."""
    pipe = get_store().pipeline(transaction=False)
    pipe.hget(generation_key(user_id), "generation")
    pipe.get(announce.VERSION_KEY)
    try:
        generation, version = pipe.execute()
    except redis.RedisError as error:
        raise StoreUnavailable(str(error)) from error
    announce.prefetched(version)
    return int(generation or 0)


def check_session() -> None:
    """Before every request: a session past its absolute lifetime, or of a generation
    that was ended since (end_sessions_of), ends here, so the request runs signed out
    (pages start a sign-in, APIs answer 401). A session without a readable sign-in time
    is treated as expired: it cannot prove its age. Without the store no request runs
    as the user: StoreUnavailable answers 503."""
    user_id = session.get("user_id")
    if user_id is None or request.endpoint in STORELESS_ENDPOINTS:
        return
    try:
        signed_in_at = datetime.fromisoformat(str(session.get("signed_in_at")))
    except ValueError:
        signed_in_at = None
    limit = absolute_limit(session.get("roles"))
    if signed_in_at is None or datetime.now(UTC) - signed_in_at >= limit:
        log.info(
            "session ended: absolute lifetime reached",
            extra={"event": "session.expired", "user_id": user_id},
        )
        session.clear()
        return
    current = _generation_prefetching_version(user_id) if isinstance(user_id, int) else -1
    if recorded_generation(session) == current:
        return
    log.info(
        "session ended: all the user's sessions were ended elsewhere",
        extra={"event": "session.ended_elsewhere", "user_id": user_id},
    )
    session.clear()


def init_app(app: Flask) -> None:
    from gateway.core import hooks  # hooks names SignedInUser, defined here

    app.before_request(check_session)
    hooks.on_access_ended(app, end_sessions_of)


def end_session() -> None:
    """Forget the session server-side too, so its cookie is worthless afterwards."""
    session.clear()
