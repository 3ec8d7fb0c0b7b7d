"""The stand-in license centers' own parts: sessions bound to a browser, targets kept on
their origin, and sign-in messages refused before any network call."""

from __future__ import annotations

import os
import time

import pytest

from gateway.devidp.license_centers import create_license_center
from gateway.devidp.relying_party import (
    CenterSessions,
    PendingLogin,
    RelyingParty,
    RelyingPartyConfig,
    SignedIn,
    allow_loopback_http,
)

ISSUER = "https://sso.test"
CONFIG = RelyingPartyConfig(
    issuer=ISSUER, client_id="cid", client_secret="secret", base_url="https://legacy.test"
)


def pending(state: str = "s1", browser: str = "b1", **changes: float) -> PendingLogin:
    return PendingLogin(state, "nonce", "verifier", "https://legacy.test/start", browser, **changes)


def test_pending_login_is_used_once_and_only_by_its_browser() -> None:
    sessions, started = CenterSessions(), pending()
    sessions.add_pending(started)
    assert sessions.take_pending("s1", "another-browser") is None
    assert sessions.take_pending("s1", "b1") is started
    assert sessions.take_pending("s1", "b1") is None


def test_expired_pending_login_is_refused() -> None:
    sessions = CenterSessions()
    sessions.add_pending(pending(expires_at=time.time() - 1))
    assert sessions.take_pending("s1", "b1") is None


def test_back_channel_logout_ends_the_named_session_only() -> None:
    sessions = CenterSessions()
    for browser, sid in (("b1", "sid-1"), ("b2", "sid-2")):
        claims = {"sub": "user-1", "sid": sid}
        sessions.sign_in(browser, SignedIn(claims, "token", "kid", "https://legacy.test/start"))
    assert sessions.end_matching(sub="user-1", sid="sid-1") == 1
    assert sessions.current("b1") is None and sessions.current("b2") is not None
    assert sessions.end_matching(sub="user-1", sid=None) == 1
    assert sessions.current("b2") is None


def test_logout_token_ids_are_accepted_once() -> None:
    sessions = CenterSessions()
    assert sessions.first_use("jti-1", time.time() + 60) is True
    assert sessions.first_use("jti-1", time.time() + 60) is False


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("https://legacy.test/keys?x=1", True),
        ("https://new.test/start", False),
        ("http://legacy.test/start", False),
        ("https://user@legacy.test/start", False),
        ("//evil.test/", False),
        (None, False),
    ],
)
def test_only_targets_on_the_centers_own_origin_are_kept(target: str | None, kept: bool) -> None:
    chosen = RelyingParty(CONFIG).own_target(target)
    assert chosen == (target if kept else "https://legacy.test/start")


def test_plain_http_is_allowed_to_oauthlib_only_for_a_loopback_issuer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    allow_loopback_http("http://sso.example.com")
    allow_loopback_http("https://127.0.0.1:8000")
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ
    allow_loopback_http("http://127.0.0.1:8000")
    assert os.environ["OAUTHLIB_INSECURE_TRANSPORT"] == "1"


@pytest.mark.parametrize(
    ("key", "name"), [("legacy", "Legacy license center"), ("new", "New license center")]
)
def test_nobody_signed_in_yet_offers_sign_in_through_switchyard(key: str, name: str) -> None:
    reply = create_license_center(key, name, RelyingParty(CONFIG)).test_client().get("/start")
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200 and name in html
    assert "Nobody is signed in here yet" in html
    assert "/oidc/login?iss=https%3A%2F%2Fsso.test&amp;target_link_uri=" in html


def test_sign_in_started_by_anyone_but_switchyard_is_refused() -> None:
    client = create_license_center("legacy", "Legacy", RelyingParty(CONFIG)).test_client()
    for iss in (None, "https://evil.test", "https://sso.test/"):
        query = {"iss": iss} if iss else {}
        reply = client.get("/oidc/login", query_string=query)
        assert reply.status_code == 400
        assert "only be started by Switchyard" in reply.get_data(as_text=True)


def test_callback_without_a_pending_sign_in_is_refused() -> None:
    client = create_license_center("legacy", "Legacy", RelyingParty(CONFIG)).test_client()
    reply = client.get("/oidc/callback", query_string={"code": "c", "state": "s", "iss": ISSUER})
    assert reply.status_code == 400 and "(state)" in reply.get_data(as_text=True)
    assert client.get("/me").get_json() == {"signed_in": False}
