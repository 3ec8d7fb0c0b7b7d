"""`gateway client …` and `gateway keys …` against a real database."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.models import AuditEvent, OAuthClient, ProviderKey


def test_client_add_shows_the_secret_once_and_stores_only_a_hash(
    app: object, cli_env: CliRunner, dbs: Session
) -> None:
    result = cli_env.invoke(
        main,
        [
            "client",
            "add",
            "--name",
            "Legacy license center",
            "--redirect-uri",
            "https://legacy.example/cb",
            "--initiate-login-uri",
            "https://legacy.example/login",
        ],
    )
    assert result.exit_code == 0, result.output
    client_id = result.output.split("client_id: ")[1].split()[0]
    # Never mistaken for an option when typed back: `gateway client revoke ID`.
    assert re.fullmatch("[0-9a-f]{32}", client_id)
    secret = result.output.split("client_secret: ")[1].split()[0]
    row = dbs.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    assert row is not None and row.secret_hash and secret not in row.secret_hash
    assert row.redirect_uris == ["https://legacy.example/cb"]
    listed = cli_env.invoke(main, ["client", "list"])
    assert client_id in listed.output and secret not in listed.output
    audit = dbs.scalars(
        select(AuditEvent).where(AuditEvent.action == "provider.client_added")
    ).all()
    assert len(audit) == 1 and secret not in str(audit[0].after)


@pytest.mark.parametrize(
    "uri", ["http://legacy.example/cb", "https://legacy.example/cb#frag", "cb"]
)
def test_client_add_refuses_unsafe_redirect_uris(
    app: object, cli_env: CliRunner, dbs: Session, uri: str
) -> None:
    result = cli_env.invoke(main, ["client", "add", "--name", "x", "--redirect-uri", uri])
    assert result.exit_code == 1 and "redirect URI" in result.output
    assert dbs.scalars(select(OAuthClient)).all() == []


def test_private_key_jwt_client_needs_its_public_keys(app: object, cli_env: CliRunner) -> None:
    result = cli_env.invoke(
        main,
        [
            "client",
            "add",
            "--name",
            "x",
            "--auth-method",
            "private_key_jwt",
            "--redirect-uri",
            "https://legacy.example/cb",
        ],
    )
    assert result.exit_code == 1 and "--jwks-file" in result.output


def test_keys_rotate_and_list(app: object, cli_env: CliRunner, dbs: Session) -> None:
    first = cli_env.invoke(main, ["keys", "rotate", "--reason", "first key"])
    second = cli_env.invoke(
        main, ["keys", "rotate", "--alg", "ES256", "--reason", "yearly rotation"]
    )
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    keys = dbs.scalars(select(ProviderKey).order_by(ProviderKey.created_at)).all()
    assert [k.alg for k in keys] == ["RS256", "ES256"]
    assert keys[0].retired_at is not None and keys[1].retired_at is None
    assert "PRIVATE" not in keys[1].private_key_encrypted
    listed = cli_env.invoke(main, ["keys", "list"]).stdout.splitlines()
    assert listed[0].startswith(keys[1].kid) and listed[0].endswith("signing")


def test_client_revoke_stops_new_sign_ins(app: object, cli_env: CliRunner, dbs: Session) -> None:
    added = cli_env.invoke(
        main, ["client", "add", "--name", "x", "--redirect-uri", "https://a.example/cb"]
    )
    client_id = added.output.split("client_id: ")[1].split()[0]
    assert (
        cli_env.invoke(
            main, ["client", "revoke", client_id, "--reason", "decommissioned"]
        ).exit_code
        == 0
    )
    from gateway.provider.clients import find_client

    assert find_client(dbs, client_id) is None
