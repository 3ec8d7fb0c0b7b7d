"""Every request to the upstream provider (discovery, keys, token, userinfo) follows no
redirect and has one deadline: a redirecting or silent provider refuses the sign-in
with a clear 503 page, no session and a log event naming the step."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core.models import System, User
from tests.signin import sign_in
from tests.sso.portal_op import PortalOP

# The shared fixtures keep the shipped 5 s deadline, so a loaded machine answering a
# healthy request in a second does not fail a sign-in; here a held answer must give up soon.
SHORT_DEADLINE_SECONDS = 0.5


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, object]) -> dict[str, object]:
    return {**settings_overrides, "oidc_http_deadline_seconds": SHORT_DEADLINE_SECONDS}


DISCOVERY = "/.well-known/openid-configuration"
STEPS = [
    pytest.param(DISCOVERY, "discovery", id="discovery"),
    pytest.param("/jwks", "jwks", id="jwks"),
    pytest.param("/token", "token", id="token"),
    pytest.param("/userinfo", "userinfo", id="userinfo"),
]


def attempt(client: FlaskClient, op: PortalOP, path: str) -> TestResponse:
    op.behaviour.in_id_token = frozenset({"sub"})  # so that userinfo is asked too
    if path == DISCOVERY:  # the sign-in cannot even start
        return client.get("/sso/oidc/login")
    return sign_in(client, op)


def assert_unavailable(
    reply: TestResponse,
    client: FlaskClient,
    dbs: Session,
    caplog: pytest.LogCaptureFixture,
    step: str,
) -> None:
    assert reply.status_code == 503, reply.get_data(as_text=True)
    assert "could not reach the community portal" in reply.get_data(as_text=True)
    assert "text/html" in reply.content_type
    assert client.get("/api/v1/me").status_code == 401
    dbs.expire_all()
    assert dbs.scalar(select(User)) is None
    logged = [r for r in caplog.records if getattr(r, "event", "") == "oidc.provider_unavailable"]
    assert logged and getattr(logged[-1], "step", None) == step, logged


@pytest.mark.parametrize(("path", "step"), STEPS)
def test_a_redirecting_provider_is_not_followed(
    path: str,
    step: str,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    op.behaviour.redirect = frozenset({path})
    assert_unavailable(attempt(client, op, path), client, dbs, caplog, step)
    assert op.followed == []
    logged = [r for r in caplog.records if getattr(r, "event", "") == "oidc.provider_unavailable"]
    assert "not followed" in getattr(logged[-1], "error", "")


@pytest.mark.parametrize(("path", "step"), STEPS)
def test_a_provider_holding_its_answer_fails_the_sign_in_within_the_deadline(
    path: str,
    step: str,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    op.behaviour.hold = frozenset({path})  # answered only once the test has ended
    assert_unavailable(attempt(client, op, path), client, dbs, caplog, step)
    assert not op.released.is_set()  # the sign-in gave up; the provider never answered


@pytest.mark.parametrize(("path", "step"), STEPS)
def test_a_provider_dripping_its_answer_fails_the_sign_in_within_the_deadline(
    path: str,
    step: str,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A byte now and then resets any per-read timeout; only an overall deadline ends it."""
    op.behaviour.drip = frozenset({path})
    assert_unavailable(attempt(client, op, path), client, dbs, caplog, step)
    assert not op.released.is_set()
