"""prompt=login and max_age: a sign-in that is not fresh enough goes back to the portal
once (`/login?fresh=1`), prompt=none hears login_required, and the id_token's
auth_time is the session's authentication time, never "now"."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gateway.provider.freshness import FreshnessRequest, Verdict, judge
from tests.conftest import BASE_URL
from tests.provider.conftest import ACCOUNT, EMAIL, AuthorizationAttempt, RelyingParty
from tests.saml_idp import PortalIdP
from tests.signin import sign_in

MARKER = "fresh_login"


def set_auth_time(browser: FlaskClient, value: int | None) -> None:
    with browser.session_transaction(base_url=BASE_URL) as session:
        if value is None:
            session.pop("auth_time", None)
        else:
            session["auth_time"] = value


def session_value(browser: FlaskClient, key: str) -> Any:
    with browser.session_transaction(base_url=BASE_URL) as session:
        return session.get(key)


def fresh_sign_in_target(reply: TestResponse) -> str:
    """The authorize URL a redirect to a fresh sign-in will come back to."""
    assert reply.status_code == 302, reply.get_data(as_text=True)
    parts = urlsplit(reply.location)
    query = parse_qs(parts.query)
    assert parts.path == "/login" and query["fresh"] == ["1"], reply.location
    (target,) = query["next"]
    assert target.startswith("/oidc/authorize?") and MARKER in parse_qs(urlsplit(target).query)
    return target


def error_of(reply: TestResponse, rp: RelyingParty, attempt: AuthorizationAttempt) -> str:
    assert reply.status_code == 302 and reply.location.startswith(rp.redirect_uri + "?")
    query = parse_qs(urlsplit(reply.location).query)
    assert query["state"] == [attempt.state] and query["iss"] == [BASE_URL]
    assert "code" not in query
    return query["error"][0]


def id_token_auth_time(
    browser: FlaskClient, rp: RelyingParty, reply: TestResponse, attempt: AuthorizationAttempt
) -> int:
    code = rp.code_from(reply, attempt)
    tokens = rp.redeem(browser.application.test_client(), code, attempt).get_json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    return int(claims["auth_time"])


def test_prompt_login_sends_the_user_to_a_fresh_sign_in_then_issues_the_code(
    browser: FlaskClient, rp: RelyingParty, idp: PortalIdP
) -> None:
    set_auth_time(browser, int(time.time()) - 30)
    asked_at = int(time.time())
    attempt = AuthorizationAttempt()
    reply = rp.authorize(browser, attempt, prompt="login")
    target = fresh_sign_in_target(reply)
    back = sign_in(browser, idp, email=EMAIL, account=ACCOUNT, start=reply.location)
    assert back.status_code == 302, back.get_data(as_text=True)
    assert back.location == target
    done = browser.get(target)
    auth_time = id_token_auth_time(browser, rp, done, attempt)
    assert auth_time == session_value(browser, "auth_time") and auth_time >= asked_at
    # The marker was used up: presented again, it stands for nothing.
    (used,) = parse_qs(urlsplit(target).query)[MARKER]
    again = rp.authorize(browser, AuthorizationAttempt(), prompt="login", **{MARKER: used})
    fresh_sign_in_target(again)


def test_a_sign_in_that_comes_back_still_too_old_answers_login_required(
    browser: FlaskClient, rp: RelyingParty, idp: PortalIdP
) -> None:
    attempt = AuthorizationAttempt()
    reply = rp.authorize(browser, attempt, prompt="login", max_age="600")
    target = fresh_sign_in_target(reply)
    back = sign_in(browser, idp, email=EMAIL, account=ACCOUNT, start=reply.location)
    assert back.status_code == 302, back.get_data(as_text=True)
    # The portal reused an old authentication instead of a fresh one.
    set_auth_time(browser, int(time.time()) - 3600)
    assert error_of(browser.get(target), rp, attempt) == "login_required"


def test_max_age_exceeded_sends_the_user_to_a_fresh_sign_in(
    browser: FlaskClient, rp: RelyingParty
) -> None:
    set_auth_time(browser, int(time.time()) - 1000)
    fresh_sign_in_target(rp.authorize(browser, AuthorizationAttempt(), max_age="600"))


def test_within_max_age_the_id_token_carries_the_sessions_auth_time(
    browser: FlaskClient, rp: RelyingParty
) -> None:
    signed_in_at = int(time.time()) - 1000
    set_auth_time(browser, signed_in_at)
    attempt = AuthorizationAttempt()
    reply = rp.authorize(browser, attempt, max_age="5000")
    assert id_token_auth_time(browser, rp, reply, attempt) == signed_in_at


@pytest.mark.parametrize("max_age", ["600", "0"])
def test_prompt_none_with_a_too_old_sign_in_answers_login_required(
    browser: FlaskClient, rp: RelyingParty, max_age: str
) -> None:
    set_auth_time(browser, int(time.time()) - 1000)
    attempt = AuthorizationAttempt()
    reply = rp.authorize(browser, attempt, prompt="none", max_age=max_age)
    assert error_of(reply, rp, attempt) == "login_required"


def test_a_session_without_auth_time_is_never_given_now(
    browser: FlaskClient, rp: RelyingParty
) -> None:
    set_auth_time(browser, None)
    fresh_sign_in_target(rp.authorize(browser, AuthorizationAttempt()))
    attempt = AuthorizationAttempt()
    assert error_of(rp.authorize(browser, attempt, prompt="none"), rp, attempt) == (
        "login_required"
    )


def test_a_forged_marker_does_not_stand_for_a_fresh_sign_in(
    browser: FlaskClient, rp: RelyingParty
) -> None:
    attempt = AuthorizationAttempt()
    reply = rp.authorize(browser, attempt, prompt="login", **{MARKER: "made-up"})
    fresh_sign_in_target(reply)


# "²" passes str.isdigit() but not int(); 4,301 digits are beyond int()'s default limit.
@pytest.mark.parametrize("max_age", ["-5", "\u00b2", "1" * 4301])
def test_a_malformed_max_age_is_an_invalid_request(
    browser: FlaskClient, rp: RelyingParty, max_age: str
) -> None:
    attempt = AuthorizationAttempt()
    reply = rp.authorize(browser, attempt, max_age=max_age)
    assert error_of(reply, rp, attempt) == "invalid_request"


NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("query", "auth_time", "asked_at", "verdict"),
    [
        ({}, NOW - 10_000, None, "fresh enough"),
        ({}, None, None, "sign in again"),
        ({"prompt": "login"}, NOW, None, "sign in again"),
        ({"prompt": "login"}, NOW - 5, NOW - 5, "fresh enough"),
        ({"prompt": "login"}, NOW - 6, NOW - 5, "login_required"),
        ({"max_age": "0"}, NOW, None, "sign in again"),
        ({"max_age": "60"}, NOW - 60, None, "fresh enough"),
        ({"max_age": "60"}, NOW - 61, None, "sign in again"),
        ({"max_age": "60"}, NOW - 61, NOW - 100, "login_required"),
        ({"max_age": "60", "prompt": "none"}, NOW - 61, None, "login_required"),
        ({"prompt": "none"}, None, None, "login_required"),
    ],
)
def test_the_freshness_verdicts(
    query: dict[str, str], auth_time: int | None, asked_at: int | None, verdict: str
) -> None:
    wanted = FreshnessRequest.of(query)
    assert judge(wanted, auth_time=auth_time, now=NOW, asked_at=asked_at).value == verdict


def test_a_portal_clock_behind_by_less_than_the_skew_still_counts_as_fresh() -> None:
    wanted = FreshnessRequest.of({"prompt": "login"})
    slow_portal = {"auth_time": NOW - 30, "now": NOW, "asked_at": NOW - 5}
    assert judge(wanted, **slow_portal, skew=60) is Verdict.FRESH_ENOUGH
    assert judge(wanted, **slow_portal, skew=10) is Verdict.LOGIN_REQUIRED
