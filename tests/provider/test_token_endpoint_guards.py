"""The token endpoint under attack: cheap secret checks, rate limits, and a log line
for every failed client authentication."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from gateway.core.derived_keys import derive_key
from gateway.core.models import OAuthClient
from gateway.provider.clients import NewClient, add_client
from tests.conftest import SECRET
from tests.provider.test_machine_access import basic


def machine_client(dbs: Session) -> NewClient:
    return add_client(
        dbs,
        name="Community portal",
        redirect_uris=[],
        actor="test",
        secret_key=SECRET,
        grant_types=("client_credentials",),
        scope="entitlements:read",
    )


def token_request(
    client: FlaskClient, client_id: str, secret: str, address: str = "192.0.2.1"
) -> TestResponse:
    return client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials", "scope": "entitlements:read"},
        headers=basic(client_id, secret),
        environ_base={"REMOTE_ADDR": address},
    )


@contextmanager
def c_calls_recorded() -> Iterator[list[str]]:
    """Names of the C functions called in this thread meanwhile (hashlib.scrypt is one)."""
    names: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call":
            names.append(getattr(arg, "__qualname__", ""))

    sys.setprofile(profile)
    try:
        yield names
    finally:
        sys.setprofile(None)


def stored_hash(dbs: Session, client_id: str) -> str:
    dbs.expire_all()
    value = dbs.scalar(select(OAuthClient.secret_hash).where(OAuthClient.client_id == client_id))
    assert value is not None
    return value


def test_new_secrets_are_stored_as_an_hmac_under_the_derived_key(dbs: Session) -> None:
    portal = machine_client(dbs)
    assert portal.client_secret
    expected = hmac.new(
        derive_key(SECRET, "client-secret"), portal.client_secret.encode(), hashlib.sha256
    ).hexdigest()
    assert stored_hash(dbs, portal.client_id) == f"hmac-sha256${expected}"


def test_a_wrong_secret_is_refused_without_running_scrypt(
    client: FlaskClient, dbs: Session
) -> None:
    portal = machine_client(dbs)
    with c_calls_recorded() as calls:
        reply = token_request(client, portal.client_id, "wrong-" + (portal.client_secret or ""))
    assert reply.status_code == 401 and reply.get_json()["error"] == "invalid_client"
    assert "compare_digest" in calls and "scrypt" not in calls
    assert token_request(client, portal.client_id, portal.client_secret or "").status_code == 200


def test_a_scrypt_hashed_client_keeps_working_and_moves_to_the_hmac(
    client: FlaskClient, dbs: Session
) -> None:
    portal = machine_client(dbs)
    secret = portal.client_secret or ""
    legacy = generate_password_hash(secret)
    dbs.execute(
        update(OAuthClient)
        .where(OAuthClient.client_id == portal.client_id)
        .values(secret_hash=legacy)
    )
    dbs.commit()
    with c_calls_recorded() as calls:
        assert token_request(client, portal.client_id, "wrong").status_code == 401
    assert "scrypt" in calls  # the old format is still verified the old way
    assert stored_hash(dbs, portal.client_id) == legacy
    assert token_request(client, portal.client_id, secret).status_code == 200
    assert stored_hash(dbs, portal.client_id).startswith("hmac-sha256$")
    with c_calls_recorded() as calls:
        assert token_request(client, portal.client_id, "wrong").status_code == 401
    assert "scrypt" not in calls
    assert token_request(client, portal.client_id, secret).status_code == 200


def test_invalid_client_is_logged_with_the_client_id_and_address(
    client: FlaskClient, dbs: Session, caplog: pytest.LogCaptureFixture
) -> None:
    portal = machine_client(dbs)
    caplog.set_level(logging.WARNING, logger="gateway.provider")
    token_request(client, portal.client_id, "wrong", address="198.51.100.7")
    (record,) = [r for r in caplog.records if getattr(r, "event", "") == "oidc.invalid_client"]
    assert record.__dict__["client_id"] == portal.client_id
    assert record.__dict__["address"] == "198.51.100.7"


def test_basic_credentials_that_are_not_utf8_are_an_invalid_client(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    credentials = base64.b64encode(b"\xff\xfe:secret").decode()
    with caplog.at_level(logging.WARNING, logger="gateway.provider.token_guard"):
        reply = client.post(
            "/oidc/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {credentials}"},
        )
    assert reply.status_code == 401
    assert reply.get_json()["error"] == "invalid_client"
    assert any(getattr(r, "event", None) == "oidc.invalid_client" for r in caplog.records)


def assert_rate_limited(reply: TestResponse) -> None:
    assert reply.status_code == 429
    assert reply.get_json()["error"] == "temporarily_unavailable"
    assert "error_description" in reply.get_json()
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "settings_overrides",
    [{"oidc_token_rate_limit_per_client": "3/minute"}],
)
def test_rate_limit_trips_per_client_id_across_addresses(client: FlaskClient, dbs: Session) -> None:
    portal, other = machine_client(dbs), machine_client(dbs)

    def send(client_id: str, n: int) -> TestResponse:
        return token_request(client, client_id, "wrong", address=f"192.0.2.{n}")

    assert [send(portal.client_id, n).status_code for n in range(3)] == [401] * 3
    assert_rate_limited(send(portal.client_id, 10))
    # Even the right secret waits: the bucket is the client id, whoever fills it.
    assert token_request(client, portal.client_id, portal.client_secret or "").status_code == 429
    assert token_request(client, other.client_id, other.client_secret or "").status_code == 200


@pytest.mark.parametrize(
    "settings_overrides",
    [{"oidc_token_rate_limit_per_address": "3/minute"}],
)
def test_rate_limit_trips_per_address_across_client_ids(client: FlaskClient, dbs: Session) -> None:
    portal = machine_client(dbs)
    for n in range(3):
        assert (
            token_request(client, f"guess-{n}", "wrong", address="203.0.113.9").status_code == 401
        )
    assert_rate_limited(token_request(client, "guess-9", "wrong", address="203.0.113.9"))
    assert token_request(client, portal.client_id, portal.client_secret or "").status_code == 200


def test_a_bad_rate_limit_setting_names_the_variable() -> None:
    from gateway.core.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="GATEWAY_OIDC_TOKEN_RATE_LIMIT_PER_CLIENT"):
        load_settings(oidc_token_rate_limit_per_client="lots")
