"""The IT console's page of Salesforce sync runs: IT sees the history; customers get 403."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.settings import Settings
from gateway.devidp.salesforce import SalesforceStandIn
from tests.salesforce.conftest import build_org, run


def test_it_sees_every_run_with_counts_errors_and_rejections(
    it_client: FlaskClient, dbs: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    build_org(standin, accounts=1)
    bad = standin.add("Account", Name="No number", AccountNumber=None)
    full = run(dbs, settings, full=True)
    standin.clock_offset = timedelta(seconds=5)
    standin.faults.server_errors = 100
    failed = run(dbs, settings)

    page = it_client.get("/it/salesforce/runs")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index(f'id="run-{failed.run_id}"') < html.index(f'id="run-{full.run_id}"')
    assert 'class="run-failed"' in html and 'class="run-succeeded"' in html
    assert "HTTP 500 UNKNOWN_EXCEPTION" in html
    assert f"Account {bad}: no account number (AccountNumber is empty)" in html
    assert 'id="salesforce-cursors"' in html
    dashboard = it_client.get("/it/", follow_redirects=True).get_data(as_text=True)
    assert '<a href="/it/salesforce/runs">Salesforce sync</a>' in dashboard  # in the console nav


def test_before_any_run_the_page_says_so(it_client: FlaskClient) -> None:
    html = it_client.get("/it/salesforce/runs").get_data(as_text=True)
    assert 'id="salesforce-no-runs"' in html


@pytest.mark.parametrize("who", ["admin_client", "user_client"])
def test_customers_get_403(request: pytest.FixtureRequest, who: str) -> None:
    client: FlaskClient = request.getfixturevalue(who)
    assert client.get("/it/salesforce/runs").status_code == 403
