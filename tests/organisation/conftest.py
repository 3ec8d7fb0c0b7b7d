"""Fixtures of the organisation tests: the console's signed-in clients (from
tests/it_console.py), and for SCIM account-limited tokens and a client that speaks
SCIM with one.

Tokens are rows as `gateway account-token create ACCOUNT --scope scim` stores them
(a keyed hash of the secret, the scopes, the account); the secret is what an IdP is
given.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.api_tokens import TOKEN_PREFIX, token_hash
from gateway.core.models import Account, ApiToken
from gateway.core.secret_keys import secret_keys
from tests.it_console import admin_client, it_client, token_for, user_client

__all__ = ["admin_client", "it_client", "token_for", "user_client"]

SCIM_JSON = "application/scim+json"


def scim_token_for(
    app: Flask, db: Session, account: Account | None, scopes: str = "scim", name: str = ""
) -> str:
    """A new token with `scopes`, limited to `account` (None: an IT token)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(
        ApiToken(
            name=name or f"idp-{secrets.token_hex(4)}",
            token_hash=token_hash(secret, secret_keys(app).api_token),
            scopes=scopes,
            created_by="admin@example.com",
            account_id=account.id if account is not None else None,
        )
    )
    db.commit()
    return secret


@dataclass
class ScimClient:
    """Requests to /scim/v2 with one bearer token, bodies as application/scim+json."""

    client: FlaskClient
    token: str | None

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if body is not None:
            kwargs["json"] = body
            headers.setdefault("Content-Type", SCIM_JSON)
        return self.client.open(f"/scim/v2{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.call("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.call("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.call("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def scim_token(app: Flask, dbs: Session) -> Callable[..., str]:
    """scim_token(account, scopes="scim") -> the secret of a new token."""

    def make(account: Account | None, scopes: str = "scim", name: str = "") -> str:
        return scim_token_for(app, dbs, account, scopes, name)

    return make


@pytest.fixture
def scim_client(client: FlaskClient) -> Callable[[str | None], ScimClient]:
    def make(token: str | None) -> ScimClient:
        return ScimClient(client, token)

    return make


USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim_patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def scim_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """The SCIM Error document of `response`, checked (RFC 7644 §3.12)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    body: dict[str, Any] = response.json
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]
    return body


@pytest.fixture
def scim_ready(
    world: Any, scim_token: Callable[..., str], scim_client: Callable[[str | None], ScimClient]
) -> ScimClient:
    """A SCIM client with a token of account 100001 ("ready") named "entra"."""
    return scim_client(scim_token(world.ready, name="entra"))
