"""The whole hand-off over real HTTP: SAML sign-in at Switchyard, routing, third-party-
initiated login at a license center, the code flow run by an independent relying-party
library (requests-oauthlib + PyJWT), and single logout back to the centers.

The demo's own start-up runs the gateway and both license centers on loopback, on
this run's database and shared store, with the sample directory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from gateway.core import db
from gateway.devidp.servers import DemoPorts, RunningDemo, start_demo
from gateway.provider.clients import client_for_system
from gateway.provider.grants import keyring
from tests.conftest import _reset
from tests.demo_browser import DemoBrowser, element_attribute, path_of
from tests.jwt_forge import RsaKey, hs256, unsigned
from tests.provider.backchannel_peer import delivery_events

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str | None
) -> Iterator[RunningDemo]:
    running = start_demo(
        tmp_path_factory.mktemp("handoff"),
        "127.0.0.1",
        DemoPorts(0, 0, 0),
        database_url=database_url,
        redis_url=redis_url,
    )
    yield running
    running.stop()
    _reset(running.gateway_app)


@pytest.fixture
def browser(demo: RunningDemo) -> DemoBrowser:
    return DemoBrowser(demo)


def center_url(demo: RunningDemo, system_key: str) -> str:
    return demo.legacy_url if system_key == "legacy" else demo.new_url


def client_id_of(demo: RunningDemo, system_key: str) -> str:
    with closing(db.new_session(demo.gateway_app)) as session:
        client = client_for_system(session, system_key)
    assert client is not None
    return client.client_id


def hops(response: requests.Response) -> list[tuple[str, str]]:
    """(origin, path) of every redirect the browser followed."""
    return [
        (f"{urlsplit(hop.url).scheme}://{urlsplit(hop.url).netloc}", path_of(hop))
        for hop in response.history
    ]


def assert_signed_in_by_code_flow(
    browser: DemoBrowser, landing: requests.Response, system_key: str
) -> dict[str, Any]:
    """The browser went initiate_login_uri → authorize → callback, and the center holds
    claims from an id_token it verified against Switchyard's JWKS; returns the claims."""
    demo, url = browser.demo, center_url(browser.demo, system_key)
    assert landing.url == f"{url}/start", landing.url
    followed = hops(landing)
    for hop in (
        (url, "/oidc/login"),
        (demo.gateway_url, "/oidc/authorize"),
        (url, "/oidc/callback"),
    ):
        assert hop in followed, followed
    me = browser.me(url)
    assert me["signed_in"] is True
    jwks = requests.get(f"{demo.gateway_url}/oidc/jwks", timeout=5).json()["keys"]
    assert me["kid"] in {key["kid"] for key in jwks}
    claims: dict[str, Any] = me["claims"]
    assert claims["iss"] == demo.gateway_url
    assert claims["aud"] == [client_id_of(demo, system_key)]
    assert f'id="kid">{me["kid"]}<' in landing.text
    return claims


@pytest.mark.parametrize(
    ("email", "system_key", "account", "lines"),
    [
        ("alice@acme.example", "legacy", "100100", ["ANALYTICS", "NETGUARD"]),
        ("bob@globex.example", "new", "100200", ["CLOUDVAULT"]),
    ],
)
def test_single_system_user_is_signed_in_at_that_center(
    browser: DemoBrowser, email: str, system_key: str, account: str, lines: list[str]
) -> None:
    claims = assert_signed_in_by_code_flow(browser, browser.sign_in(email), system_key)
    assert claims["email"] == email and claims["email_verified"] is True
    assert claims["account_number"] == account
    assert claims["permissions"] == ["downloads", "licensing", "portal"]
    assert claims["product_lines"] == lines
    other = "new" if system_key == "legacy" else "legacy"
    assert browser.me(center_url(browser.demo, other)) == {"signed_in": False}


def test_user_with_both_chooses_each_center_then_signs_out_of_both(browser: DemoBrowser) -> None:
    landing = browser.sign_in("carol@initech.example")
    assert path_of(landing) == "/choose"
    new = assert_signed_in_by_code_flow(browser, browser.choose("new"), "new")
    assert (new["email"], new["account_number"]) == ("carol@initech.example", "100300")
    assert new["product_lines"] == ["ENDPOINT"]
    legacy = assert_signed_in_by_code_flow(browser, browser.choose("legacy"), "legacy")
    assert legacy["product_lines"] == ["NETGUARD"] and legacy["sub"] == new["sub"]

    with delivery_events() as events:
        signed_out = browser.sign_out_at_gateway()
        assert "You are signed out" in signed_out.text
        # Sent after the sign-out answered: wait until both centers have it.
        events.wait_for("oidc.backchannel_logout_delivered", count=2)
    # Back-channel logout: both centers ended their sessions, server to server.
    for url in (browser.demo.legacy_url, browser.demo.new_url):
        assert browser.me(url) == {"signed_in": False}
    again = browser.get(f"{browser.demo.gateway_url}/choose")
    assert "Community portal (development IdP)" in again.text


