"""Back-channel logout is sent after the sign-out has answered, retried when the
relying party fails, and never follows a redirect."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.models import System
from gateway.provider.clients import add_client
from tests.conftest import BASE_URL, SECRET
from tests.forms import csrf_token
from tests.provider.backchannel_peer import PeerState, delivery_events, running_peer
from tests.provider.conftest import REDIRECT_URI, RelyingParty

SAME_ORIGIN = {"Referer": f"{BASE_URL}/logout"}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"oidc_backchannel_logout_retry_seconds": 0.01, "oidc_backchannel_logout_attempts": 3}


@pytest.fixture
def peer() -> Iterator[tuple[str, PeerState]]:
    with running_peer() as running:
        yield running


def signed_in_at_rp(browser: FlaskClient, dbs: Session, backchannel_url: str) -> str:
    """Register a license center with this back-channel URI, sign in to it; its id."""
    center = add_client(
        dbs,
        name="New",
        redirect_uris=[REDIRECT_URI],
        actor="test",
        secret_key=SECRET,
        backchannel_logout_uri=backchannel_url,
        system_key="new",
    )
    RelyingParty(center.client_id, center.client_secret or "").sign_in_and_redeem(browser)
    return center.client_id


def sign_out(browser: FlaskClient) -> None:
    token = csrf_token(browser.get("/logout").get_data(as_text=True))
    reply = browser.post("/logout", data={"csrf_token": token}, headers=SAME_ORIGIN)
    assert reply.status_code in (200, 302)
    assert browser.get("/api/v1/me").status_code == 401


def test_sign_out_answers_while_the_relying_party_is_still_holding(
    browser: FlaskClient,
    dbs: Session,
    systems: dict[str, System],
    peer: tuple[str, PeerState],
) -> None:
    url, state = peer
    client_id = signed_in_at_rp(browser, dbs, f"{url}/hold")
    with delivery_events() as events:
        sign_out(browser)
        # The sign-out has answered; the relying party has not been let go yet.
        assert not state.release.is_set() and state.tokens("/hold") == []
        state.release.set()
        (delivered,) = events.wait_for("oidc.backchannel_logout_delivered")
    assert delivered.__dict__["client_id"] == client_id
    (token,) = state.tokens("/hold")
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == client_id


def test_a_relying_party_that_fails_once_gets_the_token_on_retry(
    browser: FlaskClient,
    dbs: Session,
    systems: dict[str, System],
    peer: tuple[str, PeerState],
) -> None:
    url, state = peer
    signed_in_at_rp(browser, dbs, f"{url}/flaky")
    with delivery_events() as events:
        sign_out(browser)
        (delivered,) = events.wait_for("oidc.backchannel_logout_delivered")
    (failed,) = events.named("oidc.backchannel_logout_attempt_failed")
    assert failed.__dict__["attempt"] == 1 and "500" in failed.__dict__["error"]
    assert delivered.__dict__["attempt"] == 2
    first, second = state.tokens("/flaky")
    assert first == second


def test_a_redirecting_relying_party_is_not_followed(
    browser: FlaskClient,
    dbs: Session,
    systems: dict[str, System],
    peer: tuple[str, PeerState],
) -> None:
    url, state = peer
    signed_in_at_rp(browser, dbs, f"{url}/redirect")
    with delivery_events() as events:
        sign_out(browser)
        (gave_up,) = events.wait_for("oidc.backchannel_logout_gave_up")
    failures = events.named("oidc.backchannel_logout_attempt_failed")
    assert len(failures) == 3 and all("not followed" in f.__dict__["error"] for f in failures)
    assert gave_up.__dict__["attempt"] == 3 and "not followed" in gave_up.__dict__["error"]
    assert state.tokens("/landed") == [] and len(state.tokens("/redirect")) == 3
    assert events.named("oidc.backchannel_logout_delivered") == []


def test_a_pending_retry_does_not_hold_the_process_at_exit() -> None:
    # An undeliverable logout waits a minute before its retry; a process that ends
    # meanwhile must exit at once (the delivery is lost, as documented), not wait.
    program = """
import logging, sys, threading
from gateway.provider.backchannel import BackchannelSender, LogoutDelivery
failed = threading.Event()
class Seen(logging.Handler):
    def emit(self, record):
        if getattr(record, "event", "") == "oidc.backchannel_logout_attempt_failed":
            failed.set()
logging.getLogger("gateway.provider.backchannel").addHandler(Seen())
sender = BackchannelSender(attempts=3, retry_seconds=60.0, deadline_seconds=1.0)
sender.submit(LogoutDelivery("client", "http://127.0.0.1:1/bc", "token"))
sys.exit(0 if failed.wait(30) else 2)
"""
    finished = subprocess.run(  # noqa: S603 - our own program
        [sys.executable, "-c", program], timeout=45, capture_output=True, check=False
    )
    assert finished.returncode == 0, finished.stderr.decode()
