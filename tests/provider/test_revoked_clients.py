"""A revoked client's access tokens stop working at once, and never with a 500."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.core.models import Account, OAuthClient
from gateway.core.models.base import utcnow
from tests.provider.conftest import RelyingParty
from tests.provider.test_machine_access import portal_token


def revoke(dbs: Session, client_id: str) -> None:
    dbs.execute(
        update(OAuthClient).where(OAuthClient.client_id == client_id).values(revoked_at=utcnow())
    )
    dbs.commit()


def test_userinfo_refuses_the_token_of_a_revoked_client(
    browser: FlaskClient, rp: RelyingParty, dbs: Session
) -> None:
    tokens, _ = rp.sign_in_and_redeem(browser)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert browser.get("/oidc/userinfo", headers=bearer).status_code == 200
    revoke(dbs, rp.client_id)
    reply = browser.get("/oidc/userinfo", headers=bearer)
    assert reply.status_code == 401
    assert reply.get_json()["error"] == "invalid_token"
    assert "email" not in reply.get_json()


def test_machine_api_refuses_the_token_of_a_revoked_client(
    client: FlaskClient, dbs: Session, account: Account
) -> None:
    token = portal_token(client, dbs)
    url = f"/api/v1/accounts/{account.account_number}/entitlements"
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get(url, headers=bearer).status_code == 200
    portal_id = dbs.scalars(
        OAuthClient.__table__.select().with_only_columns(OAuthClient.client_id)
    ).one()
    revoke(dbs, portal_id)
    reply = client.get(url, headers=bearer)
    assert reply.status_code == 401 and reply.content_type == "application/problem+json"
    assert "entitlements" not in reply.get_json()
