"""Invitations by email: an org admin invites an address, with chosen permissions, into
their organisation; the person follows the mailed link, signs in through the portal as
that address and accepts.

The rules, here once:

- The link carries a random secret (`secrets.token_urlsafe(32)`); only its HMAC under
  the "invitation" key derived from GATEWAY_SECRET_KEY is stored, so a copy of the
  table opens nothing. The mail is queued in the invitation's own transaction: no
  invitation without its mail, no mail for a refused one.
- An address that is already a user of this organisation (active or deactivated), or
  of any other organisation, cannot be invited; the refusal never says which
  organisation holds it. An address with a pending invitation into the same
  organisation is refused too, pointing at "resend" (new link, new expiry) and
  "revoke": permissions are never changed behind a link already mailed.
- Accepting needs a sign-in: the portal's verified email must be the invited address,
  and the organisation the portal names for the person must be the inviting one. Then
  the invitation is claimed by one conditional UPDATE (not accepted, not revoked, not
  expired), so of two concurrent accepts one wins; the other changes nothing.
- Permissions on acceptance: a person whose first sign-in came after the invitation was
  made (`added_via` "sign-in", created after it) holds only the JIT defaults that sign-in
  gave them, so they get exactly the invitation's permissions and become a user added
  by invitation. Anyone older (imported, provisioned, or signed in before) keeps what
  they had and gains the invitation's permissions (the union): accepting never takes
  a grant away.
- Every step is audited with the account, and each refusal of a link is logged as
  `invitation.refused` with its reason.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from gateway.core.audit import Actor, record
from gateway.core.errors import ConflictingChange, GatewayError, InvalidChange, NotFound
from gateway.core.mail import queue_mail
from gateway.core.models import Account, Invitation, User
from gateway.core.paging import Page
from gateway.core.secret_keys import secret_keys
from gateway.core.session import SignedInUser
from gateway.core.settings import PERMISSIONS, current_settings
from gateway.organisation.service import (
    PAGE_SIZE,
    UserChange,
    change_user,
    checked_email,
    checked_permissions,
)

log = logging.getLogger(__name__)
LINK_PATH = "/org/invitations/"


class InvitationRefused(GatewayError):
    """A link that cannot be accepted (by this person, or any more): nothing changes."""

    status = 404
    title = "This invitation cannot be used"
    event = "invitation.refused"

    def __init__(self, reason: str, detail: str, **context: Any) -> None:
        super().__init__(detail, reason=reason, **context)
        self.reason = reason


class UnknownInvitation(InvitationRefused):
    status = 404
    title = "No such invitation"


class InvitationGone(InvitationRefused):
    """Expired, revoked or already used: it existed, and is no more."""

    status = 410
    title = "This invitation is no longer valid"


class NotYourInvitation(InvitationRefused):
    """Valid, but for another address or another organisation than the signed-in one."""

    status = 409
    title = "This invitation is not for this sign-in"


@dataclass(frozen=True)
class NewInvitation:
    """A freshly made (or resent) invitation: `link` holds the only copy of its secret."""

    invitation: Invitation
    link: str


@dataclass(frozen=True)
class ListedInvitation:
    invitation: Invitation
    state: str


def token_hash(token: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 of a link's secret under the "invitation" key."""
    return hmac.new(key or secret_keys().invitation, token.encode(), hashlib.sha256).hexdigest()


def permission_names(invitation: Invitation) -> frozenset[str]:
    return frozenset(invitation.permissions.split())


def _new_link(invitation: Invitation) -> str:
    """A new secret for `invitation` (its hash stored), and the link that carries it."""
    token = secrets.token_urlsafe(32)
    invitation.token_hash = token_hash(token)
    return f"{current_settings().base_url}{LINK_PATH}{token}"


def _lock_account(db: Session, account_id: int) -> None:
    """Serialise changes to one account's invitations and users (a PostgreSQL row lock)."""
    db.execute(select(Account.id).where(Account.id == account_id).with_for_update())


