"""A session ends a fixed time after its sign-in, however active it has been: 12 hours
by default, 4 for the vendor's roles (IT, support). Past it, pages start a sign-in and
APIs answer 401."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from gateway.core.models import Account
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT, EMAIL

SERVER = "https://sso.test"


def signed_in_hours_ago(client: FlaskClient, hours: float) -> None:
    """Move the stored sign-in time back, as if the session had lived that long."""
    with client.session_transaction(base_url=SERVER) as session:
        session["signed_in_at"] = (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def test_a_customer_session_lives_12_hours_from_sign_in_not_from_last_use(
    client: FlaskClient, idp: PortalIdP, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in(client, idp, email=EMAIL, account=ACCOUNT)
    signed_in_hours_ago(client, 11.5)
    assert client.get("/api/v1/me").status_code == 200  # used a moment ago, still young
    signed_in_hours_ago(client, 12.1)
    with caplog.at_level(logging.INFO, logger="gateway.core.session"):
        assert client.get("/api/v1/me").status_code == 401
    assert "session.expired" in [getattr(record, "event", "") for record in caplog.records]
    page = client.get("/choose")
    assert page.status_code == 302 and "/login" in page.location
    assert client.get("/api/v1/me").status_code == 401  # ended for good, not only once


@pytest.mark.parametrize("group", ["switchyard-it", "switchyard-support"])
def test_a_vendor_session_ends_sooner(
    client: FlaskClient, idp: PortalIdP, account: Account, group: str
) -> None:
    sign_in(client, idp, email="it@acme.example", account=ACCOUNT, groups=(group,))
    signed_in_hours_ago(client, 3.5)
    assert client.get("/api/v1/me").status_code == 200
    signed_in_hours_ago(client, 4.5)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/it/").status_code in (302, 401)


def test_a_session_that_cannot_show_its_age_is_ended(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    sign_in(client, idp, email=EMAIL, account=ACCOUNT)
    with client.session_transaction(base_url=SERVER) as session:
        session["signed_in_at"] = "not a time"
    assert client.get("/api/v1/me").status_code == 401
