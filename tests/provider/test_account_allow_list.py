"""Machine clients with an account allow-list read only those accounts; another
organisation's account answers exactly like one that does not exist."""

from __future__ import annotations

import base64

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.models import Account, OAuthClient
from gateway.core.models.provider import OAuthClientAccount
from gateway.provider.clients import NewClient, add_client
from gateway.provider.errors import ClientRegistrationError
from tests import factories
from tests.conftest import SECRET


def listed_client(dbs: Session, accounts: list[str] | None) -> NewClient:
    return add_client(
        dbs,
        name="Partner portal",
        redirect_uris=[],
        actor="test",
        secret_key=SECRET,
        grant_types=("client_credentials",),
        scope="entitlements:read",
        account_numbers=accounts,
    )


def bearer(client: FlaskClient, machine: NewClient) -> dict[str, str]:
    raw = f"{machine.client_id}:{machine.client_secret}".encode()
    reply = client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials", "scope": "entitlements:read"},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return {"Authorization": f"Bearer {reply.get_json()['access_token']}"}


def entitlements(client: FlaskClient, number: str, headers: dict[str, str]) -> tuple[int, dict]:
    reply = client.get(f"/api/v1/accounts/{number}/entitlements", headers=headers)
    body = reply.get_json()
    body.pop("request_id", None)
    return reply.status_code, body


def test_listed_client_reads_its_account_and_not_another_organisations(
    client: FlaskClient, dbs: Session, account: Account
) -> None:
    other = factories.account(dbs, "GLOBEX-9", "Globex")
    headers = bearer(client, listed_client(dbs, [account.account_number]))
    assert entitlements(client, account.account_number, headers)[0] == 200
    status, body = entitlements(client, other.account_number, headers)
    assert status == 404 and "entitlements" not in body
    # Indistinguishable from an account that does not exist.
    missing_status, missing = entitlements(client, "NOPE-0", headers)
    assert missing_status == 404
    assert body["title"] == missing["title"] and body.keys() == missing.keys()


def test_an_empty_allow_list_reads_nothing_and_no_list_reads_everything(
    client: FlaskClient, dbs: Session, account: Account
) -> None:
    nothing = bearer(client, listed_client(dbs, []))
    assert entitlements(client, account.account_number, nothing)[0] == 404
    everything = bearer(client, listed_client(dbs, None))
    assert entitlements(client, account.account_number, everything)[0] == 200


def test_allow_list_refuses_unknown_accounts_and_license_center_clients(
    dbs: Session, account: Account
) -> None:
    with pytest.raises(ClientRegistrationError, match="NOPE-0"):
        listed_client(dbs, [account.account_number, "NOPE-0"])
    with pytest.raises(ClientRegistrationError, match="machine"):
        add_client(
            dbs,
            name="Legacy",
            redirect_uris=["https://legacy.example/cb"],
            actor="test",
            secret_key=SECRET,
            account_numbers=[account.account_number],
        )
    assert dbs.scalars(select(OAuthClient)).all() == []


def test_cli_registers_a_machine_client_with_an_allow_list(
    app: object,
    cli_env: CliRunner,
    dbs: Session,
    account: Account,
) -> None:
    result = cli_env.invoke(
        main,
        ["client", "add", "--name", "Partner", "--machine", "--account", account.account_number],
    )
    assert result.exit_code == 0, result.output
    client_id = result.output.split("client_id: ")[1].split()[0]
    row = dbs.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    assert row is not None and row.accounts_restricted
    listed = dbs.scalars(
        select(OAuthClientAccount.account_id).where(OAuthClientAccount.client_pk == row.id)
    ).all()
    assert listed == [account.id]
    unknown = cli_env.invoke(
        main, ["client", "add", "--name", "Partner 2", "--machine", "--account", "NOPE-0"]
    )
    assert unknown.exit_code != 0 and "NOPE-0" in unknown.output
