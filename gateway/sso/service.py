"""The sso service: turning a verified identity into a directory user and a fresh session."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime

from flask import current_app, session
from sqlalchemy import Update, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core.db import single_statements
from gateway.core.models import Account, Permission, User
from gateway.core.session import (
    ACCOUNTS,
    USERS,
    SignedInUser,
    signed_in_user_columns,
    signed_in_user_from,
    start_generation,
)
from gateway.sso.errors import AccountDisabled, EmailOfAnotherUser, UnknownAccount
from gateway.sso.identity import Identity

log = logging.getLogger(__name__)


def upsert_user(
    db: Session,
    identity: Identity,
    jit_permissions: frozenset[str],
    now: datetime | None = None,
    *,
    legacy_issuer: str | None = None,
) -> SignedInUser:
    """Find or create the user the IdP vouched for, in the account the IdP named.

    Users are found by issuer and subject: the same subject from two IdPs is two
    people. A user kept before issuers were (issuer '') is taken over by the same
    subject only from `legacy_issuer`, the IdP they came from. A user imported by
    email is linked to their issuer and subject at first sign-in. A user whose
    account changed at the IdP loses the grants of the old organisation.
    """
    now = now or datetime.now(UTC)
    returning = _returning_user(db, identity, now, legacy_issuer)
    if returning is not None:
        return returning
    try:
        user = _upsert_once(db, identity, jit_permissions, now, legacy_issuer)
    except IntegrityError:
        # The same person's first sign-in raced on another worker or instance and
        # created the row first: this attempt now finds and updates it.
        db.rollback()
        user = _upsert_once(db, identity, jit_permissions, now, legacy_issuer)
    return SignedInUser.of(user)


def _sign_in_update() -> Update:
    """The common cases in one statement: someone signing in again (found by issuer
    and subject, or by subject alone on a user kept before issuers were, when
    `legacy_subject` is bound), or an imported user's first sign-in (by email, no
    subject yet), active and in the account the IdP named. RETURNING what routing
    needs; built once, because building a statement costs more CPU than running it."""
    others = USERS.alias("others")
    by_subject = select(others.c.id).where(
        others.c.issuer == bindparam("issuer"), others.c.subject == bindparam("subject")
    )
    # NULL (no match) unless this sign-in's issuer may take over such users.
    legacy_by_subject = select(others.c.id).where(
        others.c.issuer == "", others.c.subject == bindparam("legacy_subject")
    )
    imported_by_email = select(others.c.id).where(
        others.c.email == bindparam("email"), others.c.subject.is_(None)
    )
    account_id = select(ACCOUNTS.c.id).where(
        ACCOUNTS.c.account_number == bindparam("account_number")
    )
    return (
        update(USERS)
        .where(
            # By subject first: the email is only for a user the IdP never named.
            USERS.c.id
            == func.coalesce(
                by_subject.scalar_subquery(),
                legacy_by_subject.scalar_subquery(),
                imported_by_email.scalar_subquery(),
            ),
            USERS.c.account_id == account_id.scalar_subquery(),
            USERS.c.status == "active",
        )
        .values(
            issuer=bindparam("issuer"),
            subject=bindparam("subject"),
            email=bindparam("email"),
            # The IdP's names when it sends them; otherwise keep ours.
            first_name=func.coalesce(func.nullif(bindparam("first_name"), ""), USERS.c.first_name),
            last_name=func.coalesce(func.nullif(bindparam("last_name"), ""), USERS.c.last_name),
            last_login_at=bindparam("now"),
            updated_at=bindparam("now"),
        )
        .returning(*signed_in_user_columns())
    )


_SIGN_IN = _sign_in_update()


def _returning_user(
    db: Session, identity: Identity, now: datetime, legacy_issuer: str | None
) -> SignedInUser | None:
    """_SIGN_IN for this identity. None sends every other case (new user, moved
    account, disabled, unknown account) through _upsert_once, which handles and
    explains each."""
    parameters = {
        "account_number": identity.account_number,
        "issuer": identity.issuer,
        "subject": identity.subject,
        "legacy_subject": identity.subject if _takes_over_legacy(identity, legacy_issuer) else None,
        "email": identity.email,
        "first_name": identity.first_name,
        "last_name": identity.last_name,
        "now": now,
    }
    try:
        # One statement, atomic by itself: no transaction round trips around it.
        row = single_statements(db).execute(_SIGN_IN, parameters).one_or_none()
    except IntegrityError:  # e.g. the email is another user's: _upsert_once explains
        row = None
    if row is None:
        db.rollback()
        return None
    db.commit()
    return signed_in_user_from(row)


def _takes_over_legacy(identity: Identity, legacy_issuer: str | None) -> bool:
    """Whether this sign-in may take over a user kept before issuers were, by subject."""
    return bool(identity.issuer) and identity.issuer == legacy_issuer


def _upsert_once(
    db: Session,
    identity: Identity,
    jit_permissions: frozenset[str],
    now: datetime,
    legacy_issuer: str | None,
) -> User:
    account = db.scalar(select(Account).where(Account.account_number == identity.account_number))
    if account is None:
        raise UnknownAccount(
            "Your organisation's account is not known to the Product & License Center yet. "
            "Please contact your account manager or support.",
            account_number=identity.account_number,
        )
    found = _existing_user(db, identity, legacy_issuer)
    _refuse_email_of_another_user(db, identity, found)
    user = found or _new_user(db, identity, account, jit_permissions)
    if user.account_id != account.id:
        log.warning(
            "user moved account at the IdP; grants reset",
            extra={
                "event": "user.account_changed",
                "user_id": user.id,
                "account": account.account_number,
            },
        )
        user.account_id = account.id
        user.permissions = [Permission(name=name) for name in sorted(jit_permissions)]
        user.remembered_system = None
    if user.status != "active":
        db.rollback()
        raise AccountDisabled(
            "Your access to the Product & License Center has been switched off by "
            "your organisation's administrators.",
            user_id=user.id,
        )
    user.issuer = identity.issuer
    user.subject = identity.subject
    user.email = identity.email
    user.first_name = identity.first_name or user.first_name
    user.last_name = identity.last_name or user.last_name
    user.last_login_at = now
    db.commit()
    return user


def _existing_user(db: Session, identity: Identity, legacy_issuer: str | None) -> User | None:
    """By issuer and subject; or, from the legacy issuer, a user kept before issuers
    were by subject; or an imported user (no subject yet) by email."""
    user = db.scalar(
        select(User).where(User.issuer == identity.issuer, User.subject == identity.subject)
    )
    if user is None and _takes_over_legacy(identity, legacy_issuer):
        user = db.scalar(select(User).where(User.issuer == "", User.subject == identity.subject))
    if user is None:
        user = db.scalar(select(User).where(User.email == identity.email, User.subject.is_(None)))
    return user


def _refuse_email_of_another_user(db: Session, identity: Identity, user: User | None) -> None:
    """EmailOfAnotherUser when someone other than `user` holds the identity's email.

    The unique email would otherwise fail the write on every attempt (a 503 that looks
    like an outage); and linking the two silently would give this subject the other
    user's grants."""
    others = select(User.id).where(User.email == identity.email)
    if user is not None:
        others = others.where(User.id != user.id)
    holder = db.scalar(others)
    if holder is None:
        return
    db.rollback()
    raise EmailOfAnotherUser(
        "The portal signed you in with an email address that another user of the Product "
        "& License Center already has, so we did not sign you in and changed nothing. "
        "Please contact support: they can tell which sign-in the address belongs to.",
        user_id=holder,
    )


