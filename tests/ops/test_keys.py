"""One key per purpose from GATEWAY_SECRET_KEY, a separate key for private keys at
rest, data of earlier releases still readable, and guessable secrets refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core import db
from gateway.core.derived_keys import derive_key
from gateway.core.models import ApiToken, ProviderKey
from gateway.core.models.base import utcnow
from gateway.core.secret_keys import SecretKeys, secret_keys
from gateway.core.server_sessions import CSRF_COOKIE
from gateway.core.settings import Settings, SettingsError, load_settings
from gateway.provider.keys import key_encryption
from tests.conftest import SECRET, make_app

SAME_ORIGIN = {"Referer": "https://sso.test/logout"}
KEK = "kek-" + "Vq3xN8rT2mLp9sWz4bYc7dHf1jKg6nQe5uAo0iRy"


def fernet_of(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key))


def stored_private_key(dbs: Session) -> str:
    dbs.expire_all()
    return dbs.scalars(select(ProviderKey.private_key_encrypted)).one()


# --- one key per purpose --------------------------------------------------------------


def test_cookies_and_csrf_tokens_use_different_keys_and_never_the_raw_secret(app: Flask) -> None:
    cookie_key, csrf_key = app.config["SECRET_KEY"], app.config["WTF_CSRF_SECRET_KEY"]
    assert cookie_key == derive_key(SECRET, "cookie-signing")
    assert csrf_key == derive_key(SECRET, "csrf")
    assert len({cookie_key, csrf_key, SECRET.encode()}) == 3


def anonymous_token(client: FlaskClient) -> str:
    """The raw CSRF token of this browser, read from its (signed) cookie."""
    client.get("/logout")
    cookie = client.get_cookie(CSRF_COOKIE, domain="sso.test")
    assert cookie is not None
    signer = URLSafeTimedSerializer(
        derive_key(SECRET, "cookie-signing"), "switchyard/anonymous-csrf"
    )
    token: str = signer.loads(cookie.value)
    return token


@pytest.mark.parametrize(
    ("cookie_key", "form_key", "status"),
    [
        (derive_key(SECRET, "cookie-signing"), derive_key(SECRET, "csrf"), 200),
        (SECRET, derive_key(SECRET, "csrf"), 400),  # cookie signed with the raw secret
        (derive_key(SECRET, "cookie-signing"), SECRET, 400),  # form token, raw secret
        (derive_key(SECRET, "csrf"), derive_key(SECRET, "cookie-signing"), 400),  # swapped
    ],
    ids=["derived-keys", "raw-secret-cookie", "raw-secret-token", "swapped-keys"],
)
def test_only_the_purpose_keys_sign_cookies_and_csrf_tokens(
    client: FlaskClient, cookie_key: str | bytes, form_key: str | bytes, status: int
) -> None:
    raw = anonymous_token(client)
    forged = URLSafeTimedSerializer(cookie_key, "switchyard/anonymous-csrf").dumps(raw)
    client.set_cookie(CSRF_COOKIE, forged, domain="sso.test")
    token = URLSafeTimedSerializer(form_key, "wtf-csrf-token").dumps(raw)
    reply = client.post("/logout", data={"csrf_token": token}, headers=SAME_ORIGIN)
    assert reply.status_code == status, reply.get_data(as_text=True)


# --- private signing keys at rest ------------------------------------------------------


def test_without_a_key_encryption_key_private_keys_use_the_derived_key(
    app: Flask, client: FlaskClient, dbs: Session
) -> None:
    assert client.get("/oidc/jwks").status_code == 200  # creates the first signing key
    stored = stored_private_key(dbs).encode()
    assert b"PRIVATE KEY" in fernet_of(derive_key(SECRET, "key-encryption")).decrypt(stored)


@pytest.mark.parametrize("settings_overrides", [{"key_encryption_key": KEK}])
def test_a_key_encrypted_with_the_key_encryption_key_cannot_be_read_without_it(
    app: Flask, client: FlaskClient, dbs: Session
) -> None:
    assert client.get("/oidc/jwks").status_code == 200
    stored = stored_private_key(dbs).encode()
    assert b"PRIVATE KEY" in key_encryption(secret_keys(app)).decrypt(stored)
    with pytest.raises(InvalidToken):
        key_encryption(SecretKeys.of(SECRET)).decrypt(stored)  # the secret key alone
    with pytest.raises(InvalidToken):
        fernet_of(derive_key(SECRET, "key-encryption")).decrypt(stored)


@pytest.fixture
def cli(settings: Settings, saml_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url or "")
    if settings.redis_url:
        monkeypatch.setenv("GATEWAY_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_SAML_DIR", str(saml_dir))
    return CliRunner()


def test_a_key_of_an_earlier_release_still_signs_and_rekey_moves_it(
    app: Flask, client: FlaskClient, dbs: Session, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier releases encrypted under SHA-256(b"switchyard provider keys\\0" + secret)."""
    client.get("/oidc/jwks")
    row = dbs.scalars(select(ProviderKey)).one()
    legacy = fernet_of(hashlib.sha256(b"switchyard provider keys\0" + SECRET.encode()).digest())
    pem = key_encryption(secret_keys(app)).decrypt(row.private_key_encrypted.encode())
    row.private_key_encrypted = legacy.encrypt(pem).decode()
    dbs.commit()
    restarted = make_app(app.extensions["settings"])  # a fresh worker: no cached key ring
    try:
        assert restarted.test_client().get("/oidc/jwks").status_code == 200
    finally:
        db.engine_of(restarted).dispose()
    monkeypatch.setenv("GATEWAY_KEY_ENCRYPTION_KEY", KEK)
    result = cli.invoke(main, ["keys", "rekey"])
    assert result.exit_code == 0, result.output
    assert "1 signing keys re-encrypted" in result.output
    stored = stored_private_key(dbs).encode()
    with pytest.raises(InvalidToken):
        legacy.decrypt(stored)
    assert fernet_of(derive_key(KEK, "key-encryption")).decrypt(stored) == pem


