"""Users are keyed by issuer and subject: the same subject from the SAML IdP and from the
portal's OpenID Connect provider is two people, never one user. A user kept before issuers
were (issuer '') is linked once, by subject, through the IdP /login uses, and only that
one: the other issuer cannot take over their subject."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Account, User
from gateway.sso.errors import EmailOfAnotherUser
from gateway.sso.identity import Identity
from gateway.sso.service import upsert_user
from tests import factories
from tests.conftest import https_client
from tests.saml_idp import IDP_ENTITY_ID, PortalIdP
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT
from tests.sso.portal_op import CLIENT_ID, CLIENT_SECRET, PortalOP, serve_portal

SUBJECT = "42"
SAML_EMAIL = "pat@acme.example"
OIDC_EMAIL = "kim@acme.example"


def portal_user(email: str = OIDC_EMAIL, sub: str = SUBJECT) -> dict[str, Any]:
    return {
        "sub": sub,
        "email": email,
        "email_verified": True,
        "given_name": "Kim",
        "family_name": "Portal",
        "account_number": ACCOUNT,
    }


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalOP]:
    with serve_portal() as op:
        yield op


@pytest.fixture
def op(portal: PortalOP) -> PortalOP:
    portal.reset(portal_user())
    return portal


@pytest.fixture
def settings_overrides(op: PortalOP) -> dict[str, object]:
    # Both methods on; /login (and so the legacy issuer) is SAML.
    return {
        "oidc_issuer": op.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "login_method": "saml",
    }


def saml_sign_in(client: FlaskClient, idp: PortalIdP, email: str = SAML_EMAIL) -> int:
    reply = sign_in(client, idp, email=email, account=ACCOUNT, subject=SUBJECT)
    return reply.status_code


def oidc_sign_in(client: FlaskClient, op: PortalOP) -> int:
    return sign_in(client, op, start="/sso/oidc/login").status_code


def signed_in_email(client: FlaskClient) -> str | None:
    reply = client.get("/api/v1/me")
    return reply.get_json()["email"] if reply.status_code == 200 else None


def users(dbs: Session) -> list[tuple[str, str | None, str]]:
    dbs.expire_all()
    rows = dbs.scalars(select(User).order_by(User.id)).all()
    return [(row.issuer, row.subject, row.email) for row in rows]


def test_the_same_subject_from_saml_and_oidc_is_two_users(
    app: Flask, client: FlaskClient, idp: PortalIdP, op: PortalOP, dbs: Session, account: Account
) -> None:
    assert saml_sign_in(client, idp) < 400
    assert signed_in_email(client) == SAML_EMAIL
    other = https_client(app)
    assert oidc_sign_in(other, op) < 400
    assert signed_in_email(other) == OIDC_EMAIL
    assert users(dbs) == [(IDP_ENTITY_ID, SUBJECT, SAML_EMAIL), (op.issuer, SUBJECT, OIDC_EMAIL)]
    # Each one signs in again as themselves.
    again = https_client(app)
    assert saml_sign_in(again, idp) < 400 and signed_in_email(again) == SAML_EMAIL
    assert len(users(dbs)) == 2


def test_the_same_subject_and_email_from_a_second_issuer_is_refused_not_linked(
    app: Flask, client: FlaskClient, idp: PortalIdP, op: PortalOP, dbs: Session, account: Account
) -> None:
    assert oidc_sign_in(client, op) < 400
    other = https_client(app)
    assert saml_sign_in(other, idp, email=OIDC_EMAIL) == 409
    assert signed_in_email(other) is None
    assert users(dbs) == [(op.issuer, SUBJECT, OIDC_EMAIL)]


def test_a_user_from_before_issuers_is_linked_once_by_the_login_methods_idp(
    app: Flask, client: FlaskClient, idp: PortalIdP, dbs: Session, account: Account
) -> None:
    kept = factories.user(
        dbs, account, SAML_EMAIL, permissions=("portal", "admin"), subject=SUBJECT
    )
    assert kept.issuer == ""
    assert saml_sign_in(client, idp) < 400
    assert users(dbs) == [(IDP_ENTITY_ID, SUBJECT, SAML_EMAIL)]
    linked = dbs.get(User, kept.id)
    assert linked is not None and linked.permission_names == {"portal", "admin"}
    assert linked.last_login_at is not None
    # From now on it is found by issuer and subject.
    again = https_client(app)
    assert saml_sign_in(again, idp) < 400
    assert client.get("/api/v1/me").get_json()["permissions"] == ["admin", "portal"]
    assert users(dbs) == [(IDP_ENTITY_ID, SUBJECT, SAML_EMAIL)]


def test_a_second_issuer_cannot_take_over_a_subject_from_before_issuers(
    client: FlaskClient, op: PortalOP, dbs: Session, account: Account
) -> None:
    kept = factories.user(
        dbs, account, SAML_EMAIL, permissions=("portal", "admin"), subject=SUBJECT
    )
    assert oidc_sign_in(client, op) < 400
    assert signed_in_email(client) == OIDC_EMAIL
    assert client.get("/api/v1/me").get_json()["permissions"] != ["admin", "portal"]
    assert users(dbs) == [("", SUBJECT, SAML_EMAIL), (op.issuer, SUBJECT, OIDC_EMAIL)]
    untouched = dbs.get(User, kept.id)
    assert untouched is not None and untouched.last_login_at is None


def test_a_second_issuer_with_the_legacy_users_email_is_refused(
    app: Flask, op: PortalOP, dbs: Session, account: Account
) -> None:
    factories.user(dbs, account, SAML_EMAIL, subject=SUBJECT)
    op.reset(portal_user(email=SAML_EMAIL))
    client = https_client(app)
    assert oidc_sign_in(client, op) == 409
    assert signed_in_email(client) is None
    assert users(dbs) == [("", SUBJECT, SAML_EMAIL)]


IDENTITY = Identity(SUBJECT, SAML_EMAIL, "Pat", "Lee", ACCOUNT, "https://idp.one.example")
ELSEWHERE = Identity(SUBJECT, OIDC_EMAIL, "Kim", "Lee", ACCOUNT, "https://idp.two.example")
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("moved", [False, True], ids=["returning", "moved-account"])
def test_legacy_takeover_follows_the_same_rule_on_both_paths(
    dbs: Session, account: Account, moved: bool
) -> None:
    """The one-statement hot path and the slower path (here: the user's account changed
    at the IdP) agree on who may take over a subject from before issuers."""
    home = factories.account(dbs, "OTHER-9", "Elsewhere") if moved else account
    kept = factories.user(dbs, home, SAML_EMAIL, subject=SUBJECT)
    second = upsert_user(dbs, ELSEWHERE, frozenset({"portal"}), NOW, legacy_issuer=IDENTITY.issuer)
    assert second.id != kept.id
    first = upsert_user(dbs, IDENTITY, frozenset({"portal"}), NOW, legacy_issuer=IDENTITY.issuer)
    assert first.id == kept.id
    assert users(dbs) == [
        (IDENTITY.issuer, SUBJECT, SAML_EMAIL),
        (ELSEWHERE.issuer, SUBJECT, OIDC_EMAIL),
    ]


def test_without_a_legacy_issuer_no_sign_in_takes_over_an_old_subject(
    dbs: Session, account: Account
) -> None:
    factories.user(dbs, account, SAML_EMAIL, subject=SUBJECT)
    with pytest.raises(EmailOfAnotherUser):
        upsert_user(dbs, IDENTITY, frozenset({"portal"}), NOW)
    assert users(dbs) == [("", SUBJECT, SAML_EMAIL)]


def test_an_imported_user_is_linked_by_email_with_the_issuer(
    dbs: Session, account: Account
) -> None:
    imported = factories.user(dbs, account, OIDC_EMAIL, added_via="import")
    signed_in = upsert_user(dbs, ELSEWHERE, frozenset({"portal"}), NOW, legacy_issuer="x")
    assert signed_in.id == imported.id
    assert users(dbs) == [(ELSEWHERE.issuer, SUBJECT, OIDC_EMAIL)]
