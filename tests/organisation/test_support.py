"""Vendor support (IdP group switchyard-support, session role `support`): any
organisation, read-only, every view in that organisation's audit log; they may forget a
person's remembered license center and resend an invitation, and change nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.audit import Actor
from gateway.core.models import AuditEvent, Invitation, User
from gateway.core.models.base import utcnow
from gateway.organisation import invitations
from tests.conftest import BASE_URL, https_client
from tests.forms import csrf_token
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

SUPPORT_GROUP = "switchyard-support"
BASE = "/org/accounts/100001"


@pytest.fixture
def support_client(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    client = https_client(app)
    sign_in(client, idp, email="sue@vendor.example", account="VENDOR-1", groups=(SUPPORT_GROUP,))
    return client


@pytest.fixture(autouse=True)
def _in_app(app: Flask) -> Iterator[None]:
    """invite() reads the app's settings and keys, as it does inside a request."""
    with app.app_context():
        yield


def _user(dbs: Session, email: str) -> User:
    dbs.expire_all()
    user = dbs.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def _post(client: FlaskClient, path: str, data: dict[str, object]) -> object:
    token = csrf_token(client.get(f"{BASE}/").get_data(as_text=True))
    return client.post(
        path, data={"csrf_token": token, **data}, headers={"Referer": f"{BASE_URL}{BASE}/"}
    )


def _views(dbs: Session, account_id: int) -> list[AuditEvent]:
    dbs.expire_all()
    return list(
        dbs.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "support.viewed", AuditEvent.account_id == account_id
            )
        )
    )


def test_support_finds_an_organisation_and_every_view_is_audited(
    support_client: FlaskClient, dbs: Session, world: World
) -> None:
    found = support_client.get("/org/accounts/", query_string={"q": "100001"})
    assert f'href="{BASE}/"' in found.get_data(as_text=True)
    pat = _user(dbs, "pat@ready.example")
    pages = (f"{BASE}/", f"{BASE}/users/{pat.public_id}", f"{BASE}/audit", f"{BASE}/invitations",
             f"{BASE}/tokens", f"{BASE}/audit.csv")  # fmt: skip
    for path in pages:
        answer = support_client.get(path)
        assert answer.status_code == 200, path
    assert "pat@ready.example" in support_client.get(f"{BASE}/").get_data(as_text=True)
    views = _views(dbs, world.ready.id)
    assert len(views) == len(pages) + 1
    assert {event.actor for event in views} == {"support:sue@vendor.example"}
    assert {event.via for event in views} == {"console"}
    assert all(event.request_id for event in views)


def test_support_sees_no_change_buttons(support_client: FlaskClient, dbs: Session) -> None:
    pat = _user(dbs, "pat@ready.example")
    html = support_client.get(f"{BASE}/users/{pat.public_id}").get_data(as_text=True)
    assert "read-only" in html and "Deactivate" not in html and "<fieldset disabled" in html


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("permissions", {"permission": ["portal", "admin"]}),
        ("status", {"active": "no"}),
    ],
)
def test_support_cannot_change_people(
    support_client: FlaskClient, dbs: Session, action: str, data: dict[str, object]
) -> None:
    pat = _user(dbs, "pat@ready.example")
    answer = _post(support_client, f"{BASE}/users/{pat.public_id}/{action}", data)
    assert answer.status_code == 403  # type: ignore[attr-defined]
    pat = _user(dbs, "pat@ready.example")
    assert pat.status == "active" and pat.permission_names == {"portal", "licensing", "downloads"}


def test_support_cannot_invite_revoke_or_make_tokens(
    support_client: FlaskClient, dbs: Session, world: World
) -> None:
    made = invitations.invite(
        dbs, Actor("ada@ready.example"), world.ready, email="new@ready.example",
        permissions=["portal"], now=utcnow(),
    )  # fmt: skip
    for path, data in (
        (f"{BASE}/invitations", {"email": "x@ready.example", "permissions": ["portal"]}),
        (f"{BASE}/invitations/{made.invitation.id}/revoke", {}),
        (f"{BASE}/tokens", {"name": "t", "scope": "users", "days": "30"}),
    ):
        assert _post(support_client, path, data).status_code == 403, path  # type: ignore[attr-defined]
    dbs.expire_all()
    assert dbs.scalar(select(func.count()).select_from(Invitation)) == 1
    assert dbs.get(Invitation, made.invitation.id).revoked_at is None  # type: ignore[union-attr]


def test_support_resends_an_invitation_and_forgets_a_choice(
    support_client: FlaskClient, dbs: Session, world: World
) -> None:
    made = invitations.invite(
        dbs, Actor("ada@ready.example"), world.ready, email="new@ready.example",
        permissions=["portal"], now=utcnow(),
    )  # fmt: skip
    answer = _post(support_client, f"{BASE}/invitations/{made.invitation.id}/resend", {})
    assert answer.status_code == 302  # type: ignore[attr-defined]
    dbs.expire_all()
    assert dbs.get(Invitation, made.invitation.id).sent_count == 2  # type: ignore[union-attr]

    pat = _user(dbs, "pat@ready.example")
    pat.remembered_system = "legacy"
    dbs.commit()
    _post(support_client, f"{BASE}/users/{pat.public_id}/forget-choice", {})
    assert _user(dbs, "pat@ready.example").remembered_system is None
    entry = dbs.scalars(select(AuditEvent).where(AuditEvent.action == "user.choice_cleared")).one()
    assert (entry.actor, entry.account_id) == ("support:sue@vendor.example", world.ready.id)


def test_support_on_an_unknown_account_is_404(support_client: FlaskClient) -> None:
    assert support_client.get("/org/accounts/999999/").status_code == 404


def test_support_role_is_not_an_org_admin(support_client: FlaskClient) -> None:
    """Support's own account is the vendor's: /org/ (an admin's own organisation) is not theirs."""
    assert support_client.get("/org/").status_code == 403
