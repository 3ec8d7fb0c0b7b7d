"""The authorization code flow end to end through the app, and each way it refuses."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.models import Account, System
from gateway.provider.clients import add_client
from gateway.provider.tokens import CODE, AuthorizationCode, digest, save_code
from tests import factories
from tests.conftest import BASE_URL, SECRET
from tests.provider.conftest import (
    EMAIL,
    REDIRECT_URI,
    AuthorizationAttempt,
    RelyingParty,
    verify_id_token,
)


def test_discovery_document_describes_a_strict_provider(client: FlaskClient) -> None:
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["issuer"] == BASE_URL
    assert doc["token_endpoint"] == f"{BASE_URL}/oidc/token"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "private_key_jwt",
    }


def test_code_flow_issues_verifiable_id_token_with_scoped_claims(
    browser: FlaskClient,
    rp: RelyingParty,
    dbs: Session,
    systems: dict[str, System],
    account: Account,
) -> None:
    line = factories.product_line(dbs, "NETGUARD", "legacy")
    factories.entitlement(dbs, account, line, [systems["legacy"]])
    tokens, attempt = rp.sign_in_and_redeem(browser)
    assert tokens["token_type"].lower() == "bearer" and "refresh_token" not in tokens
    claims = verify_id_token(browser, tokens["id_token"], rp.client_id, attempt.nonce)
    assert claims["sub"] != EMAIL and len(claims["sub"]) == 32
    assert claims["email"] == EMAIL and claims["email_verified"] is True
    assert claims["account_number"] == "ACME-1" and claims["account_name"] == "Acme Corp"
    assert claims["permissions"] == ["downloads", "licensing", "portal"]
    assert claims["product_lines"] == ["NETGUARD"]
    assert claims["sid"] and claims["auth_time"] <= claims["iat"]
    info = browser.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 200
    assert info.get_json()["sub"] == claims["sub"] and info.get_json()["product_lines"] == [
        "NETGUARD"
    ]


def test_codes_and_access_tokens_carry_256_random_bits(
    browser: FlaskClient, rp: RelyingParty
) -> None:
    """Each is 32 bytes from the system's generator, base64url (43 characters); two are
    never the same."""
    seen = set()
    for _ in range(2):
        attempt = AuthorizationAttempt()
        code = rp.code_from(rp.authorize(browser, attempt), attempt)
        reply = rp.redeem(browser.application.test_client(), code, attempt)
        assert reply.status_code == 200
        token = reply.get_json()["access_token"]
        for value in (code, token):
            assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value
            assert len(base64.urlsafe_b64decode(value + "=")) == 32
        seen |= {code, token}
    assert len(seen) == 4


def test_scopes_decide_which_claims_are_released(browser: FlaskClient, rp: RelyingParty) -> None:
    attempt = AuthorizationAttempt()
    code = rp.code_from(rp.authorize(browser, attempt, scope="openid"), attempt)
    tokens = rp.redeem(browser, code, attempt).get_json()
    claims = verify_id_token(browser, tokens["id_token"], rp.client_id)
    assert (
        "email" not in claims and "account_number" not in claims and "product_lines" not in claims
    )


def test_signed_out_user_is_sent_to_sign_in_and_back(client: FlaskClient, rp: RelyingParty) -> None:
    reply = rp.authorize(client, AuthorizationAttempt())
    assert reply.status_code == 302 and reply.location.startswith("/login?next=/oidc/authorize?")


def test_prompt_none_without_session_answers_login_required(
    client: FlaskClient, rp: RelyingParty
) -> None:
    attempt = AuthorizationAttempt()
    reply = rp.authorize(client, attempt, prompt="none")
    query = parse_qs(urlsplit(reply.location).query)
    assert reply.location.startswith(REDIRECT_URI)
    assert (
        query["error"] == ["login_required"]
        and query["iss"] == [BASE_URL]
        and query["state"] == [attempt.state]
    )


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT_URI + "/",
        REDIRECT_URI[:-1],
        REDIRECT_URI + "x",
        REDIRECT_URI.upper(),
        REDIRECT_URI + "?next=https://evil.test",
        None,
    ],
    ids=["trailing-slash", "one-char-less", "one-char-more", "case", "extra-query", "missing"],
)
def test_redirect_uri_must_match_exactly(
    browser: FlaskClient, rp: RelyingParty, redirect_uri: str | None
) -> None:
    reply = rp.authorize(browser, AuthorizationAttempt(), redirect_uri=redirect_uri)
    assert reply.status_code == 400
    assert "evil.test" not in reply.headers.get("Location", "")
    assert "invalid_request" in reply.get_data(as_text=True)


def test_unknown_client_is_refused_with_a_page(browser: FlaskClient, rp: RelyingParty) -> None:
    reply = rp.authorize(browser, AuthorizationAttempt(), client_id="nobody")
    assert reply.status_code == 400 and "invalid_client" in reply.get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "PKCE is required"),
        ({"code_challenge_method": "plain"}, "must be S256"),
        ({"code_challenge_method": None}, "must be S256"),
    ],
    ids=["no-pkce", "plain", "method-missing"],
)
def test_pkce_s256_is_required_at_authorization(
    browser: FlaskClient, rp: RelyingParty, overrides: dict[str, str | None], error: str
) -> None:
    attempt = AuthorizationAttempt()
    reply = rp.authorize(browser, attempt, **overrides)
    query = parse_qs(urlsplit(reply.location).query)
    assert query["error"] == ["invalid_request"] and error in query["error_description"][0]
    assert "code" not in query


def token_error(reply, error: str) -> None:  # type: ignore[no-untyped-def]
    assert reply.status_code in (400, 401), reply.get_data(as_text=True)
    body = reply.get_json()
    assert body["error"] == error, body
    assert "access_token" not in body and "id_token" not in body


@pytest.mark.parametrize(
    ("verifier", "error"),
    [
        (None, "invalid_request"),
        ("W" * 64, "invalid_grant"),
    ],
    ids=["missing", "wrong"],
)
def test_token_refused_without_the_right_verifier(
    browser: FlaskClient, rp: RelyingParty, verifier: str | None, error: str
) -> None:
    attempt = AuthorizationAttempt()
    code = rp.code_from(rp.authorize(browser, attempt), attempt)
    token_error(rp.redeem(browser, code, attempt, code_verifier=verifier), error)


def test_token_refused_with_wrong_secret(browser: FlaskClient, rp: RelyingParty) -> None:
    attempt = AuthorizationAttempt()
    code = rp.code_from(rp.authorize(browser, attempt), attempt)
    token_error(rp.redeem(browser, code, attempt, secret="not-the-secret"), "invalid_client")


def test_token_redirect_uri_must_equal_the_authorized_one(
    browser: FlaskClient, rp: RelyingParty
) -> None:
    attempt = AuthorizationAttempt()
    code = rp.code_from(rp.authorize(browser, attempt), attempt)
    token_error(rp.redeem(browser, code, attempt, redirect_uri=REDIRECT_URI + "/"), "invalid_grant")


def test_code_issued_to_another_client_is_refused(
    browser: FlaskClient, rp: RelyingParty, dbs: Session
) -> None:
    other = add_client(
        dbs, name="Other", redirect_uris=[REDIRECT_URI], actor="test", secret_key=SECRET
    )
    thief = RelyingParty(other.client_id, other.client_secret or "")
    attempt = AuthorizationAttempt()
    code = rp.code_from(rp.authorize(browser, attempt), attempt)
    token_error(thief.redeem(browser, code, attempt), "invalid_grant")


def test_reused_code_is_refused_and_revokes_its_tokens(
    browser: FlaskClient, rp: RelyingParty
) -> None:
    attempt = AuthorizationAttempt()
    code = rp.code_from(rp.authorize(browser, attempt), attempt)
    first = rp.redeem(browser, code, attempt).get_json()
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert browser.get("/oidc/userinfo", headers=bearer).status_code == 200
    token_error(rp.redeem(browser, code, attempt), "invalid_grant")
    assert browser.get("/oidc/userinfo", headers=bearer).status_code == 401


def test_expired_code_is_refused(browser: FlaskClient, rp: RelyingParty, app: Flask) -> None:
    # The store's TTL would drop it too; the lookup checks expiry itself (docs/security.md).
    attempt = AuthorizationAttempt()
    code = rp.code_from(rp.authorize(browser, attempt), attempt)
    store = app.extensions["store"]
    record = AuthorizationCode(**json.loads(store.get(CODE + digest(code))))
    save_code(store, code, replace(record, expires_at=time.time() - 1), 60)
    token_error(rp.redeem(browser, code, attempt), "invalid_grant")


def test_two_concurrent_redemptions_exactly_one_succeeds(
    browser: FlaskClient, rp: RelyingParty, app: Flask
) -> None:
    attempt = AuthorizationAttempt()
    code = rp.code_from(rp.authorize(browser, attempt), attempt)
    barrier, results = threading.Barrier(2), []

    def redeem() -> None:
        client = app.test_client()
        barrier.wait()
        results.append(rp.redeem(client, code, attempt).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [200, 400]


def test_userinfo_needs_a_live_bearer_token(client: FlaskClient) -> None:
    assert client.get("/oidc/userinfo").status_code == 401
    assert client.get("/oidc/userinfo", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_nonce_cannot_be_replayed(browser: FlaskClient, rp: RelyingParty) -> None:
    attempt = AuthorizationAttempt()
    rp.code_from(rp.authorize(browser, attempt), attempt)
    again = AuthorizationAttempt(nonce=attempt.nonce)
    query = parse_qs(urlsplit(rp.authorize(browser, again).location).query)
    assert query.get("error") == ["invalid_request"] and "code" not in query


def test_authlib_has_the_2024_2026_security_fixes() -> None:
    # docs/security.md: releases before 1.6.11 miss fixes for HS256-with-public-key
    # confusion, oversized tokens, JWE zip bombs, untrusted `jwk` headers, alg=none.
    import re
    from importlib.metadata import version

    found = re.match(r"(\d+)\.(\d+)\.(\d+)", version("authlib"))
    assert found is not None
    assert tuple(int(part) for part in found.groups()) >= (1, 6, 11)
