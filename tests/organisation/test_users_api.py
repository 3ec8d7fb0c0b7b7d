"""/api/v1/accounts/{account}/users: an account token with the `users` scope reads and
changes its own organisation's users, and nothing of any other account (404, as if it
did not exist); IT reads with `support:read` but never writes; refused changes (the
last admin, an unknown permission) change nothing and answer problem+json."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core.api_tokens import create_account_token
from gateway.core.models import AuditEvent, User
from gateway.core.secret_keys import secret_keys
from tests.it_console import ACTOR, admin_client, bearer, it_client, token_for
from tests.world import World

__all__ = ["admin_client", "it_client", "token_for"]  # fixtures

PROBLEM = "application/problem+json"
USER_FIELDS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "status",
    "permissions",
    "added_via",
    "last_login_at",
    "created_at",
}


@pytest.fixture
def account_token(app: Flask, dbs: Session, world: World) -> Callable[..., str]:
    """An account token's secret, made as the org console and the CLI make it."""

    def make(account: str = "100001", scope: str = "users") -> str:
        return create_account_token(
            dbs,
            account,
            scope,
            actor=ACTOR,
            now=datetime.now(UTC),
            hash_key=secret_keys(app).api_token,
        ).secret

    return make


@pytest.fixture
def ready(account_token: Callable[..., str]) -> dict[str, str]:
    """Authorization for organisation 100001's own token."""
    return bearer(account_token("100001"))


def public_id(dbs: Session, email: str) -> str:
    found = dbs.scalar(select(User.public_id).where(User.email == email))
    assert found is not None
    return found


def user_row(dbs: Session, email: str) -> User:
    dbs.expire_all()
    row = dbs.scalar(select(User).where(User.email == email))
    assert row is not None
    return row


def audit_count(dbs: Session) -> int:
    dbs.expire_all()
    return dbs.scalar(select(func.count()).select_from(AuditEvent)) or 0


def users_path(account: str = "100001", user_id: str | None = None) -> str:
    path = f"/api/v1/accounts/{account}/users"
    return f"{path}/{user_id}" if user_id else path


def patch(client: FlaskClient, path: str, body: Any, headers: dict[str, str]) -> TestResponse:
    return client.patch(path, json=body, headers=headers)


def test_the_list_shows_the_accounts_users_and_only_them(
    client: FlaskClient, ready: dict[str, str]
) -> None:
    reply = client.get(users_path(), headers=ready)
    assert reply.status_code == 200, reply.get_json()
    answer = reply.get_json()
    emails = {user["email"] for user in answer["users"]}
    assert emails == {
        "pat@ready.example",
        "sam@ready.example",
        "portal@ready.example",
        "ada@ready.example",
    }
    assert (answer["total"], answer["page"], answer["pages"]) == (4, 1, 1)
    ada = next(user for user in answer["users"] if user["email"] == "ada@ready.example")
    assert set(ada) == USER_FIELDS
    assert ada["permissions"] == ["admin", "portal"]
    assert (ada["status"], ada["added_via"], ada["last_login_at"]) == ("active", "sign-in", None)


def test_the_list_pages_searches_and_filters(
    client: FlaskClient, dbs: Session, ready: dict[str, str]
) -> None:
    pages = [
        client.get(users_path(), query_string={"per_page": 3, "page": page}, headers=ready)
        for page in (1, 2)
    ]
    assert [len(reply.get_json()["users"]) for reply in pages] == [3, 1]
    assert pages[1].get_json()["pages"] == 2
    seen = {user["id"] for reply in pages for user in reply.get_json()["users"]}
    assert len(seen) == 4
    found = client.get(users_path(), query_string={"q": "ADA@"}, headers=ready).get_json()
    assert [user["email"] for user in found["users"]] == ["ada@ready.example"]
    assert (
        client.get(users_path(), query_string={"q": "wes"}, headers=ready).get_json()["users"] == []
    )
    user_row(dbs, "sam@ready.example").status = "disabled"
    dbs.commit()
    disabled = client.get(users_path(), query_string={"status": "disabled"}, headers=ready)
    assert [user["email"] for user in disabled.get_json()["users"]] == ["sam@ready.example"]


@pytest.mark.parametrize(
    "arguments", [{"per_page": 0}, {"per_page": 201}, {"page": 0}, {"status": "gone"}]
)
def test_query_arguments_out_of_bounds_are_422(
    client: FlaskClient, ready: dict[str, str], arguments: dict[str, object]
) -> None:
    reply = client.get(users_path(), query_string=arguments, headers=ready)
    assert reply.status_code == 422 and reply.mimetype == PROBLEM