def invite(
    db: Session,
    actor: Actor,
    account: Account,
    *,
    email: str,
    permissions: Iterable[str],
    now: datetime,
) -> NewInvitation:
    """Invite `email` into `account` with `permissions`: the invitation, its mail and
    its audit entry in one transaction, committed."""
    address = checked_email(email)
    granted = checked_permissions(permissions)
    if not granted:
        raise InvalidChange("Choose at least one permission for the person you invite.")
    _lock_account(db, account.id)
    _refuse_known_address(db, account, address, now)
    invitation = Invitation(
        account_id=account.id,
        email=address,
        permissions=" ".join(p for p in PERMISSIONS if p in granted),
        created_by=actor.name,
        created_at=now,
        expires_at=now + timedelta(days=current_settings().invitation_days),
        last_sent_at=now,
        sent_count=1,
    )
    link = _new_link(invitation)
    db.add(invitation)
    db.flush()
    _queue_invitation_mail(db, actor, account, invitation, link, now)
    record(
        db,
        actor,
        "invitation.created",
        f"invitation:{invitation.id}",
        None,
        _snapshot(invitation),
        account_id=account.id,
        at=now,
    )
    db.commit()
    log.info(
        "invitation created",
        extra={"event": "invitation.created", "invitation_id": invitation.id},
    )
    return NewInvitation(invitation, link)


