"""Claims the id_token lacks come from userinfo, for the same subject only; and an
email the portal does not confirm as verified never signs in (nor links an imported
user), whether it says false or says nothing."""

from __future__ import annotations

import socket

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Account, System, User
from tests import factories
from tests.signin import sign_in
from tests.sso.portal_op import DELETE, PortalOP
from tests.sso.test_upstream_oidc import EMAIL, assert_refused

ONLY_SUB = frozenset({"sub"})


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_claims_missing_from_the_id_token_are_read_from_userinfo(
    client: FlaskClient, op: PortalOP, dbs: Session, legacy: System
) -> None:
    op.behaviour.in_id_token = ONLY_SUB
    assert sign_in(client, op).status_code == 302
    [issued] = op.access_tokens
    assert op.userinfo_requests == [issued]  # asked once, with the bearer token
    user = dbs.scalar(select(User).where(User.subject == "portal-user-42"))
    assert user is not None and (user.email, user.last_name) == (EMAIL, "Lee")


def test_userinfo_is_not_asked_when_the_id_token_has_every_claim(
    client: FlaskClient, op: PortalOP, legacy: System
) -> None:
    assert sign_in(client, op).status_code == 302
    assert op.userinfo_requests == []


def test_the_id_token_wins_over_userinfo(
    client: FlaskClient, op: PortalOP, dbs: Session, legacy: System
) -> None:
    op.behaviour.in_id_token = frozenset(op.behaviour.user) - {"given_name"}
    op.behaviour.userinfo_changes = {"email": "mallory@acme.example", "given_name": "Patricia"}
    assert sign_in(client, op).status_code == 302
    user = dbs.scalar(select(User).where(User.subject == "portal-user-42"))
    assert user is not None and (user.email, user.first_name) == (EMAIL, "Patricia")


@pytest.mark.parametrize("sub", ["someone-else", pytest.param(DELETE, id="missing"), ""])
def test_userinfo_about_another_subject_is_refused(
    sub: object,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    op.behaviour.in_id_token = ONLY_SUB
    op.behaviour.userinfo_changes = {"sub": sub}
    assert_refused(sign_in(client, op), client, dbs, caplog, "userinfo sub")


def test_unreachable_userinfo_refuses_with_a_clear_page(
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    op.behaviour.in_id_token = ONLY_SUB
    op.behaviour.discovery_changes = {"userinfo_endpoint": f"http://127.0.0.1:{free_port()}/ui"}
    reply = sign_in(client, op)
    assert reply.status_code == 503
    assert "could not reach the community portal" in reply.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401
    assert dbs.scalar(select(User)) is None
    [logged] = [r for r in caplog.records if getattr(r, "event", "") == "oidc.provider_unavailable"]
    assert getattr(logged, "step", None) == "userinfo"


@pytest.mark.parametrize(("status", "expected"), [(401, 400), (500, 503)])
def test_userinfo_error_is_a_refusal_or_a_503(
    status: int,
    expected: int,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
) -> None:
    op.behaviour.in_id_token = ONLY_SUB
    op.behaviour.userinfo_status = status
    reply = sign_in(client, op)
    assert reply.status_code == expected
    assert client.get("/api/v1/me").status_code == 401
    assert dbs.scalar(select(User)) is None


def test_userinfo_that_is_not_json_is_refused(
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A signed (application/jwt) userinfo answer, which we never registered for."""
    op.behaviour.in_id_token = ONLY_SUB
    op.behaviour.userinfo_body = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJwb3J0YWwtdXNlci00MiJ9."
    assert_refused(sign_in(client, op), client, dbs, caplog, "userinfo")


@pytest.mark.parametrize("verified", [False, pytest.param(DELETE, id="missing"), "true", 1])
@pytest.mark.parametrize("where", ["id_token", "userinfo"])
def test_email_not_confirmed_verified_neither_signs_in_nor_links(
    verified: object,
    where: str,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    account: Account,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    imported = factories.user(dbs, account, EMAIL)  # imported by email, no subject yet
    op.behaviour.userinfo_changes = {"email_verified": verified}  # the portal says it alike
    if where == "userinfo":
        op.behaviour.in_id_token = ONLY_SUB
    else:
        op.behaviour.claim_changes = {"email_verified": verified}
    reply = sign_in(client, op)
    assert reply.status_code == 400
    assert "does not confirm that your email address is verified" in reply.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401
    dbs.expire_all()
    assert dbs.get(User, imported.id).subject is None  # type: ignore[union-attr]
    logged = [r for r in caplog.records if getattr(r, "event", "") == "oidc.signin_rejected"]
    assert getattr(logged[-1], "reason", None) == "email_verified"


def test_verified_email_links_the_imported_user(
    client: FlaskClient, op: PortalOP, dbs: Session, account: Account, legacy: System
) -> None:
    imported = factories.user(dbs, account, EMAIL)
    op.behaviour.in_id_token = ONLY_SUB  # email_verified: true comes from userinfo
    assert sign_in(client, op).status_code == 302
    dbs.expire_all()
    assert dbs.get(User, imported.id).subject == "portal-user-42"  # type: ignore[union-attr]
