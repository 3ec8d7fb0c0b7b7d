"""End-to-end SAML sign-in through the real app with real signed XML."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Account, User
from gateway.sso.binding import BINDING_COOKIE
from tests import factories
from tests.conftest import https_client
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT, EMAIL


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("switchyard_session", domain="sso.test")
    return cookie.value if cookie else None


def test_sp_initiated_signin_creates_user_and_session(
    client: FlaskClient, idp: PortalIdP, dbs: Session, account: Account
) -> None:
    reply = sign_in(
        client,
        idp,
        email="Pat@Acme.example",
        account=ACCOUNT,
        subject="sub-1",
        first_name="Pat",
        last_name="Lee",
    )
    assert reply.status_code == 302
    user = dbs.scalar(select(User).where(User.subject == "sub-1"))
    assert user is not None and user.email == "pat@acme.example" and user.account_id == account.id
    me = client.get("/api/v1/me").get_json()
    assert me == {
        "subject": "sub-1",
        "email": "pat@acme.example",
        "first_name": "Pat",
        "last_name": "Lee",
        "account": {"number": ACCOUNT, "name": "Acme Corp"},
        "permissions": ["downloads", "licensing", "portal"],
    }


def test_imported_user_is_linked_by_email_and_keeps_permissions(
    client: FlaskClient, idp: PortalIdP, dbs: Session, account: Account
) -> None:
    imported = factories.user(dbs, account, EMAIL, permissions=("portal", "admin"))
    sign_in(client, idp, email=EMAIL.upper(), account=ACCOUNT, subject="sub-9")
    dbs.expire_all()
    linked = dbs.get(User, imported.id)
    assert linked is not None and linked.subject == "sub-9"
    assert linked.permission_names == {"portal", "admin"}
    assert dbs.scalars(select(User)).all() == [linked]


def test_user_moved_to_another_account_loses_old_grants(
    client: FlaskClient, idp: PortalIdP, dbs: Session, account: Account
) -> None:
    other = factories.account(dbs, "OTHER-2")
    existing = factories.user(dbs, other, EMAIL, permissions=("portal", "admin"), subject="sub-3")
    sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-3")
    dbs.expire_all()
    moved = dbs.get(User, existing.id)
    assert moved is not None and moved.account_id == account.id
    assert "admin" not in moved.permission_names


def test_disabled_user_gets_no_session(
    client: FlaskClient, idp: PortalIdP, dbs: Session, account: Account
) -> None:
    factories.user(dbs, account, EMAIL, status="disabled", subject="sub-4")
    reply = sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-4")
    assert reply.status_code == 403
    assert "switched off" in reply.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401


def test_session_cookie_is_secure_httponly_lax_and_rotated_at_signin(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    client.get("/logout")  # an anonymous page stores no session: no pre-login id to fix
    assert session_cookie(client) is None
    client.set_cookie("switchyard_session", "planted-by-an-attacker", domain="sso.test")
    before = session_cookie(client)
    reply = sign_in(client, idp, email=EMAIL, account=ACCOUNT)
    set_cookie = reply.headers["Set-Cookie"]
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    after = session_cookie(client)
    assert after is not None and after != before
    # The pre-login session id is dead server-side: fixation cannot ride it.
    attacker = client.application.test_client()
    attacker.set_cookie("switchyard_session", before, domain="sso.test")
    assert attacker.get("/api/v1/me").status_code == 401


def test_acs_needs_only_the_binding_cookie_from_the_login_step(
    app: Flask, idp: PortalIdP, account: Account
) -> None:
    # The IdP's POST is cross-site, so the browser sends no SameSite=Lax cookie (the
    # session) with it: only the SameSite=None binding cookie travels.
    starter, finisher = https_client(app), https_client(app)
    request_id = idp.start(starter)
    binding = starter.get_cookie(BINDING_COOKIE, domain="sso.test")
    assert binding is not None
    finisher.set_cookie(BINDING_COOKIE, binding.value, domain="sso.test")
    assert session_cookie(finisher) is None
    spec = idp.spec(email=EMAIL, account=ACCOUNT, in_response_to=request_id)
    assert idp.post(finisher, idp.response_xml(spec)).status_code == 302
    assert finisher.get("/api/v1/me").status_code == 200


def test_pending_request_is_single_use(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    request_id = idp.start(client)
    first = idp.spec(email=EMAIL, account=ACCOUNT, in_response_to=request_id)
    second = idp.spec(email=EMAIL, account=ACCOUNT, in_response_to=request_id)
    assert idp.post(client, idp.response_xml(first)).status_code == 302
    reply = idp.post(client.application.test_client(), idp.response_xml(second))
    assert reply.status_code == 400
    assert "does not answer a sign-in we started" in reply.get_data(as_text=True)


@pytest.fixture
def idp_initiated_client(app_idp_initiated: FlaskClient) -> FlaskClient:
    return app_idp_initiated


def test_idp_initiated_signin_when_enabled_follows_local_relay_state(
    idp_initiated_client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    xml = idp.response_xml(idp.spec(email=EMAIL, account=ACCOUNT))
    reply = idp.post(idp_initiated_client, xml, relay_state="/api/v1/me")
    assert reply.status_code == 302
    assert reply.location.endswith("/api/v1/me")
    assert idp_initiated_client.get("/api/v1/me").status_code == 200


def test_me_without_session_is_a_problem_document(client: FlaskClient) -> None:
    reply = client.get("/api/v1/me")
    assert reply.status_code == 401
    assert reply.content_type == "application/problem+json"
    body = reply.get_json()
    assert body["status"] == 401 and body["title"] == "Not signed in" and body["request_id"]


def test_metadata_names_our_entity_and_acs(client: FlaskClient) -> None:
    reply = client.get("/saml/metadata")
    xml = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert 'entityID="https://sso.test/saml/metadata"' in xml
    assert 'Location="https://sso.test/saml/acs"' in xml
    assert 'WantAssertionsSigned="true"' in xml


def test_login_ignores_the_host_header(client: FlaskClient) -> None:
    reply = client.get("/saml/login", headers={"Host": "evil.test"})
    assert reply.status_code == 302
    assert "evil.test" not in reply.location


def test_successful_signin_is_logged_without_personal_data(
    client: FlaskClient, idp: PortalIdP, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sign_in(client, idp, email=EMAIL, account=ACCOUNT)
    records = [r for r in caplog.records if getattr(r, "event", None) == "signin.succeeded"]
    assert len(records) == 1 and records[0].request_id
    assert EMAIL not in records[0].getMessage()


def test_a_new_subject_with_another_users_email_gets_a_clear_409_and_no_session(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    holder = factories.user(dbs, account, EMAIL, permissions=("portal", "admin"), subject="sub-5")
    with caplog.at_level(logging.WARNING):
        reply = sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-6")
    assert reply.status_code == 409
    assert "belongs to another sign-in" in reply.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401
    events = [getattr(record, "event", "") for record in caplog.records]
    assert "signin.email_of_another_user" in events and "dependency.unavailable" not in events
    dbs.expire_all()
    assert dbs.scalars(select(User)).all() == [holder]
    unchanged = dbs.get(User, holder.id)
    assert (
        unchanged is not None and unchanged.subject == "sub-5" and unchanged.last_login_at is None
    )


def test_a_known_subject_whose_email_became_another_users_is_refused_the_same_way(
    client: FlaskClient, idp: PortalIdP, dbs: Session, account: Account
) -> None:
    factories.user(dbs, account, "taken@acme.example", subject="sub-7")
    mover = factories.user(dbs, account, EMAIL, subject="sub-8")
    reply = sign_in(client, idp, email="taken@acme.example", account=ACCOUNT, subject="sub-8")
    assert reply.status_code == 409
    dbs.expire_all()
    kept = dbs.get(User, mover.id)
    assert kept is not None and kept.email == EMAIL.lower()