def _new_user(
    db: Session, identity: Identity, account: Account, jit_permissions: frozenset[str]
) -> User:
    user = User(
        issuer=identity.issuer,
        subject=identity.subject,
        email=identity.email,
        account_id=account.id,
        status="active",
        permissions=[Permission(name=name) for name in sorted(jit_permissions)],
    )
    db.add(user)
    db.flush()  # a concurrent first sign-in surfaces here as an IntegrityError
    log.info(
        "user created at sign-in",
        extra={"event": "user.created", "account": account.account_number},
    )
    return user


def roles_of(identity: Identity, it_group: str, support_group: str) -> list[str]:
    """Roles a sign-in grants: `it` for members of the IdP's IT group, `support` for
    members of the vendor's support group, and nothing else; a customer org admin
    (the `admin` permission) is neither."""
    roles = []
    if it_group in identity.groups:
        roles.append("it")
    if support_group in identity.groups:
        roles.append("support")
    return roles


def start_session(
    user: SignedInUser,
    identity: Identity,
    roles: list[str] | None = None,
    *,
    auth_time: int | None = None,
) -> None:
    """Replace whatever session the browser had with a new one (new id) for `user`.

    `auth_time` is when the IdP authenticated the person (SAML's AuthnInstant), which
    the provider reports as the id_token's auth_time; without it, now.

    The session records the user's session generation; if the user's other sessions
    were started with a role this sign-in lacks, they are ended first (start_generation)."""
    session.clear()
    session["generation"] = start_generation(user.id, roles or [])
    session["user_id"] = user.id
    session["roles"] = roles or []
    session["account_id"] = user.account_id
    session["subject"] = identity.subject
    session["issuer"] = identity.issuer
    session["saml_session_index"] = identity.session_index
    session["signed_in_at"] = datetime.now(UTC).isoformat()
    # For the OpenID Connect provider: when the user authenticated, and a session id
    # relying parties can name in logout (never the cookie value itself).
    session["auth_time"] = min(auth_time, int(time.time())) if auth_time else int(time.time())
    session["sid"] = secrets.token_urlsafe(16)
    # After filling it: Flask-Session only regenerates a non-empty session.
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