def test_one_user_by_id(client: FlaskClient, dbs: Session, ready: dict[str, str]) -> None:
    pat = public_id(dbs, "pat@ready.example")
    reply = client.get(users_path(user_id=pat), headers=ready)
    assert reply.status_code == 200
    assert reply.get_json()["email"] == "pat@ready.example"
    assert reply.get_json()["id"] == pat


def test_another_accounts_users_do_not_exist_for_a_token(
    client: FlaskClient, dbs: Session, ready: dict[str, str]
) -> None:
    wes = public_id(dbs, "wes@waiting.example")
    before = audit_count(dbs)
    attempts = [
        client.get(users_path("100002"), headers=ready),
        client.get(users_path("100002", wes), headers=ready),
        client.get(users_path("100001", wes), headers=ready),  # B's user under A's number
        patch(client, users_path("100002", wes), {"active": False}, ready),
        patch(client, users_path("100001", wes), {"permissions": []}, ready),
        client.get(users_path("999999"), headers=ready),
    ]
    for reply in attempts:
        assert reply.status_code == 404, reply.get_json()
        assert reply.mimetype == PROBLEM
        assert "wes" not in reply.get_data(as_text=True)
    wes_row = user_row(dbs, "wes@waiting.example")
    assert wes_row.status == "active" and wes_row.permission_names
    assert audit_count(dbs) == before


def test_a_token_changes_permissions_and_the_audit_names_it(
    client: FlaskClient, dbs: Session, world: World, ready: dict[str, str]
) -> None:
    pat = public_id(dbs, "pat@ready.example")
    reply = patch(client, users_path(user_id=pat), {"permissions": ["portal", "admin"]}, ready)
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["permissions"] == ["admin", "portal"]
    assert user_row(dbs, "pat@ready.example").permission_names == {"portal", "admin"}
    event = dbs.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert (event.action, event.target, event.via) == (
        "user.permissions_changed",
        f"user:{pat}",
        "api",
    )
    assert event.actor.startswith("token:100001/")
    assert event.account_id == world.ready.id
    assert event.after == {"permissions": ["admin", "portal"]}


def test_a_token_switches_a_user_off_and_on(
    client: FlaskClient, dbs: Session, ready: dict[str, str]
) -> None:
    sam = public_id(dbs, "sam@ready.example")
    off = patch(client, users_path(user_id=sam), {"active": False}, ready)
    assert off.status_code == 200 and off.get_json()["status"] == "disabled"
    assert user_row(dbs, "sam@ready.example").status == "disabled"
    on = patch(client, users_path(user_id=sam), {"active": True}, ready)
    assert on.status_code == 200 and on.get_json()["status"] == "active"
    actions = dbs.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["user.deactivated", "user.reactivated"]


@pytest.mark.parametrize(
    "body", [{"permissions": ["portal"]}, {"active": False}], ids=["demote", "deactivate"]
)
def test_the_last_admin_stays_and_nothing_changes(
    client: FlaskClient, dbs: Session, ready: dict[str, str], body: dict[str, object]
) -> None:
    ada = public_id(dbs, "ada@ready.example")
    before = audit_count(dbs)
    reply = patch(client, users_path(user_id=ada), body, ready)
    assert reply.status_code == 409 and reply.mimetype == PROBLEM
    assert "last active admin" in reply.get_json()["detail"]
    row = user_row(dbs, "ada@ready.example")
    assert row.status == "active" and row.permission_names == {"portal", "admin"}
    assert audit_count(dbs) == before


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": ["portal", "superuser"]},
        {"permissions": "portal"},
        {"active": "no"},
        {},
        {"permissions": ["portal"], "email": "x@y.example"},
    ],
)
def test_a_body_outside_the_document_is_422_and_changes_nothing(
    client: FlaskClient, dbs: Session, ready: dict[str, str], body: dict[str, object]
) -> None:
    pat = public_id(dbs, "pat@ready.example")
    before = audit_count(dbs)
    reply = patch(client, users_path(user_id=pat), body, ready)
    assert reply.status_code == 422 and reply.mimetype == PROBLEM
    row = user_row(dbs, "pat@ready.example")
    assert row.permission_names == {"portal", "licensing", "downloads"}
    assert row.email == "pat@ready.example" and audit_count(dbs) == before


