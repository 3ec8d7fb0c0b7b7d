"""Account tokens: limited to one customer account, with an account scope (`users`,
`scim`), always expiring, revocable, the secret shown once.

A limited token on a route about every account is refused (403) where an IT token is
served; a route about another account answers 404, as if it did not exist; an expired
or revoked token is a 401 like an unknown one; the limit and expiry are stored with
the token and named in the audit entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.access import Caller, NotAuthorised, OutsideTokenAccount, within_account
from gateway.core.api_tokens import (
    active_token,
    create_account_token,
    create_token,
    list_account_tokens,
    parse_expiry,
    revoke_account_token,
)
from gateway.core.errors import InvalidChange, NotFound
from gateway.core.models import ApiToken, AuditEvent
from gateway.core.secret_keys import secret_keys
from tests.it_console import ACTOR, NOW, bearer
from tests.migration.test_cli import gateway_env, run  # noqa: F401 - gateway_env is a fixture
from tests.world import World

IT_ROUTE = "/api/v1/product-lines"


def account_token(
    app: Flask,
    dbs: Session,
    account: str = "100001",
    scope: str = "users",
    *,
    now: datetime = NOW,
    expires_at: datetime | None = None,
    name: str | None = None,
) -> str:
    hash_key = secret_keys(app).api_token
    return create_account_token(
        dbs,
        account,
        scope,
        actor=ACTOR,
        now=now,
        hash_key=hash_key,
        expires_at=expires_at,
        name=name,
    ).secret


def test_an_account_token_is_refused_where_an_it_token_is_served(
    app: Flask, client: FlaskClient, dbs: Session, world: World, token_for: Callable[..., str]
) -> None:
    it_token = token_for("rollout:read")
    limited = account_token(app, dbs, now=datetime.now(UTC))
    assert client.get(IT_ROUTE, headers=bearer(it_token)).status_code == 200
    refused = client.get(IT_ROUTE, headers=bearer(limited))
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert "rollout:read" in refused.get_json()["detail"]


def test_an_expired_or_revoked_token_is_unknown(
    app: Flask, client: FlaskClient, dbs: Session, world: World
) -> None:
    """403 while it lives (known, but not for this route); afterwards a 401 that says
    no more than for a token never made."""
    created = datetime.now(UTC) - timedelta(days=2)
    expired = account_token(app, dbs, now=created, expires_at=created + timedelta(days=1))
    revoked = account_token(app, dbs, name="revoked", now=datetime.now(UTC))
    unknown = client.get(IT_ROUTE, headers=bearer("sy_never-made")).get_json()
    assert client.get(IT_ROUTE, headers=bearer(revoked)).status_code == 403
    revoke_account_token(dbs, world.ready.id, "100001/revoked", actor=ACTOR, now=NOW)
    for secret in (expired, revoked):
        reply = client.get(IT_ROUTE, headers=bearer(secret))
        assert reply.status_code == 401
        assert reply.get_json()["detail"] == unknown["detail"]


def test_a_token_works_until_its_expiry(app: Flask, dbs: Session, world: World) -> None:
    expires = NOW + timedelta(hours=12)
    secret = account_token(app, dbs, expires_at=expires)
    hash_key = secret_keys(app).api_token
    found = active_token(dbs, secret, hash_key, now=expires - timedelta(seconds=1))
    assert found is not None and found.account_number == "100001"
    assert found.scopes == {"users"}
    assert active_token(dbs, secret, hash_key, now=expires) is None


def test_the_limit_and_expiry_are_stored_audited_and_read_back(
    app: Flask, dbs: Session, world: World
) -> None:
    account_token(app, dbs, scope="scim", name="okta")
    row = dbs.scalars(select(ApiToken)).one()
    assert (row.name, row.account_id, row.scopes) == ("100001/okta", world.ready.id, "scim")
    assert row.expires_at == NOW + timedelta(days=90)  # the default lifetime
    [event] = dbs.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.created"))
    assert event.after == {
        "scopes": ["scim"],
        "account": "100001",
        "expires_at": (NOW + timedelta(days=90)).isoformat(),
    }
    assert event.account_id == world.ready.id  # in the organisation's own log too


@pytest.mark.parametrize("scope", ["rollout:read", "rollout:write", "support:read"])
def test_an_it_scope_with_an_account_is_refused_at_creation(
    app: Flask, dbs: Session, world: World, scope: str
) -> None:
    with pytest.raises(InvalidChange, match="IT scopes are for IT tokens"):
        create_token(
            dbs,
            "org-it",
            [scope],
            actor=ACTOR,
            now=NOW,
            hash_key=secret_keys(app).api_token,
            account_number="100001",
            expires_at=NOW + timedelta(days=1),
        )
    with pytest.raises(InvalidChange):
        account_token(app, dbs, scope=scope)
    dbs.rollback()
    assert dbs.scalars(select(ApiToken)).all() == []


@pytest.mark.parametrize("scope", ["users", "scim"])
def test_an_account_scope_without_an_account_is_refused(
    app: Flask, dbs: Session, world: World, scope: str
) -> None:
    with pytest.raises(InvalidChange, match="account scopes need an account"):
        create_token(
            dbs, "it-users", [scope], actor=ACTOR, now=NOW, hash_key=secret_keys(app).api_token
        )
    assert dbs.scalars(select(ApiToken)).all() == []


@pytest.mark.parametrize(
    ("expires_at", "why"),
    [
        (NOW, "in the future"),
        (NOW - timedelta(days=1), "in the future"),
        (NOW + timedelta(days=366), "at most 365 days"),
    ],
)
def test_an_expiry_outside_the_allowed_lifetime_is_refused(
    app: Flask, dbs: Session, world: World, expires_at: datetime, why: str
) -> None:
    with pytest.raises(InvalidChange, match=why):
        account_token(app, dbs, expires_at=expires_at)
    assert dbs.scalars(select(ApiToken)).all() == []


def test_a_token_for_an_unknown_account_is_not_created(
    app: Flask, dbs: Session, world: World
) -> None:
    with pytest.raises(InvalidChange, match="No account"):
        account_token(app, dbs, "999999")
    dbs.rollback()
    assert dbs.scalars(select(ApiToken)).all() == []


def test_two_accounts_may_give_their_tokens_the_same_name(
    app: Flask, dbs: Session, world: World
) -> None:
    account_token(app, dbs, "100001", name="okta")
    account_token(app, dbs, "100002", name="okta")
    assert [row.name for row in list_account_tokens(dbs, world.ready.id)] == ["100001/okta"]
    with pytest.raises(InvalidChange, match="exists"):
        account_token(app, dbs, "100001", name="okta")


def test_an_account_cannot_revoke_another_accounts_token(
    app: Flask, dbs: Session, world: World
) -> None:
    secret = account_token(app, dbs, "100002", name="ci")
    with pytest.raises(NotFound):
        revoke_account_token(dbs, world.ready.id, "100002/ci", actor=ACTOR, now=NOW)
    assert active_token(dbs, secret, secret_keys(app).api_token, now=NOW) is not None


def test_expiries_read_as_days_hours_or_an_iso_date() -> None:
    assert parse_expiry("90d", NOW) == NOW + timedelta(days=90)
    assert parse_expiry("12h", NOW) == NOW + timedelta(hours=12)
    assert parse_expiry("2027-03-01", NOW) == datetime(2027, 3, 1, tzinfo=UTC)
    assert parse_expiry("2027-03-01T06:30", NOW) == datetime(2027, 3, 1, 6, 30, tzinfo=UTC)
    for wrong in ("90", "1y", "-3d", "next week", ""):
        with pytest.raises(InvalidChange, match="90d, 12h"):
            parse_expiry(wrong, NOW)


def test_routes_about_an_account_admit_only_the_tokens_own() -> None:
    limited = Caller("token:org", frozenset({"users"}), account_number="100001")
    unlimited = Caller("token:it", frozenset({"rollout:read"}))
    assert within_account(limited, "100001") is limited
    with pytest.raises(OutsideTokenAccount) as outside:
        within_account(limited, "100002")
    assert outside.value.status == 404
    with pytest.raises(NotAuthorised):
        within_account(limited, None)
    assert within_account(unlimited, "100002") is unlimited
    assert within_account(unlimited, None) is unlimited


def test_the_cli_creates_lists_and_revokes_account_tokens(
    dbs: Session,
    world: World,
    gateway_env: dict[str, str],  # noqa: F811
) -> None:
    created = run(
        gateway_env, "account-token", "create", "100001", "--scope", "users", "--name", "ci"
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("sy_") and "\n" not in secret
    assert "shown only now" in created.stderr and "100001/ci" in created.stderr
    row = dbs.scalars(select(ApiToken)).one()
    assert row.account_id == world.ready.id and row.token_hash != secret
    assert row.expires_at is not None
    assert timedelta(days=89) < row.expires_at - datetime.now(UTC) <= timedelta(days=90)

    listed = run(gateway_env, "account-token", "list", "100001")
    assert listed.exit_code == 0, listed.output
    assert "100001/ci" in listed.output and "users" in listed.output
    assert "active" in listed.output and secret not in listed.output
    assert "100001/ci" not in run(gateway_env, "account-token", "list", "100002").output

    revoked = run(gateway_env, "account-token", "revoke", "100001/ci")
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in run(gateway_env, "account-token", "list").output
    dbs.expire_all()
    assert dbs.scalars(select(ApiToken.revoked_at)).one() is not None


def test_the_cli_refuses_what_create_refuses(
    dbs: Session,
    world: World,
    gateway_env: dict[str, str],  # noqa: F811
) -> None:
    def create(*args: str) -> tuple[int, str]:
        result = run(gateway_env, "account-token", "create", *args)
        return result.exit_code, result.output

    code, output = create("999999", "--scope", "users")
    assert code != 0 and "No account '999999'" in output
    code, output = create("100001", "--scope", "support:read")
    assert code != 0 and "support:read" in output
    code, output = create("100001", "--scope", "users", "--expires", "400d")
    assert code != 0 and "at most 365 days" in output
    code, output = create("100001", "--scope", "users", "--expires", "soon")
    assert code != 0 and "90d, 12h" in output
    code, output = create("100001", "--scope", "users", "--expires", "12h", "--name", "a b")
    assert code != 0 and "name" in output
    assert dbs.scalars(select(ApiToken)).all() == []
