"""The organisation's users as JSON, under /api/v1/accounts/{account}/users: what the
org console shows and changes, for an account token with the `users` scope (reads also
for IT's `support:read`). Every change goes through gateway.organisation.service, so
the console's rules (last admin, known permissions, one account only) hold here too."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, jsonify
from flask.typing import ResponseReturnValue

from gateway.core.access import Caller, NotAuthorised, api_caller, limit_failed_credentials
from gateway.core.api_input import json_body, query_arguments
from gateway.core.audit import Actor
from gateway.core.db import get_session
from gateway.core.extensions import csrf
from gateway.core.models import Invitation, User
from gateway.core.models.base import utcnow
from gateway.core.openapi import SUPPORT_READ, describe
from gateway.organisation import invitations
from gateway.organisation.openapi import (
    INVITATIONS_PATH,
    ORGANISATION_API,
    USERS_PATH,
    USERS_SCOPE,
)
from gateway.organisation.service import (
    UserChange,
    account_by_number,
    change_user,
    get_user,
    list_users,
)

bp = Blueprint("organisation_api", __name__, url_prefix="/api/v1/accounts/<account>")
limit_failed_credentials(bp)
describe(bp, ORGANISATION_API)


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.public_id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "status": user.status,
        "permissions": sorted(user.permission_names),
        "added_via": user.added_via,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        "created_at": user.created_at.isoformat(),
    }


def _reader(account: str) -> Caller:
    """The account's own token (`users`), or the vendor's support reading (IT's
    `support:read`). A token of another account is a 404 either way."""
    try:
        return api_caller(USERS_SCOPE, account=account)
    except NotAuthorised:
        return api_caller(SUPPORT_READ, account=account)


def _writer(account: str) -> Actor:
    """Only the account's own token changes its users; IT's tokens do not (403)."""
    caller = api_caller(USERS_SCOPE, account=account)
    return Actor(caller.name, g.get("request_id"), via="api")


@bp.get("/users")
def users(account: str) -> ResponseReturnValue:
    _reader(account)
    arguments = query_arguments("get", USERS_PATH)
    db = get_session()
    found = list_users(
        db,
        account_by_number(db, account).id,
        search=arguments["q"],
        status=arguments["status"],
        page=arguments["page"],
        per_page=arguments["per_page"],
    )
    return jsonify(
        users=[user_json(user) for user in found.items],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        pages=found.pages,
    )


@bp.get("/users/<id>")
def user(account: str, id: str) -> ResponseReturnValue:  # noqa: A002 - the document's name
    _reader(account)
    db = get_session()
    return jsonify(user_json(get_user(db, account_by_number(db, account).id, id)))


@bp.patch("/users/<id>")
def change(account: str, id: str) -> ResponseReturnValue:  # noqa: A002 - the document's name
    """`permissions` (the whole set) and/or `active`; refused changes change nothing."""
    actor = _writer(account)
    body = json_body("OrgUserChange")
    db = get_session()
    target = get_user(db, account_by_number(db, account).id, id)
    permissions = body.get("permissions")
    changed = change_user(
        db,
        actor,
        target,
        UserChange(
            permissions=frozenset(permissions) if permissions is not None else None,
            active=body.get("active"),
        ),
        now=utcnow(),
    )
    return jsonify(user_json(changed))


def invitation_json(invitation: Invitation, state: str) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "permissions": sorted(invitation.permissions.split()),
        "state": state,
        "created_at": invitation.created_at.isoformat(),
        "expires_at": invitation.expires_at.isoformat(),
    }


@bp.get("/invitations")
def invitation_list(account: str) -> ResponseReturnValue:
    _reader(account)
    arguments = query_arguments("get", INVITATIONS_PATH)
    db = get_session()
    found = invitations.list_invitations(
        db, account_by_number(db, account).id, now=utcnow(), page=arguments["page"]
    )
    return jsonify(
        invitations=[invitation_json(item.invitation, item.state) for item in found.items],
        total=found.total,
        page=found.page,
        pages=found.pages,
    )


@bp.post("/invitations")
def invite(account: str) -> ResponseReturnValue:
    """Invite someone by email; the mail is queued with the invitation, in one commit."""
    actor = _writer(account)
    body = json_body("OrgInvitationRequest")
    db = get_session()
    created = invitations.invite(
        db,
        actor,
        account_by_number(db, account),
        email=body["email"],
        permissions=body["permissions"],
        now=utcnow(),
    )
    return jsonify(invitation_json(created.invitation, "pending")), 201


def init_app(app: Flask) -> None:
    # Bearer tokens, as for every API route; a cookie (IT's session) only ever reads.
    csrf.exempt(bp)
    app.register_blueprint(bp)
