"""An organisation's people, as its admins (and the vendor's support) manage them.

Plain functions over a database session; the console, the JSON API, SCIM and
invitations all change users through `change_user` and `add_user`, so the rules live
here once:

- every query is limited to one account: a user of another account is NotFound (404),
  never a 403 that would confirm it exists;
- permissions are the customer's four (portal, licensing, downloads, admin); the
  vendor's roles (IT, support) come only from the vendor's IdP groups;
- the last active admin of an account can be neither removed nor deactivated;
- each change writes one audit entry (before, after, how it was made) in its own
  transaction, and a deactivation ends the user's sessions and tokens everywhere once
  it is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from gateway.core import hooks
from gateway.core.audit import Actor, record
from gateway.core.db import one_transaction
from gateway.core.errors import ConflictingChange, InvalidChange, NotFound
from gateway.core.models import Account, AuditEvent, Permission, User
from gateway.core.models.directory import USER_ORIGINS
from gateway.core.paging import Page
from gateway.core.settings import PERMISSIONS

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_SEARCH = 200


class LastAdmin(ConflictingChange):
    """The change would leave the organisation with no active admin."""

    event = "org.last_admin"


@dataclass(frozen=True)
class UserChange:
    """What to change on a user; None leaves a field as it is."""

    permissions: frozenset[str] | None = None
    active: bool | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    external_id: str | None = None
    # Only with external_id=None: clear the SCIM externalId.
    clear_external_id: bool = False


@dataclass
class Snapshot:
    """A user as the audit log records them before and after a change."""

    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, user: User) -> Snapshot:
        return cls(
            {
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "status": user.status,
                "permissions": sorted(user.permission_names),
                "external_id": user.external_id,
            }
        )

    def differences(self, other: Snapshot) -> tuple[dict[str, Any], dict[str, Any]]:
        """The fields that differ, as (before, after)."""
        changed = [key for key in self.values if self.values[key] != other.values.get(key)]
        return {k: self.values[k] for k in changed}, {k: other.values[k] for k in changed}


def account_by_number(db: Session, account_number: str) -> Account:
    account = db.scalar(select(Account).where(Account.account_number == account_number))
    if account is None:
        raise NotFound(f"No account {account_number}.")
    return account


def checked_permissions(names: Iterable[str]) -> frozenset[str]:
    """The customer permissions named, or InvalidChange naming what is not one."""
    chosen = frozenset(name.strip().lower() for name in names if name.strip())
    unknown = sorted(chosen - set(PERMISSIONS))
    if unknown:
        raise InvalidChange(
            f"Unknown permission {', '.join(unknown)}: choose among {', '.join(PERMISSIONS)}."
        )
    return chosen


def checked_email(value: str | None) -> str:
    """A plausible email address, lower-cased (as the directory stores them)."""
    email = (value or "").strip().lower()
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain) or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidChange("Give a valid email address, such as dave@example.com.")
    return email


def like_pattern(text: str) -> str:
    """A LIKE pattern finding `text` anywhere, lower-cased, its wildcards escaped (with
    backslash) so that a search for "a_b" finds "a_b", not "axb"."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def users_query(
    account_id: int, search: str | None = None, status: str | None = None
) -> Select[Any]:
    """The account's users, optionally matching `search` in name or email."""
    query = select(User).where(User.account_id == account_id)
    if status:
        query = query.where(User.status == status)
    text = (search or "").strip()[:MAX_SEARCH]
    if text:
        pattern = like_pattern(text)
        full_name = func.lower(User.first_name + " " + User.last_name)
        query = query.where(
            or_(
                User.email.like(pattern, escape="\\"),
                full_name.like(pattern, escape="\\"),
            )
        )
    return query