def test_it_reads_with_support_read_but_never_writes(
    client: FlaskClient, dbs: Session, world: World, token_for: Callable[..., str]
) -> None:
    support = bearer(token_for("support:read"))
    everything = bearer(token_for("rollout:read", "rollout:write", "support:read"))
    rollout_only = bearer(token_for("rollout:read", "rollout:write"))
    assert client.get(users_path("100002"), headers=support).status_code == 200
    wes = public_id(dbs, "wes@waiting.example")
    assert client.get(users_path("100002", wes), headers=support).status_code == 200
    assert client.get(users_path("100002"), headers=rollout_only).status_code == 403
    for headers in (support, everything):
        reply = patch(client, users_path("100002", wes), {"active": False}, headers)
        assert reply.status_code == 403 and reply.mimetype == PROBLEM
    assert user_row(dbs, "wes@waiting.example").status == "active"


def test_it_staff_read_from_the_browser_and_an_org_admins_session_is_refused(
    it_client: FlaskClient, admin_client: FlaskClient, dbs: Session
) -> None:
    assert it_client.get(users_path()).status_code == 200
    assert admin_client.get(users_path()).status_code == 403
    ada = public_id(dbs, "ada@ready.example")
    assert it_client.patch(users_path(user_id=ada), json={"active": False}).status_code == 403


def test_other_credentials_are_refused(
    client: FlaskClient, dbs: Session, account_token: Callable[..., str]
) -> None:
    scim = bearer(account_token("100001", "scim"))
    pat = public_id(dbs, "pat@ready.example")
    assert client.get(users_path()).status_code == 401
    assert client.get(users_path(), headers=bearer("sy_not-a-token")).status_code == 401
    assert client.get(users_path(), headers=scim).status_code == 403
    assert patch(client, users_path(user_id=pat), {"active": False}, scim).status_code == 403
    assert user_row(dbs, "pat@ready.example").status == "active"


def test_an_account_token_reaches_no_route_about_every_account(
    client: FlaskClient, ready: dict[str, str]
) -> None:
    for path in ("/api/v1/product-lines", "/api/v1/dashboard", "/api/v1/audit-events"):
        assert client.get(path, headers=ready).status_code == 403, path


def test_an_account_token_invites_and_lists_invitations(
    client: FlaskClient, dbs: Session, ready: dict[str, str]
) -> None:
    from gateway.core.models import Invitation, OutboundMail

    made = client.post(
        "/api/v1/accounts/100001/invitations",
        json={"email": "New.Person@Ready.example", "permissions": ["portal", "downloads"]},
        headers=ready,
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    body = made.get_json()
    assert (body["email"], body["permissions"], body["state"]) == (
        "new.person@ready.example",
        ["downloads", "portal"],
        "pending",
    )
    mail = dbs.scalars(select(OutboundMail)).one()
    assert mail.recipient == "new.person@ready.example" and "/org/invitations/" in mail.text_body
    listed = client.get("/api/v1/accounts/100001/invitations", headers=ready).get_json()
    assert [item["email"] for item in listed["invitations"]] == ["new.person@ready.example"]
    entry = dbs.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert entry is not None and (entry.action, entry.via) == ("invitation.created", "api")
    assert dbs.scalar(select(func.count()).select_from(Invitation)) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"email": "x@ready.example", "permissions": ["it"]},
        {"email": "x@ready.example", "permissions": []},
        {"email": "not-an-address", "permissions": ["portal"]},
        {"email": "wes@waiting.example", "permissions": ["portal"]},
        {"email": "x@ready.example"},
    ],
)
def test_a_refused_invitation_changes_nothing(
    client: FlaskClient, dbs: Session, ready: dict[str, str], body: dict[str, Any]
) -> None:
    from gateway.core.models import Invitation, OutboundMail

    before = audit_count(dbs)
    answer = client.post("/api/v1/accounts/100001/invitations", json=body, headers=ready)
    assert answer.status_code in (409, 422) and answer.mimetype == PROBLEM
    assert dbs.scalar(select(func.count()).select_from(Invitation)) == 0
    assert dbs.scalar(select(func.count()).select_from(OutboundMail)) == 0
    assert audit_count(dbs) == before


def test_another_accounts_token_cannot_invite_or_list(
    client: FlaskClient, account_token: Callable[..., str], dbs: Session
) -> None:
    theirs = bearer(account_token("100002"))
    invite = {"email": "x@ready.example", "permissions": ["portal"]}
    assert (
        client.post("/api/v1/accounts/100001/invitations", json=invite, headers=theirs).status_code
        == 404
    )
    assert client.get("/api/v1/accounts/100001/invitations", headers=theirs).status_code == 404
