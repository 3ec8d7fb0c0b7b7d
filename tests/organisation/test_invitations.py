"""Invitations end to end: an org admin invites an address in the console, the mail
arrives at a real SMTP server (aiosmtpd) with the link, the invited person signs in
through the portal (real signed SAML) and accepts; and every link that must not work
(expired, revoked, used, replaced, for another address or organisation) shows a clear
page and changes nothing."""

from __future__ import annotations

import logging
import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.audit import Actor
from gateway.core.mail import deliver_due
from gateway.core.models import AuditEvent, Invitation, OutboundMail, User
from gateway.core.models.base import utcnow
from gateway.core.session import SignedInUser
from gateway.core.settings import Settings
from gateway.organisation.invitations import InvitationRefused, accept, invite, token_hash
from tests import factories
from tests.conftest import BASE_URL, DATABASE_URL, https_client
from tests.forms import csrf_token
from tests.mailserver import MailServer
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

ADMIN = Actor("ada@ready.example", "req-test", via="console")
INVITEE = "new@ready.example"
LINK = re.compile(re.escape(BASE_URL) + r"(/org/invitations/[A-Za-z0-9_-]{40,})")
SAME_ORIGIN = {"Referer": f"{BASE_URL}/org/invitations"}


@pytest.fixture
def settings_overrides(smtp_server: MailServer) -> dict[str, object]:
    return {"smtp_url": smtp_server.url}


