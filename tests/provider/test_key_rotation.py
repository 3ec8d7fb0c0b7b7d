"""Key rotation: tokens signed before it verify until they expire; new ones carry the new kid."""

from __future__ import annotations

from datetime import timedelta

import jwt
from flask import Flask
from flask.testing import FlaskClient

from gateway.core.db import new_session
from gateway.core.models.base import utcnow
from gateway.core.secret_keys import secret_keys
from gateway.provider.keys import key_encryption, load_keyring, rotate_key
from tests.provider.conftest import RelyingParty, verify_id_token


def rotate(app: Flask, alg: str = "RS256") -> str:
    db = new_session(app)
    try:
        key = rotate_key(
            db,
            app.extensions["store"],
            key_encryption(secret_keys(app)),
            alg,
            actor="test",
            reason="rotation test",
        )
        return key.kid
    finally:
        db.close()


def test_rotation_keeps_old_tokens_verifiable_and_signs_new_ones_with_the_new_key(
    app: Flask, browser: FlaskClient, rp: RelyingParty
) -> None:
    before, _ = rp.sign_in_and_redeem(browser)
    old_kid = jwt.get_unverified_header(before["id_token"])["kid"]
    new_kid = rotate(app, "ES256")
    after, attempt = rp.sign_in_and_redeem(browser)
    header = jwt.get_unverified_header(after["id_token"])
    assert header["kid"] == new_kid != old_kid and header["alg"] == "ES256"
    published = {key["kid"] for key in browser.get("/oidc/jwks").get_json()["keys"]}
    assert {old_kid, new_kid} <= published
    verify_id_token(browser, before["id_token"], rp.client_id)
    verify_id_token(browser, after["id_token"], rp.client_id, attempt.nonce)


def test_retired_key_leaves_the_jwks_once_its_tokens_have_expired(
    app: Flask, client: FlaskClient
) -> None:
    first = client.get("/oidc/jwks").get_json()["keys"][0]["kid"]
    rotate(app)
    db = new_session(app)
    try:
        fernet = key_encryption(secret_keys(app))
        window = timedelta(minutes=10)
        soon = load_keyring(db, fernet, alg="RS256", publish_for=window, now=utcnow())
        later = load_keyring(db, fernet, alg="RS256", publish_for=window, now=utcnow() + 2 * window)
    finally:
        db.close()
    assert first in {key["kid"] for key in soon.published}
    assert first not in {key["kid"] for key in later.published}


def test_private_keys_are_encrypted_at_rest(app: Flask, client: FlaskClient) -> None:
    client.get("/oidc/jwks")
    db = new_session(app)
    try:
        from sqlalchemy import select

        from gateway.core.models import ProviderKey

        stored = db.scalars(select(ProviderKey.private_key_encrypted)).all()
    finally:
        db.close()
    assert stored and all("BEGIN" not in value for value in stored)