def _refuse_known_address(db: Session, account: Account, address: str, now: datetime) -> None:
    holder = db.scalar(select(User).where(User.email == address))
    if holder is not None and holder.account_id == account.id:
        if holder.status == "active":
            raise ConflictingChange(f"{address} is already a user of your organisation.")
        raise ConflictingChange(
            f"{address} is a deactivated user of your organisation: reactivate them instead."
        )
    if holder is not None:
        # Deliberately not saying which organisation holds it.
        raise ConflictingChange(f"{address} is already the address of another user.")
    pending = db.scalar(
        select(Invitation.id).where(
            Invitation.account_id == account.id,
            Invitation.email == address,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
    )
    if pending is not None:
        raise ConflictingChange(
            f"{address} already has a pending invitation: resend it, or revoke it first "
            "to invite them with other permissions."
        )


def _snapshot(invitation: Invitation) -> dict[str, object]:
    return {
        "email": invitation.email,
        "permissions": invitation.permissions.split(),
        "expires_at": invitation.expires_at.isoformat(),
    }


def _queue_invitation_mail(
    db: Session, actor: Actor, account: Account, invitation: Invitation, link: str, now: datetime
) -> None:
    expires = invitation.expires_at.strftime("%d %B %Y, %H:%M UTC")
    body = "\n".join(
        [
            "Hello,",
            "",
            f"{actor.name} invites you to use the Product & License Center for "
            f"{account.name} ({account.account_number}), with these permissions: "
            f"{', '.join(invitation.permissions.split())}.",
            "",
            "To accept, open this link and sign in through the community portal with this",
            f"email address ({invitation.email}):",
            "",
            link,
            "",
            f"The link works once, and until {expires}.",
            "If you did not expect this invitation, ignore this message: nothing happens.",
        ]
    )
    subject = f"You are invited to the Product & License Center ({account.name})"
    queue_mail(db, invitation.email, subject, body, now=now)


def _invitation_of(db: Session, account_id: int, invitation_id: int) -> Invitation:
    """The account's invitation with this id; another account's is NotFound."""
    invitation = db.scalar(
        select(Invitation)
        .where(Invitation.id == invitation_id, Invitation.account_id == account_id)
        .execution_options(populate_existing=True)
    )
    if invitation is None:
        raise NotFound("There is no such invitation in your organisation.")
    return invitation


def resend(
    db: Session, actor: Actor, account_id: int, invitation_id: int, *, now: datetime
) -> NewInvitation:
    """Mail a pending invitation again with a new link and a new expiry: the old link
    stops working. Audited; committed."""
    _lock_account(db, account_id)
    invitation = _invitation_of(db, account_id, invitation_id)
    state = invitation.state(now)
    if state != "pending":
        raise ConflictingChange(f"That invitation is {state}: only a pending one can be resent.")
    before = {"expires_at": invitation.expires_at.isoformat()}
    invitation.expires_at = now + timedelta(days=current_settings().invitation_days)
    invitation.last_sent_at = now
    invitation.sent_count += 1
    link = _new_link(invitation)
    account = db.get(Account, account_id)
    assert account is not None
    _queue_invitation_mail(db, actor, account, invitation, link, now)
    record(
        db,
        actor,
        "invitation.resent",
        f"invitation:{invitation.id}",
        before,
        {"expires_at": invitation.expires_at.isoformat(), "email": invitation.email},
        account_id=account_id,
        at=now,
    )
    db.commit()
    return NewInvitation(invitation, link)


def revoke(
    db: Session, actor: Actor, account_id: int, invitation_id: int, *, now: datetime
) -> Invitation:
    """Withdraw a pending invitation: its link stops working. Audited; committed."""
    invitation = _invitation_of(db, account_id, invitation_id)
    claimed = db.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(claimed, CursorResult)
    if claimed.rowcount != 1:
        db.rollback()
        state = _invitation_of(db, account_id, invitation_id).state(now)
        raise ConflictingChange(f"That invitation is {state}: it cannot be revoked.")
    record(
        db,
        actor,
        "invitation.revoked",
        f"invitation:{invitation.id}",
        {"state": invitation.state(now)},
        {"state": "revoked"},
        account_id=account_id,
        at=now,
    )
    db.commit()
    db.refresh(invitation)
    return invitation


def list_invitations(
    db: Session, account_id: int, *, now: datetime, page: int = 1, per_page: int = PAGE_SIZE
) -> Page[ListedInvitation]:
    """One page of the account's invitations, newest first, each with its state."""
    page, per_page = max(1, page), max(1, min(per_page, 200))
    query = select(Invitation).where(Invitation.account_id == account_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(Invitation.created_at.desc(), Invitation.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([ListedInvitation(row, row.state(now)) for row in rows], total, page, per_page)


def invitation_for_link(
    db: Session, token: str, user: SignedInUser, *, now: datetime
) -> Invitation:
    """The invitation behind `token` if `user` may accept it now, else InvitationRefused
    (logged by the error handler as invitation.refused, with the reason)."""
    invitation = db.scalar(
        select(Invitation)
        .where(Invitation.token_hash == token_hash(token))
        .execution_options(populate_existing=True)
    )
    if invitation is None:
        raise UnknownInvitation(
            "unknown",
            "This invitation link is not valid. It may have been replaced by a newer one: "
            "look for the latest invitation mail, or ask your organisation's admin.",
        )
    context = {"invitation_id": invitation.id, "user_id": user.id}
    state = invitation.state(now)
    if state != "pending":
        explained = {
            "revoked": "It was withdrawn by your organisation's admin.",
            "accepted": "It has already been used; an invitation works once.",
            "expired": "It has expired.",
        }
        raise InvitationGone(
            state,
            f"{explained[state]} Ask your organisation's admin for a new invitation.",
            **context,
        )
    if user.email != invitation.email:
        raise NotYourInvitation(
            "other_email",
            f"This invitation was sent to another email address than the one you signed in "
            f"with ({user.email}). Sign out, and sign in with the address it was sent to.",
            **context,
        )
    if user.account_id != invitation.account_id:
        raise NotYourInvitation(
            "other_account",
            "The community portal signed you in for another organisation than the one that "
            "invited you. Ask your organisation's admin, or the portal's support, to check "
            "which organisation your sign-in belongs to.",
            **context,
        )
    return invitation


def accept(db: Session, token: str, signed_in_user: SignedInUser, *, now: datetime) -> Invitation:
    """Accept the invitation behind `token` as `signed_in_user`: their permissions become
    the invitation's (a person new since the invitation) or gain them (anyone else).
    Claimed once, audited, committed; a refusal changes nothing."""
    invitation = invitation_for_link(db, token, signed_in_user, now=now)
    _lock_account(db, invitation.account_id)
    user = db.scalar(
        select(User).where(User.id == signed_in_user.id).execution_options(populate_existing=True)
    )
    assert user is not None
    claimed = db.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now, accepted_user_id=user.id)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(claimed, CursorResult)
    if claimed.rowcount != 1:
        db.rollback()
        # Someone (or something) got there first: say what it is now.
        invitation_for_link(db, token, signed_in_user, now=now)
        raise InvitationGone("accepted", "It has already been used; an invitation works once.")
    invited = permission_names(invitation)
    fresh = user.added_via == "sign-in" and user.created_at >= invitation.created_at
    wanted = invited if fresh else user.permission_names | invited
    if fresh:
        db.execute(update(User).where(User.id == user.id).values(added_via="invitation"))
    actor = Actor(user.email, _request_id(), via="invitation")
    record(
        db,
        actor,
        "invitation.accepted",
        f"invitation:{invitation.id}",
        {"state": "pending"},
        {"state": "accepted", "user": user.public_id, "permissions": sorted(wanted)},
        account_id=invitation.account_id,
        at=now,
    )
    if wanted != user.permission_names:
        change_user(db, actor, user, UserChange(permissions=wanted), now=now)  # commits
    else:
        db.commit()
    log.info(
        "invitation accepted",
        extra={"event": "invitation.accepted", "invitation_id": invitation.id, "user_id": user.id},
    )
    db.refresh(invitation)
    return invitation


def _request_id() -> str | None:
    from flask import g, has_request_context

    return g.get("request_id") if has_request_context() else None
