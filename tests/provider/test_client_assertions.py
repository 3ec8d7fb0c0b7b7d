"""private_key_jwt assertions: short-lived, and each jti remembered until it expires."""

from __future__ import annotations

import secrets
import time

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.provider.tokens import digest
from tests.provider.test_machine_access import assertion, key_client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def token_form(signed: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "scope": "entitlements:read",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
    }


def test_assertion_valid_for_an_hour_is_refused(client: FlaskClient, dbs: Session) -> None:
    portal, pem = key_client(dbs)
    signed = assertion(portal.client_id, pem, exp=int(time.time()) + 3600)
    reply = client.post("/oidc/token", data=token_form(signed))
    assert reply.status_code in (400, 401) and reply.get_json()["error"] == "invalid_client"
    assert "access_token" not in reply.get_json()


def test_assertion_within_five_minutes_is_accepted(client: FlaskClient, dbs: Session) -> None:
    portal, pem = key_client(dbs)
    signed = assertion(portal.client_id, pem, exp=int(time.time()) + 290)
    assert client.post("/oidc/token", data=token_form(signed)).status_code == 200


def test_jti_is_remembered_for_as_long_as_the_assertion_is_valid(
    app: Flask, client: FlaskClient, dbs: Session
) -> None:
    portal, pem = key_client(dbs)
    jti = secrets.token_urlsafe(8)
    expires = int(time.time()) + 290
    signed = assertion(portal.client_id, pem, exp=expires, jti=jti)
    assert client.post("/oidc/token", data=token_form(signed)).status_code == 200
    replay = client.post("/oidc/token", data=token_form(signed))
    assert replay.get_json()["error"] == "invalid_client"
    key = f"oidc:client-assertion:{portal.client_id}:{digest(jti)}"
    remaining = app.extensions["store"].ttl(key)
    # Kept at least until exp (plus the clock leeway authlib allows past it).
    assert remaining >= expires - int(time.time()) + 60 - 2
