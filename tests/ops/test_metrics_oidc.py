"""Sign-ins through the portal's OpenID Connect provider are counted with method
"oidc": one that succeeds, and one whose authorization response is tampered with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.models import Account
from tests import factories
from tests.ops.test_metrics import moved, scrape
from tests.sso.portal_op import CLIENT_ID, CLIENT_SECRET, PortalOP, serve_portal
from tests.sso.test_upstream_oidc import USER, authorization_response, with_query

SIGNINS = "gateway_signins_total"


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalOP]:
    with serve_portal() as op:
        yield op


@pytest.fixture
def settings_overrides(portal: PortalOP) -> dict[str, object]:
    portal.reset(USER)
    return {
        "oidc_issuer": portal.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "login_method": "oidc",
        "metrics_token": "metrics-token-for-tests-0123456789abcdef",
    }


@pytest.fixture
def account(dbs: Session) -> Account:
    row = factories.account(dbs, USER["account_number"], "Acme Corp")
    legacy = factories.system(dbs, "legacy")
    factories.entitlement(dbs, row, factories.product_line(dbs, "NETGUARD"), [legacy])
    return row


def test_oidc_sign_ins_are_counted_by_result(
    client: FlaskClient, portal: PortalOP, account: Account
) -> None:
    before = scrape(client)
    assert client.get(authorization_response(client, portal)).status_code == 302
    forged = with_query(authorization_response(client, portal), state="forged-state")
    assert client.get(forged).status_code == 400
    after = scrape(client)
    assert moved(before, after, SIGNINS, method="oidc", result="success") == 1
    assert moved(before, after, SIGNINS, method="oidc", result="refused") == 1
    assert moved(before, after, "gateway_handoffs_total", system="legacy") == 1
