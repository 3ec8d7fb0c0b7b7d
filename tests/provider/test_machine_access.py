"""Machine access: client_credentials for the portal's server, private_key_jwt, audit."""

from __future__ import annotations

import base64
import secrets
import time
from datetime import UTC, date, datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Account, AuditEvent, System
from gateway.provider.clients import NewClient, add_client
from tests import factories
from tests.conftest import BASE_URL, SECRET


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def portal_token(client: FlaskClient, dbs: Session, scope: str = "entitlements:read") -> str:
    portal = add_client(
        dbs,
        name="Community portal",
        redirect_uris=[],
        actor="test",
        secret_key=SECRET,
        grant_types=("client_credentials",),
        scope="entitlements:read",
    )
    reply = client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials", "scope": scope},
        headers=basic(portal.client_id, portal.client_secret or ""),
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return str(reply.get_json()["access_token"])


def test_portal_reads_entitlements_with_a_scoped_machine_token(
    client: FlaskClient, dbs: Session, account: Account, systems: dict[str, System]
) -> None:
    line = factories.product_line(dbs, "NETGUARD")
    factories.entitlement(
        dbs,
        account,
        line,
        [systems["legacy"], systems["new"]],
        unit_of_measure="endpoint",
        external_id="E-1",
    )
    token = portal_token(client, dbs)
    reply = client.get(
        f"/api/v1/accounts/{account.account_number}/entitlements",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 200
    (entitlement,) = reply.get_json()["entitlements"]
    assert entitlement["id"] == "E-1" and entitlement["unit_of_measure"] == "endpoint"
    assert entitlement["end_date"] and entitlement["systems"] == ["legacy", "new"]
    # The same fields for people as the customer's own page: words, and days left.
    assert entitlement["quantity_text"] == "25 endpoints"
    end = date.fromisoformat(entitlement["end_date"])
    assert entitlement["days_left"] == (end - datetime.now(UTC).date()).days
    audit = dbs.scalars(
        select(AuditEvent).where(AuditEvent.action == "provider.token_issued")
    ).all()
    assert len(audit) == 1 and audit[0].after == {
        "scope": "entitlements:read",
        "grant_type": "client_credentials",
    }


def test_machine_api_refuses_missing_and_user_tokens(client: FlaskClient, account: Account) -> None:
    reply = client.get(f"/api/v1/accounts/{account.account_number}/entitlements")
    assert reply.status_code == 401 and reply.content_type == "application/problem+json"
    reply = client.get(
        f"/api/v1/accounts/{account.account_number}/entitlements",
        headers={"Authorization": "Bearer forged"},
    )
    assert reply.status_code == 401


def test_machine_client_cannot_ask_for_scopes_it_was_not_given(
    client: FlaskClient, dbs: Session
) -> None:
    portal = add_client(
        dbs,
        name="Community portal",
        redirect_uris=[],
        actor="test",
        secret_key=SECRET,
        grant_types=("client_credentials",),
        scope="entitlements:read",
    )
    reply = client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials", "scope": "openid account"},
        headers=basic(portal.client_id, portal.client_secret or ""),
    )
    assert reply.status_code == 400 and reply.get_json()["error"] == "invalid_scope"


def test_license_center_client_cannot_use_client_credentials(
    client: FlaskClient, dbs: Session, systems: dict[str, System]
) -> None:
    center = add_client(
        dbs,
        name="Legacy",
        redirect_uris=["https://legacy.example/cb"],
        actor="test",
        secret_key=SECRET,
    )
    reply = client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials"},
        headers=basic(center.client_id, center.client_secret or ""),
    )
    assert reply.status_code == 400 and reply.get_json()["error"] == "unauthorized_client"


def rsa_client_key() -> tuple[str, dict[str, object]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return pem, {"keys": [{**public, "kid": "client-1", "alg": "RS256", "use": "sig"}]}


def assertion(client_id: str, pem: str, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{BASE_URL}/oidc/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(8),
    }
    claims.update(overrides)
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": "client-1"})


def key_client(dbs: Session) -> tuple[NewClient, str]:
    """A machine client authenticating with private_key_jwt, and its private key."""
    pem, jwks = rsa_client_key()
    portal = add_client(
        dbs,
        name="Portal",
        redirect_uris=[],
        actor="test",
        secret_key=SECRET,
        auth_method="private_key_jwt",
        jwks=jwks,
        grant_types=("client_credentials",),
        scope="entitlements:read",
    )
    return portal, pem


def test_private_key_jwt_authenticates_once_per_assertion(
    client: FlaskClient, dbs: Session
) -> None:
    portal, pem = key_client(dbs)
    signed = assertion(portal.client_id, pem)
    form = {
        "grant_type": "client_credentials",
        "scope": "entitlements:read",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed,
    }
    assert client.post("/oidc/token", data=form).status_code == 200
    other_pem, _ = rsa_client_key()
    refused = [
        form,  # the same assertion again
        {**form, "client_assertion": assertion(portal.client_id, other_pem)},
        {**form, "client_assertion": assertion(portal.client_id, pem, aud="https://evil.test")},
        {**form, "client_assertion": assertion(portal.client_id, pem, exp=int(time.time()) - 300)},
    ]
    for attempt in refused:
        reply = client.post("/oidc/token", data=attempt)
        assert reply.status_code in (400, 401) and reply.get_json()["error"] == "invalid_client"
        assert "access_token" not in reply.get_json()


def test_secret_client_cannot_switch_to_another_auth_method(
    client: FlaskClient, dbs: Session
) -> None:
    portal, pem = key_client(dbs)
    reply = client.post(
        "/oidc/token",
        data={
            "grant_type": "client_credentials",
            "client_id": portal.client_id,
            "client_secret": "guess",
        },
    )
    assert reply.status_code == 401 and reply.get_json()["error"] == "invalid_client"