def test_sign_out_link_ends_the_session_here_and_at_switchyard(browser: DemoBrowser) -> None:
    landing = browser.sign_in("alice@acme.example")
    assert_signed_in_by_code_flow(browser, landing, "legacy")
    sign_out = element_attribute(landing.text, "sign-out", "href")
    assert sign_out.startswith(f"{browser.demo.gateway_url}/oidc/logout?")
    assert "id_token_hint" in parse_qs(urlsplit(sign_out).query)
    after = browser.get(sign_out)
    assert after.url == f"{browser.demo.legacy_url}/signed-out"
    assert "You are signed out" in after.text
    assert browser.me(browser.demo.legacy_url) == {"signed_in": False}
    gateway = browser.get(f"{browser.demo.gateway_url}/")
    assert "Community portal (development IdP)" in gateway.text


def start_at_center(browser: DemoBrowser, url: str, **params: str) -> str:
    """Begin a login at a center and let Switchyard answer; the callback URL (not followed)."""
    query = {"iss": browser.demo.gateway_url, **params}
    authorize = browser.get(f"{url}/oidc/login?{urlencode(query)}", allow_redirects=False)
    assert authorize.status_code == 302
    answer = browser.get(authorize.headers["Location"], allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(url)
    return answer.headers["Location"]


def test_center_refuses_a_callback_from_another_issuer_or_browser(
    browser: DemoBrowser, demo: RunningDemo
) -> None:
    browser.sign_in("alice@acme.example")
    forged_iss = start_at_center(browser, demo.legacy_url).replace(
        "iss=http", "iss=https%3A%2F%2Fevil.example%2F%3Fx%3Dhttp"
    )
    refused = browser.get(forged_iss)
    assert refused.status_code == 400 and "(iss)" in refused.text

    callback = start_at_center(browser, demo.legacy_url)
    stranger = DemoBrowser(demo).get(callback)
    assert stranger.status_code == 400 and "(state)" in stranger.text
    # The stranger did not use up the real browser's sign-in.
    assert browser.get(callback).url == f"{demo.legacy_url}/start"

    refused_start = browser.get(
        f"{demo.new_url}/oidc/login", params={"iss": "https://evil.example"}
    )
    assert (
        refused_start.status_code == 400 and "only be started by Switchyard" in refused_start.text
    )


def test_center_keeps_only_targets_on_its_own_origin(
    browser: DemoBrowser, demo: RunningDemo
) -> None:
    browser.sign_in("alice@acme.example")
    callback = start_at_center(
        browser, demo.legacy_url, target_link_uri="https://evil.example/steal"
    )
    assert browser.get(callback).url == f"{demo.legacy_url}/start"


def logout_claims(demo: RunningDemo, claims: dict[str, Any], **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {
        "iss": demo.gateway_url,
        "aud": client_id_of(demo, "legacy"),
        "iat": now,
        "exp": now + 120,
        "jti": f"jti-{now}-{len(changes)}-{sorted(changes)}",
        "sub": claims["sub"],
        "sid": claims["sid"],
        "events": {BACKCHANNEL_EVENT: {}},
    }
    values.update(changes)
    return values


def gateway_key(demo: RunningDemo) -> RsaKey:
    """Switchyard's current signing key, as the provider itself would use it."""
    with demo.gateway_app.test_request_context():
        ring = keyring()
        return RsaKey(ring.signing.kid or "", ring.signing.as_pem(private=True))


def test_center_refuses_forged_logout_tokens_and_accepts_a_real_one(
    browser: DemoBrowser, demo: RunningDemo
) -> None:
    claims = assert_signed_in_by_code_flow(browser, browser.sign_in("alice@acme.example"), "legacy")
    ours, stranger = gateway_key(demo), RsaKey.generate("stranger")
    typ = {"typ": "logout+jwt"}
    forged = {
        "not ['ES256', 'RS256']": [
            unsigned(logout_claims(demo, claims), kid=ours.kid, **typ),
            hs256(logout_claims(demo, claims), ours.public_pem, kid=ours.kid, **typ),
        ],
        "Signature verification failed": [
            RsaKey(ours.kid, stranger.private_pem).sign(logout_claims(demo, claims), **typ)
        ],
        "Audience doesn't match": [
            ours.sign(logout_claims(demo, claims, aud="someone-else"), **typ)
        ],
        "Invalid issuer": [
            ours.sign(logout_claims(demo, claims, iss="https://evil.example"), **typ)
        ],
        "expired": [ours.sign(logout_claims(demo, claims, exp=int(time.time()) - 300), **typ)],
        "no back-channel logout event": [ours.sign(logout_claims(demo, claims, events={}), **typ)],
        "expected 'logout+jwt'": [ours.sign(logout_claims(demo, claims), typ="JWT")],
        "must not carry a nonce": [ours.sign(logout_claims(demo, claims, nonce="n"), **typ)],
    }
    endpoint = f"{demo.legacy_url}/oidc/backchannel-logout"
    for reason, tokens in forged.items():
        for token in tokens:
            answer = requests.post(endpoint, data={"logout_token": token}, timeout=5)
            assert answer.status_code == 400
            assert answer.json()["error"] == "invalid_request"
            assert reason in answer.json()["error_description"]
            assert browser.me(demo.legacy_url)["signed_in"] is True

    real = ours.sign(logout_claims(demo, claims, jti="the-real-one"), **typ)
    accepted = requests.post(endpoint, data={"logout_token": real}, timeout=5)
    assert accepted.status_code == 200 and accepted.json() == {"ended": 1}
    assert browser.me(demo.legacy_url) == {"signed_in": False}
    replayed = requests.post(endpoint, data={"logout_token": real}, timeout=5)
    assert replayed.status_code == 400 and "already used" in replayed.json()["error_description"]