@pytest.fixture
def admin(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    client = https_client(app)
    sign_in(client, idp, email="ada@ready.example", account="100001")
    return client


def post_form(client: FlaskClient, page: str, path: str, data: dict[str, Any]) -> Any:
    """POST a form as a browser does: with the CSRF token of `page` and a Referer."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data}, headers=SAME_ORIGIN)


def invite_in_console(admin: FlaskClient, email: str, permissions: list[str]) -> Any:
    return post_form(
        admin,
        "/org/invitations",
        "/org/invitations",
        {"email": email, "permissions": permissions},
    )


def mailed_links(dbs: Session, settings: Settings, server: MailServer) -> list[str]:
    """Deliver what is due and return the invitation links in the mail that arrived."""
    deliver_due(dbs, settings, utcnow())
    return [
        found.group(1) for m in server.messages for found in [LINK.search(m.get_content())] if found
    ]


def invited_person(app: Flask, idp: PortalIdP, path: str, **identity: str) -> FlaskClient:
    """A browser following the link: sent to sign in, and back to the link after."""
    client = https_client(app)
    began = client.get(path)
    assert began.status_code == 302 and "/login" in began.location
    answer = sign_in(
        client,
        idp,
        email=identity.get("email", INVITEE),
        account=identity.get("account", "100001"),
        next_target=path,
    )
    assert answer.status_code == 302 and answer.location.endswith(path), answer.location
    return client


def accept_link(client: FlaskClient, path: str) -> Any:
    return post_form(client, path, path, {})


def user(dbs: Session, email: str) -> User | None:
    dbs.expire_all()
    return dbs.scalar(select(User).where(User.email == email))


def state_of_everything(dbs: Session) -> dict[str, object]:
    """What a refused link must leave exactly as it was."""
    dbs.expire_all()
    return {
        "invitations": [
            (i.id, i.token_hash, i.accepted_at, i.accepted_user_id, i.revoked_at)
            for i in dbs.scalars(select(Invitation).order_by(Invitation.id))
        ],
        "users": [
            (u.email, u.account_id, u.status, u.added_via, sorted(u.permission_names))
            for u in dbs.scalars(select(User).order_by(User.id))
        ],
        "audit": [
            (a.action, a.target) for a in dbs.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ],
        "mail": len(dbs.scalars(select(OutboundMail)).all()),
    }


def refused_events(caplog: pytest.LogCaptureFixture) -> list[str | None]:
    return [
        getattr(r, "reason", None)
        for r in caplog.records
        if getattr(r, "event", None) == "invitation.refused" and r.levelno == logging.WARNING
    ]


# --- the happy path ------------------------------------------------------------------------


def test_an_invitation_is_mailed_accepted_and_routing_follows_its_permissions(
    app: Flask,
    admin: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    settings: Settings,
    smtp_server: MailServer,
) -> None:
    sent = invite_in_console(admin, INVITEE, ["portal"])
    assert sent.status_code == 302
    assert f"Invitation sent to {INVITEE}" in admin.get("/org/invitations").get_data(as_text=True)

    [path] = mailed_links(dbs, settings, smtp_server)
    [message] = smtp_server.messages
    assert message["To"] == INVITEE and "Customer" in message["Subject"]
    assert "ada@ready.example invites you" in message.get_content()
    # Only the link's hash is kept.
    invitation = dbs.scalars(select(Invitation)).one()
    token = path.rsplit("/", 1)[1]
    assert invitation.token_hash == token_hash(token, app.extensions["secret_keys"].invitation)
    assert token not in invitation.token_hash

    person = invited_person(app, idp, path)
    # Signed in for the first time: the JIT defaults would send them to a license center.
    assert user(dbs, INVITEE).permission_names == settings.jit_permission_set  # type: ignore[union-attr]
    page = person.get(path).get_data(as_text=True)
    assert "You are invited to" in page and "portal" in page and "Accept" in page

    accepted = accept_link(person, path)

    assert accepted.status_code == 302 and accepted.location == "/route"
    joined = user(dbs, INVITEE)
    assert joined is not None
    assert joined.permission_names == {"portal"}  # exactly the invitation's
    assert joined.added_via == "invitation"
    dbs.refresh(invitation)
    assert invitation.accepted_at is not None and invitation.accepted_user_id == joined.id
    # With only "portal", routing now explains there is no license access.
    assert person.get("/").location == "/no-access"
    actions = {
        (a.action, a.via, a.account_id)
        for a in dbs.scalars(select(AuditEvent).where(AuditEvent.target.like("invitation:%")))
    }
    assert actions == {
        ("invitation.created", "console", invitation.account_id),
        ("invitation.accepted", "invitation", invitation.account_id),
    }


def test_someone_who_existed_before_the_invitation_keeps_their_grants_and_gains_its(
    app: Flask,
    admin: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    settings: Settings,
    smtp_server: MailServer,
    world: World,
) -> None:
    invite_in_console(admin, INVITEE, ["portal", "admin"])
    [path] = mailed_links(dbs, settings, smtp_server)
    # Meanwhile an import added the person with the downloads permission only.
    factories.user(dbs, world.ready, INVITEE, permissions=("downloads",), added_via="import")

    accept_link(invited_person(app, idp, path), path)

    joined = user(dbs, INVITEE)
    assert joined is not None
    assert joined.permission_names == {"downloads", "portal", "admin"}
    assert joined.added_via == "import"


# --- links that must not work --------------------------------------------------------------


@pytest.fixture
def mailed(admin: FlaskClient, dbs: Session, settings: Settings, smtp_server: MailServer) -> str:
    """The path of a freshly mailed invitation for INVITEE into account 100001."""
    assert invite_in_console(admin, INVITEE, ["portal", "licensing"]).status_code == 302
    [path] = mailed_links(dbs, settings, smtp_server)
    return path


def test_a_used_invitation_works_once(
    app: Flask, idp: PortalIdP, dbs: Session, mailed: str, caplog: pytest.LogCaptureFixture
) -> None:
    person = invited_person(app, idp, mailed)
    assert accept_link(person, mailed).status_code == 302
    before = state_of_everything(dbs)

    again = person.get(mailed)
    # The refusal page, as every page of a signed-in person, carries a CSRF token.
    posted = person.post(
        mailed,
        data={"csrf_token": csrf_token(again.get_data(as_text=True))},
        headers=SAME_ORIGIN,
    )

    assert again.status_code == 410 and posted.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    assert state_of_everything(dbs) == before
    assert refused_events(caplog) == ["accepted", "accepted"]


def test_an_expired_invitation_is_refused(
    app: Flask, idp: PortalIdP, dbs: Session, mailed: str, caplog: pytest.LogCaptureFixture
) -> None:
    invitation = dbs.scalars(select(Invitation)).one()
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    dbs.commit()
    person = invited_person(app, idp, mailed)
    before = state_of_everything(dbs)

    page = person.get(mailed)

    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    assert state_of_everything(dbs) == before
    assert refused_events(caplog) == ["expired"]


def test_a_revoked_invitation_is_refused(
    app: Flask,
    admin: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    mailed: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    invitation = dbs.scalars(select(Invitation)).one()
    person = invited_person(app, idp, mailed)
    # The person has the page open with its Accept button when the admin revokes.
    token = csrf_token(person.get(mailed).get_data(as_text=True))
    revoked = post_form(admin, "/org/invitations", f"/org/invitations/{invitation.id}/revoke", {})
    assert revoked.status_code == 302
    before = state_of_everything(dbs)

    answer = person.post(mailed, data={"csrf_token": token}, headers=SAME_ORIGIN)

    assert answer.status_code == 410 and "withdrawn" in answer.get_data(as_text=True)
    assert state_of_everything(dbs) == before
    assert refused_events(caplog) == ["revoked"]
    assert user(dbs, INVITEE).permission_names == {"portal", "licensing", "downloads"}  # type: ignore[union-attr]


def test_someone_signed_in_with_another_address_cannot_accept(
    app: Flask, idp: PortalIdP, dbs: Session, mailed: str, caplog: pytest.LogCaptureFixture
) -> None:
    other = invited_person(app, idp, mailed, email="sam@ready.example")
    before = state_of_everything(dbs)

    page = other.get(mailed)
    token = csrf_token(page.get_data(as_text=True))
    posted = other.post(mailed, data={"csrf_token": token}, headers=SAME_ORIGIN)

    assert page.status_code == 409 and posted.status_code == 409
    assert "another email address" in page.get_data(as_text=True)
    assert INVITEE not in page.get_data(as_text=True)
    assert state_of_everything(dbs) == before
    assert "other_email" in refused_events(caplog)


def test_the_invited_address_signed_in_for_another_organisation_cannot_accept(
    app: Flask, idp: PortalIdP, dbs: Session, mailed: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The portal says this person belongs to 100002, not to the inviting 100001.
    person = invited_person(app, idp, mailed, account="100002")
    before = state_of_everything(dbs)

    page = person.get(mailed)
    token = csrf_token(page.get_data(as_text=True))
    answer = person.post(mailed, data={"csrf_token": token}, headers=SAME_ORIGIN)

    assert page.status_code == 409 and "another organisation" in page.get_data(as_text=True)
    assert answer.status_code == 409
    assert state_of_everything(dbs) == before
    assert refused_events(caplog).count("other_account") == 2


def test_an_unknown_link_is_not_found(
    app: Flask, idp: PortalIdP, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    client = https_client(app)
    sign_in(client, idp, email="pat@ready.example", account="100001")

    page = client.get("/org/invitations/" + "A" * 43)

    assert page.status_code == 404 and "not valid" in page.get_data(as_text=True)
    assert refused_events(caplog) == ["unknown"]


def test_resending_mails_a_new_link_and_the_old_one_stops_working(
    app: Flask,
    admin: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    settings: Settings,
    smtp_server: MailServer,
    mailed: str,
) -> None:
    invitation = dbs.scalars(select(Invitation)).one()
    first_expiry = invitation.expires_at

    resent = post_form(admin, "/org/invitations", f"/org/invitations/{invitation.id}/resend", {})

    assert resent.status_code == 302
    old, new = mailed_links(dbs, settings, smtp_server)
    assert old == mailed and new != old
    dbs.refresh(invitation)
    assert invitation.sent_count == 2 and invitation.expires_at > first_expiry
    person = invited_person(app, idp, new)
    assert person.get(old).status_code == 404
    assert accept_link(person, new).status_code == 302
    assert user(dbs, INVITEE).permission_names == {"portal", "licensing"}  # type: ignore[union-attr]


def test_accepting_needs_the_csrf_token(
    app: Flask, idp: PortalIdP, dbs: Session, mailed: str
) -> None:
    person = invited_person(app, idp, mailed)
    before = state_of_everything(dbs)

    answer = person.post(mailed, data={}, headers=SAME_ORIGIN)

    assert answer.status_code == 400
    assert state_of_everything(dbs) == before


def test_an_invitation_link_needs_a_sign_in_that_comes_back_to_it(app: Flask, mailed: str) -> None:
    began = https_client(app).get(mailed)

    assert began.status_code == 302
    assert began.location.startswith("/login?next=") and "org/invitations" in began.location


@pytest.mark.skipif(not DATABASE_URL, reason="concurrent transactions need PostgreSQL")
def test_two_concurrent_accepts_cannot_both_win(
    app: Flask, dbs: Session, world: World, settings: Settings
) -> None:
    from gateway.core import db as database

    now = utcnow()
    with app.test_request_context():
        made = invite(dbs, ADMIN, world.ready, email=INVITEE, permissions=["portal"], now=now)
    person = factories.user(dbs, world.ready, INVITEE, added_via="import")
    signed_in = SignedInUser(
        person.id, world.ready.id, "100001", INVITEE, person.permission_names, None
    )
    token = made.link.rsplit("/", 1)[1]
    start, outcomes = threading.Barrier(2), []

    def accept_once() -> None:
        session = database.new_session(app)
        try:
            with app.test_request_context():
                start.wait()
                try:
                    accept(session, token, signed_in, now=now)
                    outcomes.append("won")
                except InvitationRefused as refusal:
                    outcomes.append(refusal.reason)
        finally:
            session.close()

    threads = [threading.Thread(target=accept_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # The loser is told the invitation is used (its reason: "accepted").
    assert sorted(outcomes) == ["accepted", "won"]
    accepted = dbs.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.accepted"))
    assert len(accepted.all()) == 1
