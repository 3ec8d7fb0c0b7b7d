"""Server-side sessions are read only in our own JSON encoding: whoever can write a
key in the shared store must not get code execution or a forged sign-in from it."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.app import SESSION_COOKIE
from tests import factories

SID = "attacker-chosen-session-id-0123456789abcdef"


class ForgedSession:
    """Unpickling this runs code: it creates `marker` and yields a signed-in session."""

    def __init__(self, marker: Path, user_id: int, account_id: int) -> None:
        self.marker, self.user_id, self.account_id = marker, user_id, account_id

    def __reduce__(self) -> tuple[object, tuple[str]]:
        source = (
            f"__import__('pathlib').Path({str(self.marker)!r}).touch() or "
            f"{{'user_id': {self.user_id}, 'account_id': {self.account_id}, '_permanent': True}}"
        )
        return eval, (source,)


def plant(app: Flask, value: bytes) -> None:
    app.extensions["store"].set(f"session:{SID}", value, ex=600)


def test_a_pickled_session_is_never_unpickled(
    app: Flask,
    client: FlaskClient,
    dbs: Session,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = factories.user(dbs, factories.account(dbs))
    marker = tmp_path / "unpickled"
    plant(app, pickle.dumps(ForgedSession(marker, user.id, user.account_id)))
    client.set_cookie(SESSION_COOKIE, SID, domain="sso.test")
    with caplog.at_level(logging.WARNING, logger="gateway.core.server_sessions"):
        reply = client.get("/api/v1/me")
    assert not marker.exists()
    assert reply.status_code == 401
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "session.unreadable"]
    assert SID not in record.getMessage()  # the id is a bearer secret: never logged
    assert app.extensions["store"].get(f"session:{SID}") is None  # the planted value is gone


@pytest.mark.parametrize(
    "encode",
    [
        msgspec.msgpack.encode,  # a valid session in msgpack, which flask-session also reads
        lambda stored: json.dumps(list(stored.items())).encode(),  # JSON, not an object
        lambda stored: b"\xff\xfe" + json.dumps(stored).encode(),  # not even text
    ],
    ids=["msgpack", "json-array", "garbage"],
)
def test_anything_but_a_json_object_is_no_session(
    app: Flask, client: FlaskClient, dbs: Session, encode: Callable[[dict[str, object]], bytes]
) -> None:
    user = factories.user(dbs, factories.account(dbs))
    plant(app, encode({"user_id": user.id, "account_id": user.account_id, "_permanent": True}))
    client.set_cookie(SESSION_COOKIE, SID, domain="sso.test")
    assert client.get("/api/v1/me").status_code == 401


def test_our_own_json_session_still_signs_in(app: Flask, client: FlaskClient, dbs: Session) -> None:
    user = factories.user(dbs, factories.account(dbs))
    stored = {
        "user_id": user.id,
        "account_id": user.account_id,
        "signed_in_at": datetime.now(UTC).isoformat(),  # every session we write has it
        "_permanent": True,
    }
    plant(app, json.dumps(stored).encode())
    client.set_cookie(SESSION_COOKIE, SID, domain="sso.test")
    reply = client.get("/api/v1/me")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["email"] == user.email
