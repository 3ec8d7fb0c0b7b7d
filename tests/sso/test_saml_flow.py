"""End-to-end SAML sign-in through the real app with real signed XML."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import User
from tests import factories
from tests.saml_idp import PortalIdP


def test_sp_initiated_signin_creates_user_and_session(client: FlaskClient, idp: PortalIdP, dbs: Session) -> None:
    customer = factories.account(dbs, "ACME-1")
    reply = idp.sign_in(client, email="Pat@Acme.example", account="ACME-1", subject="sub-1")
    assert reply.status_code == 302
    user = dbs.scalar(select(User).where(User.subject == "sub-1"))
    assert user is not None and user.email == "pat@acme.example" and user.account_id == customer.id
    me = client.get("/api/v1/me")
    assert me.status_code == 200
