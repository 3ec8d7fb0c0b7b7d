"""The portal's clock and ours may differ by GATEWAY_SAML_CLOCK_SKEW_SECONDS (90 s by
default) either way: within it a sign-in works; beyond it, it is refused with a page
that names the clocks. That holds for the delivery window (SubjectConfirmationData
NotOnOrAfter) too, which python3-saml on its own would hold to the second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.models import Account
from tests.saml_idp import PortalIdP
from tests.sso.conftest import assert_refused
from tests.sso.test_saml_attacks import solicited

SKEW = timedelta(seconds=90)  # the default


@pytest.mark.parametrize(
    "portal_ahead",
    [timedelta(seconds=60), timedelta(seconds=-60), timedelta(seconds=-120)],
    ids=["portal 60 s ahead", "portal 60 s behind", "portal 120 s behind"],
)
def test_a_portal_clock_within_the_allowed_difference_signs_in(
    portal_ahead: timedelta, client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    spec = solicited(idp, client, now=datetime.now(UTC) + portal_ahead)
    reply = idp.post(client, idp.response_xml(spec))
    assert reply.status_code == 302, reply.get_data(as_text=True)[:500]


def test_a_portal_clock_too_far_ahead_is_refused_naming_the_clocks(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = solicited(idp, client, now=datetime.now(UTC) + SKEW + timedelta(seconds=60))
    reply = idp.post(client, idp.response_xml(spec))
    assert_refused(reply, client, dbs, caplog, reason="clocks")


@pytest.mark.parametrize(
    ("not_before", "reason"),
    [(SKEW + timedelta(seconds=30), "not yet valid"), (SKEW - timedelta(seconds=30), None)],
    ids=["beyond the difference", "within it"],
)
def test_not_before_is_allowed_the_clock_difference_and_no_more(
    not_before: timedelta,
    reason: str | None,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = datetime.now(UTC)
    spec = solicited(idp, client, now=now, not_before=now + not_before)
    reply = idp.post(client, idp.response_xml(spec))
    if reason is None:
        assert reply.status_code == 302, reply.get_data(as_text=True)[:500]
    else:
        assert_refused(reply, client, dbs, caplog, reason=reason)


@pytest.mark.parametrize(
    ("window_ended", "reason"),
    [(SKEW - timedelta(seconds=30), None), (SKEW + timedelta(seconds=30), "has expired")],
    ids=["within the difference", "beyond it"],
)
def test_the_delivery_window_is_allowed_the_clock_difference_and_no_more(
    window_ended: timedelta,
    reason: str | None,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A portal whose clock is behind: by ours, the response's window (and its
    conditions) ended `window_ended` ago."""
    lifetime = timedelta(minutes=2)
    issued = datetime.now(UTC) - lifetime - window_ended
    spec = solicited(idp, client, now=issued, lifetime=lifetime)
    reply = idp.post(client, idp.response_xml(spec))
    if reason is None:
        assert reply.status_code == 302, reply.get_data(as_text=True)[:500]
    else:
        assert_refused(reply, client, dbs, caplog, reason=reason)
