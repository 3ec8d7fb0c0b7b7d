"""A session slides (it ends GATEWAY_SESSION_MINUTES after its last use), but is
renewed at most once a minute: the requests in between write nothing to the store and
send no Set-Cookie. Signing out still deletes it."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient

from gateway.app import SESSION_COOKIE
from gateway.core.server_sessions import RENEW_SECONDS, RENEWED_AT
from tests.forms import csrf_token
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

LIFETIME = 480 * 60  # GATEWAY_SESSION_MINUTES' default, in seconds


def session_key(client: FlaskClient) -> str:
    cookie = client.get_cookie(SESSION_COOKIE, domain="sso.test")
    assert cookie is not None
    return f"session:{cookie.value}"


def test_a_session_is_renewed_at_most_once_a_minute(
    app: Flask, client: FlaskClient, idp: PortalIdP, world: World
) -> None:
    store = app.extensions["store"]
    sign_in(client, idp, email="pat@ready.example", account="100001")
    key = session_key(client)
    stored = json.loads(store.get(key))
    assert isinstance(stored[RENEWED_AT], int)

    # Used again at once: nothing written, no cookie sent, the time to live runs on.
    store.expire(key, LIFETIME - 300)
    again = client.get("/route")
    assert again.status_code == 302 and "Set-Cookie" not in again.headers
    assert store.ttl(key) <= LIFETIME - 300

    # Last renewed over a minute ago: this use renews it for the whole lifetime.
    stored[RENEWED_AT] -= RENEW_SECONDS + 1
    store.set(key, json.dumps(stored), ex=LIFETIME - 300)
    later = client.get("/route")
    assert later.status_code == 302 and SESSION_COOKIE in later.headers.get("Set-Cookie", "")
    assert store.ttl(key) > LIFETIME - 300
    assert json.loads(store.get(key))[RENEWED_AT] > stored[RENEWED_AT]


def test_signing_out_still_deletes_the_session(
    app: Flask, client: FlaskClient, idp: PortalIdP, world: World
) -> None:
    sign_in(client, idp, email="pat@ready.example", account="100001")
    key = session_key(client)
    client.get("/route")
    token = csrf_token(client.get("/logout").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token}, headers={"Referer": "https://sso.test/"})
    assert app.extensions["store"].get(key) is None
