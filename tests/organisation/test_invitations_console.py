"""The org admin's invitation pages: only admins of the organisation, only its own
invitations, CSRF on every form, and the invite refusals (a user already, another
organisation's user, a pending invitation) that write nothing, mail included."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.audit import Actor
from gateway.core.models import AuditEvent, Invitation, OutboundMail
from gateway.core.models.base import utcnow
from gateway.organisation.invitations import invite
from tests import factories
from tests.conftest import BASE_URL, https_client
from tests.forms import csrf_token
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

SAME_ORIGIN = {"Referer": f"{BASE_URL}/org/invitations"}
ADMIN = Actor("ada@ready.example", "req-test", via="console")


@pytest.fixture
def admin(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    client = https_client(app)
    sign_in(client, idp, email="ada@ready.example", account="100001")
    return client


def post(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    token = csrf_token(client.get("/org/invitations").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data}, headers=SAME_ORIGIN)


def count(dbs: Session, model: type[Any]) -> int:
    return dbs.scalar(select(func.count()).select_from(model)) or 0


def test_the_list_shows_each_invitation_with_its_state(
    app: Flask, admin: FlaskClient, dbs: Session, world: World
) -> None:
    with app.test_request_context():
        invite(
            dbs, ADMIN, world.ready, email="one@ready.example", permissions=["portal"], now=utcnow()
        )
        gone = invite(
            dbs, ADMIN, world.ready, email="two@ready.example", permissions=["portal"], now=utcnow()
        )
    post(admin, f"/org/invitations/{gone.invitation.id}/revoke", {})

    page = admin.get("/org/invitations").get_data(as_text=True)

    assert "one@ready.example" in page and "two@ready.example" in page
    assert page.count("state-pending") == 1 and page.count("state-revoked") == 1
    # No SMTP server in these settings: the admin is told mail waits.
    assert "Mail is not configured" in page


def test_an_invite_needs_the_csrf_token(admin: FlaskClient, dbs: Session) -> None:
    answer = admin.post(
        "/org/invitations",
        data={"email": "new@ready.example", "permissions": "portal"},
        headers=SAME_ORIGIN,
    )

    assert answer.status_code == 400
    assert count(dbs, Invitation) == 0 and count(dbs, OutboundMail) == 0


@pytest.mark.parametrize(
    ("email", "complaint"),
    [
        ("pat@ready.example", "already a user of your organisation"),
        ("wes@waiting.example", "already the address of another user"),
        ("not-an-address", "valid email address"),
    ],
)
def test_refused_invites_write_nothing_and_say_why(
    admin: FlaskClient, dbs: Session, email: str, complaint: str
) -> None:
    answer = post(admin, "/org/invitations", {"email": email, "permissions": ["portal"]})

    assert answer.status_code == 302
    page = admin.get("/org/invitations").get_data(as_text=True)
    assert complaint in page
    # Never which organisation holds the address.
    assert "100002" not in page and "waiting" not in page.replace("wes@waiting.example", "")
    assert count(dbs, Invitation) == 0 and count(dbs, OutboundMail) == 0


def test_a_second_pending_invitation_for_the_same_address_is_refused(
    admin: FlaskClient, dbs: Session
) -> None:
    assert post(
        admin, "/org/invitations", {"email": "new@ready.example", "permissions": ["portal"]}
    )
    again = post(
        admin, "/org/invitations", {"email": "New@Ready.example", "permissions": ["licensing"]}
    )

    assert again.status_code == 302
    assert "already has a pending invitation" in admin.get("/org/invitations").get_data(
        as_text=True
    )
    assert count(dbs, Invitation) == 1 and count(dbs, OutboundMail) == 1


def test_an_invitation_needs_a_permission(admin: FlaskClient, dbs: Session) -> None:
    post(admin, "/org/invitations", {"email": "new@ready.example"})

    assert "at least one permission" in admin.get("/org/invitations").get_data(as_text=True)
    assert count(dbs, Invitation) == 0


def test_someone_who_is_not_an_admin_may_not_see_or_invite(
    app: Flask, idp: PortalIdP, dbs: Session, world: World
) -> None:
    client = https_client(app)
    sign_in(client, idp, email="pat@ready.example", account="100001")

    page = client.get("/org/invitations")
    token = csrf_token(page.get_data(as_text=True))  # the sign-out form's
    posted = client.post(
        "/org/invitations",
        data={"csrf_token": token, "email": "new@ready.example", "permissions": "portal"},
        headers=SAME_ORIGIN,
    )

    assert page.status_code == 403 and posted.status_code == 403
    assert count(dbs, Invitation) == 0


def test_signed_out_the_list_starts_a_sign_in(client: FlaskClient) -> None:
    answer = client.get("/org/invitations")

    assert answer.status_code == 302 and answer.location.startswith("/login?next=")


@pytest.mark.parametrize("action", ["resend", "revoke"])
def test_another_organisations_invitation_is_not_found(
    app: Flask, idp: PortalIdP, dbs: Session, world: World, action: str
) -> None:
    with app.test_request_context():
        theirs = invite(
            dbs, ADMIN, world.ready, email="new@ready.example", permissions=["portal"], now=utcnow()
        )
    factories.user(dbs, world.waiting, "wanda@waiting.example", permissions=("portal", "admin"))
    other_admin = https_client(app)
    sign_in(other_admin, idp, email="wanda@waiting.example", account="100002")
    audited = count(dbs, AuditEvent)

    answer = post(other_admin, f"/org/invitations/{theirs.invitation.id}/{action}", {})

    assert answer.status_code == 404
    dbs.expire_all()
    untouched = dbs.get(Invitation, theirs.invitation.id)
    assert untouched is not None and untouched.state(utcnow()) == "pending"
    assert untouched.sent_count == 1 and untouched.token_hash == theirs.invitation.token_hash
    assert count(dbs, AuditEvent) == audited and count(dbs, OutboundMail) == 1
    assert "new@ready.example" not in other_admin.get("/org/invitations").get_data(as_text=True)


def test_only_a_pending_invitation_can_be_resent_or_revoked(
    app: Flask, admin: FlaskClient, dbs: Session, world: World
) -> None:
    with app.test_request_context():
        made = invite(
            dbs, ADMIN, world.ready, email="new@ready.example", permissions=["portal"], now=utcnow()
        )
    path = f"/org/invitations/{made.invitation.id}"
    post(admin, f"{path}/revoke", {})
    mail_before = count(dbs, OutboundMail)

    post(admin, f"{path}/resend", {})
    page = admin.get("/org/invitations").get_data(as_text=True)

    assert "That invitation is revoked: only a pending one can be resent." in page
    assert count(dbs, OutboundMail) == mail_before
    revoked = dbs.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.revoked"))
    [entry] = revoked.all()
    assert entry.account_id == world.ready.id and entry.via == "console"
