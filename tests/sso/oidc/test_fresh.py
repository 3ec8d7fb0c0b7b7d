"""The fresh sign-in contract: `/sso/oidc/login?fresh=1` asks the portal to
authenticate again (prompt=login, max_age=0) and accepts only an id_token whose
auth_time is not older than the request (within GATEWAY_OIDC_CLOCK_SKEW_SECONDS);
every OIDC sign-in records session["auth_time"] from auth_time, never later than now."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.models import System
from tests.conftest import BASE_URL
from tests.flows.test_routing_flows import MALFORMED_NEXT
from tests.signin import sign_in
from tests.sso.portal_op import PortalOP
from tests.sso.test_upstream_oidc import assert_refused

FRESH = "/sso/oidc/login?fresh=1"
SKEW = 60  # the default GATEWAY_OIDC_CLOCK_SKEW_SECONDS


def session_auth_time(client: FlaskClient) -> Any:
    with client.session_transaction(base_url=BASE_URL) as session:
        return session.get("auth_time")


def test_fresh_asks_the_portal_to_authenticate_again(
    client: FlaskClient, op: PortalOP, legacy: System
) -> None:
    asked_at = int(time.time())
    op.behaviour.claim_changes = {"auth_time": asked_at}
    assert sign_in(client, op, start=FRESH).status_code == 302
    [asked] = op.authorization_requests
    assert (asked["prompt"], asked["max_age"]) == ("login", "0")
    assert session_auth_time(client) == asked_at


def test_a_malformed_fresh_flag_is_refused_like_on_the_saml_side(
    client: FlaskClient, op: PortalOP
) -> None:
    reply = client.get("/sso/oidc/login", query_string={"fresh": "yes"})
    assert reply.status_code == 400
    assert op.authorization_requests == []


def test_a_plain_sign_in_does_not_insist(client: FlaskClient, op: PortalOP, legacy: System) -> None:
    assert sign_in(client, op).status_code == 302
    [asked] = op.authorization_requests
    assert "prompt" not in asked and "max_age" not in asked


@pytest.mark.parametrize(
    "auth_time", [None, -3600, -SKEW - 5], ids=["missing", "an hour old", "past the skew"]
)
def test_fresh_refuses_an_authentication_older_than_the_request(
    auth_time: int | None,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if auth_time is not None:
        op.behaviour.claim_changes = {"auth_time": int(time.time()) + auth_time}
    reply = sign_in(client, op, start=FRESH)
    assert_refused(reply, client, dbs, caplog, "not fresh")
    assert "did not ask for your password again" in reply.get_data(as_text=True)


def test_fresh_tolerates_the_clock_skew(client: FlaskClient, op: PortalOP, legacy: System) -> None:
    op.behaviour.claim_changes = {"auth_time": int(time.time()) - SKEW + 5}
    assert sign_in(client, op, start=FRESH).status_code == 302


def test_auth_time_of_an_earlier_authentication_is_kept(
    client: FlaskClient, op: PortalOP, legacy: System
) -> None:
    earlier = int(time.time()) - 3600
    op.behaviour.claim_changes = {"auth_time": earlier}
    assert sign_in(client, op).status_code == 302
    assert session_auth_time(client) == earlier


def test_without_auth_time_the_sign_in_time_is_recorded(
    client: FlaskClient, op: PortalOP, legacy: System
) -> None:
    before = int(time.time())
    assert sign_in(client, op).status_code == 302
    assert before <= session_auth_time(client) <= time.time()


def test_auth_time_in_the_future_is_recorded_as_now(
    client: FlaskClient, op: PortalOP, legacy: System
) -> None:
    op.behaviour.claim_changes = {"auth_time": int(time.time()) + 3600}
    assert sign_in(client, op).status_code == 302
    assert session_auth_time(client) <= time.time()


@pytest.mark.parametrize("auth_time", ["yesterday", True, 1.5])
def test_auth_time_that_is_not_an_integer_is_refused(
    auth_time: object,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    op.behaviour.claim_changes = {"auth_time": auth_time}
    assert_refused(sign_in(client, op), client, dbs, caplog, "id_token")


@pytest.mark.parametrize("target", MALFORMED_NEXT)
def test_a_malformed_next_is_refused_before_the_portal_is_asked(
    target: str, client: FlaskClient, op: PortalOP
) -> None:
    reply = client.get("/sso/oidc/login", query_string={"next": target})
    assert reply.status_code == 400
    assert "somewhere we do not send people" in reply.get_data(as_text=True)
    assert op.authorization_requests == []
