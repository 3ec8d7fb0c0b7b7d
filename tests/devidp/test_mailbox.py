"""The demo's mailbox and its newcomer sign-in: an org admin of the sample invites
someone, the delivery job's SMTP lands in the mailbox (aiosmtpd on loopback), its page
links the invitation, and the development IdP signs the newcomer in to accept it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.mail import deliver_due
from gateway.core.models import User
from gateway.core.models.base import utcnow
from gateway.core.settings import Settings
from gateway.devidp.idp import DemoConfig
from gateway.devidp.keys import SigningKey
from gateway.devidp.mailbox import Mailbox, MailboxServer, links_in
from gateway.devidp.sample import load_sample_users
from tests.conftest import BASE_URL
from tests.devidp.conftest import LEGACY_URL, NEW_URL, csrf_token, hidden_field, post_to_acs

NEWCOMER = "new.person@acme.example"


@pytest.fixture
def mailbox_server() -> Iterator[MailboxServer]:
    server = MailboxServer(Mailbox()).start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(mailbox_server: MailboxServer) -> dict[str, object]:
    return {"smtp_url": mailbox_server.smtp_url}


@pytest.fixture
def demo_config(demo_key: SigningKey, mailbox_server: MailboxServer) -> DemoConfig:
    return DemoConfig(
        signing_key=demo_key,
        users=load_sample_users(),
        system_origins=(LEGACY_URL, NEW_URL),
        mailbox=mailbox_server.mailbox,
    )


def dev_idp_sign_in(client: FlaskClient, form: dict[str, str], next_target: str) -> str:
    start = client.get("/saml/login", query_string={"next": next_target})
    html = client.get(start.location).get_data(as_text=True)
    fields = {
        "csrf_token": csrf_token(html),
        "SAMLRequest": hidden_field(html, "SAMLRequest"),
        "RelayState": hidden_field(html, "RelayState"),
        **form,
    }
    answer = client.post("/dev-idp/sso", data=fields, headers={"Referer": start.location})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    acs = post_to_acs(client, answer.get_data(as_text=True))
    assert acs.status_code == 302
    return str(acs.location)


def test_an_invitation_goes_through_the_mailbox_to_a_newcomer(
    demo_client: FlaskClient, seeded: Session, settings: Settings
) -> None:
    # Hank is the sample's org admin of Acme.
    dev_idp_sign_in(demo_client, {"email": "hank@acme.example"}, "/org/invitations")
    page = demo_client.get("/org/invitations").get_data(as_text=True)
    sent = demo_client.post(
        "/org/invitations",
        data={"csrf_token": csrf_token(page), "email": NEWCOMER, "permissions": ["portal"]},
        headers={"Referer": f"{BASE_URL}/org/invitations"},
    )
    assert sent.status_code == 302
    assert "No mail yet" in demo_client.get("/dev-idp/mail").get_data(as_text=True)

    assert deliver_due(seeded, settings, utcnow()).sent == 1

    mailbox = demo_client.get("/dev-idp/mail").get_data(as_text=True)
    link = re.search(r'<a href="(https://sso\.test/org/invitations/[^"]+)">', mailbox)
    assert link, mailbox
    assert NEWCOMER in mailbox and "You are invited" in mailbox
    path = link.group(1).removeprefix(BASE_URL)

    newcomer = demo_client.application.test_client()
    landed = dev_idp_sign_in(
        newcomer, {"newcomer_email": NEWCOMER, "newcomer_account": "100100"}, path
    )
    assert landed.endswith(path)
    accept_page = newcomer.get(path).get_data(as_text=True)
    accepted = newcomer.post(
        path,
        data={"csrf_token": csrf_token(accept_page)},
        headers={"Referer": f"{BASE_URL}{path}"},
    )

    assert accepted.status_code == 302
    seeded.expire_all()
    joined = seeded.scalar(select(User).where(User.email == NEWCOMER))
    assert joined is not None and joined.permission_names == {"portal"}
    assert joined.account.account_number == "100100"


def test_the_newcomer_form_takes_only_the_samples_organisations(
    demo_client: FlaskClient, seeded: Session
) -> None:
    start = demo_client.get("/saml/login")
    html = demo_client.get(start.location).get_data(as_text=True)
    assert 'name="newcomer_email"' in html and "/dev-idp/mail" in html
    answer = demo_client.post(
        "/dev-idp/sso",
        data={
            "csrf_token": csrf_token(html),
            "SAMLRequest": hidden_field(html, "SAMLRequest"),
            "newcomer_email": "someone@elsewhere.example",
            "newcomer_account": "999999",
        },
        headers={"Referer": start.location},
    )

    assert answer.status_code == 400
    assert "organisations" in answer.get_data(as_text=True)


def test_only_web_addresses_become_links() -> None:
    pieces = links_in("Open https://sso.test/org/invitations/abc now, not javascript:alert(1).")

    assert pieces == [
        ("Open ", False),
        ("https://sso.test/org/invitations/abc", True),
        (" now, not javascript:alert(1).", False),
    ]