def list_users(
    db: Session,
    account_id: int,
    *,
    search: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> Page[User]:
    """One page of the account's users, by name then email."""
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    page = max(1, page)
    query = users_query(account_id, search, status)
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = db.scalars(
        query.order_by(User.last_name, User.first_name, User.email, User.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(rows, total, page, per_page)


def get_user(db: Session, account_id: int, public_id: str) -> User:
    """The account's user with this public id; a user of another account is NotFound."""
    user = db.scalar(select(User).where(User.public_id == public_id, User.account_id == account_id))
    if user is None:
        raise NotFound("There is no such user in your organisation.")
    return user


def _lock_account(db: Session, account_id: int) -> None:
    """Serialise changes to one account's users (PostgreSQL row lock; SQLite has one
    writer anyway), so two admins cannot each remove the other as the "other" admin.
    It starts the change's one transaction."""
    one_transaction(db)
    db.execute(select(Account.id).where(Account.id == account_id).with_for_update())


def _other_active_admins(db: Session, user: User) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(User)
            .join(Permission, Permission.user_id == User.id)
            .where(
                User.account_id == user.account_id,
                User.status == "active",
                User.id != user.id,
                Permission.name == "admin",
            )
        )
        or 0
    )


def change_user(
    db: Session, actor: Actor, user: User, change: UserChange, *, now: datetime
) -> User:
    """Apply `change` to `user` (of the account the caller resolved), audit it and commit.

    Refused changes raise before anything is written (the caller's session is rolled
    back by its error handler). No-op changes write nothing and audit nothing.
    """
    _lock_account(db, user.account_id)
    db.refresh(user)
    before = Snapshot.of(user)
    was_active = user.status == "active"
    if change.permissions is not None:
        wanted = checked_permissions(change.permissions)
        if wanted != user.permission_names:
            user.permissions = [Permission(name=name) for name in sorted(wanted)]
    if change.active is not None:
        user.status = "active" if change.active else "disabled"
    if change.email is not None:
        email = checked_email(change.email)
        if email != user.email:
            _refuse_taken_email(db, email, user.id)
            user.email = email
    if change.first_name is not None:
        user.first_name = change.first_name.strip()[:255]
    if change.last_name is not None:
        user.last_name = change.last_name.strip()[:255]
    if change.external_id is not None or change.clear_external_id:
        external = (change.external_id or "").strip()[:255] or None
        if external != user.external_id:
            _refuse_taken_external_id(db, user.account_id, external, user.id)
            user.external_id = external
    after = Snapshot.of(user)
    _refuse_losing_last_admin(db, user, before, after)
    old, new = before.differences(after)
    if not old and not new:
        db.rollback()
        return user
    user.updated_at = now
    record(
        db,
        actor,
        _action(old, new),
        f"user:{user.public_id}",
        old,
        new,
        account_id=user.account_id,
        at=now,
    )
    db.commit()
    log.info(
        "organisation user changed",
        extra={"event": "org.user_changed", "user_id": user.id, "fields": sorted(new)},
    )
    if was_active and user.status != "active":
        hooks.access_ended(user.id)
    return user


def _action(before: dict[str, Any], after: dict[str, Any]) -> str:
    if "status" in after:
        return "user.reactivated" if after["status"] == "active" else "user.deactivated"
    if set(after) == {"permissions"}:
        return "user.permissions_changed"
    return "user.changed"


def _refuse_losing_last_admin(db: Session, user: User, before: Snapshot, after: Snapshot) -> None:
    was_admin = before.values["status"] == "active" and "admin" in before.values["permissions"]
    still_admin = after.values["status"] == "active" and "admin" in after.values["permissions"]
    if was_admin and not still_admin and _other_active_admins(db, user) == 0:
        raise LastAdmin(
            f"{user.display_name} is the organisation's last active admin: make someone "
            "else an admin first, so the organisation is never left without one.",
            user_id=user.id,
        )


def _refuse_taken_email(db: Session, email: str, user_id: int | None) -> None:
    holder = db.scalar(select(User.id).where(User.email == email))
    if holder is not None and holder != user_id:
        # Deliberately not saying which organisation holds it.
        raise ConflictingChange(f"{email} is already the address of another user.", user_id=holder)


def _refuse_taken_external_id(
    db: Session, account_id: int, external_id: str | None, user_id: int | None
) -> None:
    if external_id is None:
        return
    holder = db.scalar(
        select(User.id).where(User.account_id == account_id, User.external_id == external_id)
    )
    if holder is not None and holder != user_id:
        raise ConflictingChange(f"Another user has the externalId {external_id!r}.")


def add_user(
    db: Session,
    actor: Actor,
    account: Account,
    *,
    email: str,
    permissions: Iterable[str],
    added_via: str,
    now: datetime,
    first_name: str = "",
    last_name: str = "",
    external_id: str | None = None,
    active: bool = True,
) -> User:
    """A new user of `account` (SCIM create, an accepted invitation), audited; committed."""
    assert added_via in USER_ORIGINS
    address = checked_email(email)
    granted = checked_permissions(permissions)
    _lock_account(db, account.id)
    _refuse_taken_email(db, address, None)
    _refuse_taken_external_id(db, account.id, external_id, None)
    user = User(
        email=address,
        account_id=account.id,
        first_name=first_name.strip()[:255],
        last_name=last_name.strip()[:255],
        status="active" if active else "disabled",
        added_via=added_via,
        external_id=external_id,
        permissions=[Permission(name=name) for name in sorted(granted)],
        created_at=now,
        updated_at=now,
    )
    db.add(user)
    db.flush()
    record(
        db,
        actor,
        "user.added",
        f"user:{user.public_id}",
        None,
        Snapshot.of(user).values,
        account_id=account.id,
        at=now,
    )
    db.commit()
    return user


def clear_remembered_choice(db: Session, actor: Actor, user: User, *, now: datetime) -> None:
    """Forget which license center the user chose to always go to (support's fix)."""
    if user.remembered_system is None:
        return
    one_transaction(db)
    before = {"remembered_system": user.remembered_system}
    user.remembered_system = None
    record(
        db,
        actor,
        "user.choice_cleared",
        f"user:{user.public_id}",
        before,
        {"remembered_system": None},
        account_id=user.account_id,
        at=now,
    )
    db.commit()


def record_support_view(
    db: Session, actor: Actor, account: Account, page: str, *, now: datetime
) -> None:
    """Vendor support looked at an organisation: every such view is in its audit log."""
    one_transaction(db)
    record(
        db,
        actor,
        "support.viewed",
        f"account:{account.account_number}",
        None,
        {"page": page},
        account_id=account.id,
        at=now,
    )
    db.commit()


@dataclass(frozen=True)
class AuditFilter:
    """What an org admin narrows their log to; empty fields match everything."""

    action: str = ""
    actor: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_query(account_id: int, wanted: AuditFilter) -> Select[Any]:
    """The account's own audit entries, newest first."""
    query = select(AuditEvent).where(AuditEvent.account_id == account_id)
    if wanted.action:
        query = query.where(AuditEvent.action == wanted.action)
    if wanted.actor:
        query = query.where(AuditEvent.actor == wanted.actor.strip().lower())
    if wanted.target:
        query = query.where(AuditEvent.target == wanted.target)
    if wanted.since is not None:
        query = query.where(AuditEvent.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEvent.at < wanted.until)
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def audit_page(
    db: Session, account_id: int, wanted: AuditFilter, *, page: int = 1, per_page: int = PAGE_SIZE
) -> Page[AuditEvent]:
    query = audit_query(account_id, wanted)
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = max(1, page)
    rows = db.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(rows, total, page, per_page)