def test_a_key_encryption_key_can_rotate(dbs: Session, app: Flask, client: FlaskClient) -> None:
    client.get("/oidc/jwks")
    old = key_encryption(SecretKeys.of(SECRET, KEK))
    row = dbs.scalars(select(ProviderKey)).one()
    pem = key_encryption(secret_keys(app)).decrypt(row.private_key_encrypted.encode())
    token = old.encrypt(pem)
    rotated = key_encryption(SecretKeys.of(SECRET, f"{secrets.token_urlsafe(32)},{KEK}"))
    assert rotated.decrypt(token) == pem  # the previous key still reads
    with pytest.raises(InvalidToken):
        old.decrypt(rotated.rotate(token))  # re-encrypted under the new one


# --- IT API tokens -----------------------------------------------------------------------


def test_an_api_token_hashed_by_an_earlier_release_works_and_is_re_hashed(
    app: Flask, client: FlaskClient, dbs: Session
) -> None:
    secret = "sy_" + secrets.token_urlsafe(32)
    legacy_hash = hashlib.sha256(secret.encode()).hexdigest()
    dbs.add(
        ApiToken(
            name="pipeline",
            token_hash=legacy_hash,
            scopes="rollout:read",
            created_by="test",
            created_at=utcnow(),
        )
    )
    dbs.commit()
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/product-lines", headers=auth).status_code == 200
    dbs.expire_all()
    stored = dbs.scalars(select(ApiToken.token_hash)).one()
    assert stored != legacy_hash
    assert (
        stored == hmac.new(derive_key(SECRET, "api-token"), secret.encode(), "sha256").hexdigest()
    )
    assert client.get("/api/v1/product-lines", headers=auth).status_code == 200


def test_an_api_token_hashed_under_another_secret_is_refused(
    app: Flask, client: FlaskClient, dbs: Session
) -> None:
    secret = "sy_" + secrets.token_urlsafe(32)
    other_key = derive_key(secrets.token_urlsafe(48), "api-token")
    dbs.add(
        ApiToken(
            name="elsewhere",
            token_hash=hmac.new(other_key, secret.encode(), "sha256").hexdigest(),
            scopes="rollout:read",
            created_by="test",
            created_at=utcnow(),
        )
    )
    dbs.commit()
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/product-lines", headers=auth).status_code == 401


# --- guessable secrets -------------------------------------------------------------------

WEAK = [
    "a" * 32,
    "ab" * 24,
    "password" * 5,
    "changeme-changeme-changeme-changeme",
    "0123456789abcdef0123456789abcdef",
    "qwertyuiopasdfghjklzxcvbnm123456",
    "mysupersecretpasswordforgateway1",
    "Summer2024!Summer2024!Summer2024!",
]


@pytest.mark.parametrize("variable", ["GATEWAY_SECRET_KEY", "GATEWAY_KEY_ENCRYPTION_KEY"])
@pytest.mark.parametrize("weak", WEAK)
def test_a_guessable_secret_is_refused_in_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, weak: str
) -> None:
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv(variable, weak)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith(f"{variable}: ") and "\n" not in message
    assert "too easy to guess" in message and "secrets.token_urlsafe(48)" in message


@pytest.mark.parametrize(
    "strong",
    [
        SECRET,
        secrets.token_urlsafe(32),
        secrets.token_urlsafe(48),
        secrets.token_urlsafe(96),
        secrets.token_hex(16),
    ],
    ids=["test-fixture", "urlsafe-32", "urlsafe-48", "urlsafe-96", "hex-16"],
)
def test_a_random_secret_is_accepted(strong: str) -> None:
    assert load_settings(secret_key=strong, key_encryption_key=KEK).secret_key == strong


def test_the_key_encryption_key_must_differ_from_the_secret_key() -> None:
    with pytest.raises(SettingsError, match="GATEWAY_KEY_ENCRYPTION_KEY: .*must differ"):
        load_settings(secret_key=SECRET, key_encryption_key=SECRET)
