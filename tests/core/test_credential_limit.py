"""Guessing bearer tokens runs out of tries: every 401 of the JSON API and SCIM counts
against the caller's address in one shared budget (GATEWAY_CREDENTIAL_FAILURE_RATE_LIMIT);
requests with a good token spend nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.api_tokens import create_account_token
from gateway.core.audit import Actor
from gateway.core.secret_keys import secret_keys
from tests.world import World

WRONG = {"Authorization": "Bearer sy_not-a-token-anyone-made"}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"credential_failure_rate_limit": "3/minute"}


def _token(app: Flask, dbs: Session, scope: str) -> dict[str, str]:
    made = create_account_token(
        dbs, "100001", scope, actor=Actor("op"), now=datetime.now(UTC),
        hash_key=secret_keys(app).api_token,
    )  # fmt: skip
    return {"Authorization": f"Bearer {made.secret}"}


def test_failed_tokens_share_one_budget_across_api_and_scim(
    client: FlaskClient, world: World
) -> None:
    assert client.get("/scim/v2/Users", headers=WRONG).status_code == 401
    assert client.get("/api/v1/accounts/100001/users", headers=WRONG).status_code == 401
    assert client.get("/api/v1/product-lines", headers=WRONG).status_code == 401
    for path in ("/scim/v2/Users", "/api/v1/accounts/100001/users", "/api/v1/product-lines"):
        answer = client.get(path, headers=WRONG)
        assert answer.status_code == 429, path
        assert "Retry-After" in answer.headers


def test_good_tokens_spend_nothing(
    app: Flask, client: FlaskClient, dbs: Session, world: World
) -> None:
    users, scim = _token(app, dbs, "users"), _token(app, dbs, "scim")
    for _ in range(5):
        assert client.get("/api/v1/accounts/100001/users", headers=users).status_code == 200
        assert client.get("/scim/v2/Users", headers=scim).status_code == 200
    assert client.get("/scim/v2/Users", headers=WRONG).status_code == 401
