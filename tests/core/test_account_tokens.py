"""API tokens limited to one customer account: they reach only routes about that account.

A limited token on a route about every account is refused (403) where the same scope
without the limit is served; a route about another account answers 404, as if it did
not exist; the limit is stored with the token and named in the audit entry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.access import Caller, NotAuthorised, OutsideTokenAccount, within_account
from gateway.core.api_tokens import active_token, create_token
from gateway.core.errors import InvalidChange
from gateway.core.models import ApiToken, AuditEvent
from gateway.core.secret_keys import secret_keys
from tests.it_console import ACTOR, NOW, bearer
from tests.migration.test_cli import gateway_env, run  # noqa: F401 - gateway_env is a fixture
from tests.world import World


def limited_token(app: Flask, dbs: Session, account: str, *scopes: str) -> str:
    hash_key = secret_keys(app).api_token
    return create_token(
        dbs,
        f"org-{account}",
        list(scopes),
        actor=ACTOR,
        now=NOW,
        hash_key=hash_key,
        account_number=account,
    ).secret


def test_a_limited_token_is_refused_where_an_unlimited_one_is_served(
    app: Flask, client: FlaskClient, dbs: Session, world: World, token_for: Callable[..., str]
) -> None:
    unlimited = token_for("rollout:read")
    limited = limited_token(app, dbs, "100001", "rollout:read")
    assert client.get("/api/v1/product-lines", headers=bearer(unlimited)).status_code == 200
    refused = client.get("/api/v1/product-lines", headers=bearer(limited))
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert "limited to one account" in refused.get_json()["detail"]


def test_the_limit_is_stored_audited_and_read_back(app: Flask, dbs: Session, world: World) -> None:
    secret = limited_token(app, dbs, "100001", "support:read")
    row = dbs.scalars(select(ApiToken)).one()
    assert row.account_id == world.ready.id
    [event] = dbs.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.created"))
    assert event.after == {"scopes": ["support:read"], "account": "100001"}
    found = active_token(dbs, secret, secret_keys(app).api_token)
    assert found is not None and found.account_number == "100001"


def test_a_token_for_an_unknown_account_is_not_created(
    app: Flask, dbs: Session, world: World
) -> None:
    with pytest.raises(InvalidChange, match="No account"):
        limited_token(app, dbs, "999999", "rollout:read")
    dbs.rollback()
    assert dbs.scalars(select(ApiToken)).all() == []


def test_routes_about_an_account_admit_only_the_tokens_own() -> None:
    limited = Caller("token:org", frozenset({"rollout:read"}), account_number="100001")
    unlimited = Caller("token:it", frozenset({"rollout:read"}))
    assert within_account(limited, "100001") is limited
    with pytest.raises(OutsideTokenAccount) as outside:
        within_account(limited, "100002")
    assert outside.value.status == 404
    with pytest.raises(NotAuthorised):
        within_account(limited, None)
    assert within_account(unlimited, "100002") is unlimited
    assert within_account(unlimited, None) is unlimited


def test_the_cli_limits_a_token_to_an_account(
    dbs: Session,
    world: World,
    gateway_env: dict[str, str],  # noqa: F811
) -> None:
    created = run(
        gateway_env,
        "api-token",
        "create",
        "--name",
        "acme",
        "--scope",
        "support:read",
        "--account",
        "100001",
    )
    assert created.exit_code == 0, created.output
    assert dbs.scalars(select(ApiToken.account_id)).one() == world.ready.id
    unknown = run(
        gateway_env,
        "api-token",
        "create",
        "--name",
        "ghost",
        "--scope",
        "support:read",
        "--account",
        "999999",
    )
    assert unknown.exit_code != 0 and "No account '999999'" in unknown.output
    dbs.expire_all()
    assert dbs.scalars(select(ApiToken.name)).all() == ["acme"]
