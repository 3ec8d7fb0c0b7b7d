"""/metrics: counts move with real sign-ins, routing, hand-offs and token exchanges,
read back with prometheus_client's own text parser; the endpoint is not public."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gateway.core import db
from gateway.core.models import Account
from gateway.core.settings import Settings
from gateway.migration.scheduler import start_scheduler
from gateway.provider.clients import add_client
from tests import factories
from tests.conftest import SECRET, make_app
from tests.provider.conftest import REDIRECT_URI, AuthorizationAttempt, RelyingParty
from tests.saml_idp import PortalIdP
from tests.signin import sign_in

TOKEN = "metrics-token-for-tests-0123456789abcdef"
EMAIL = "pat@acme.example"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"metrics_token": TOKEN}


def scrape(client: FlaskClient) -> Samples:
    reply = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200
    assert reply.content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.get_data(as_text=True))
        for sample in family.samples
    }


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.fixture
def account(dbs: Session) -> Account:
    legacy = factories.system(dbs, "legacy")
    row = factories.account(dbs, "ACME-1", "Acme Corp")
    factories.entitlement(dbs, row, factories.product_line(dbs, "NETGUARD"), [legacy])
    return row


@pytest.fixture
def rp(dbs: Session, account: Account) -> RelyingParty:
    new = add_client(
        dbs,
        name="Legacy license center",
        redirect_uris=[REDIRECT_URI],
        actor="test",
        secret_key=SECRET,
        initiate_login_uri="https://legacy.licenses.test/oidc/login",
        system_key="legacy",
    )
    assert new.client_secret
    return RelyingParty(new.client_id, new.client_secret)


def test_signin_routing_handoff_and_tokens_are_counted(
    client: FlaskClient, idp: PortalIdP, rp: RelyingParty
) -> None:
    before = scrape(client)
    signed_in = sign_in(client, idp, email=EMAIL, account="ACME-1")
    assert signed_in.status_code == 302
    assert signed_in.location.startswith("https://legacy.licenses.test/")
    attempt = AuthorizationAttempt()
    code = rp.code_from(rp.authorize(client, attempt), attempt)
    assert rp.redeem(client, code, attempt).status_code == 200
    assert rp.redeem(client, code, attempt).status_code == 400  # a code works once
    refused = idp.post(client, idp.response_xml(idp.spec(email=EMAIL, account="ACME-1")))
    assert refused.status_code == 400  # unsolicited
    after = scrape(client)

    assert moved(before, after, "gateway_signins_total", method="saml", result="success") == 1
    assert moved(before, after, "gateway_signins_total", method="saml", result="refused") == 1
    decision = {"kind": "system", "system": "legacy"}
    assert moved(before, after, "gateway_routing_decisions_total", **decision) == 1
    assert moved(before, after, "gateway_handoffs_total", system="legacy") == 1
    code_grant = {"grant": "authorization_code"}
    assert moved(before, after, "gateway_token_requests_total", **code_grant, result="ok") == 1
    replayed = {**code_grant, "result": "invalid_grant"}
    assert moved(before, after, "gateway_token_requests_total", **replayed) == 1
    acs = {"endpoint": "sso.acs"}
    assert moved(before, after, "gateway_request_duration_seconds_count", **acs) == 2
    assert moved(before, after, "gateway_request_duration_seconds_sum", **acs) > 0
    assert moved(before, after, "gateway_http_responses_total", **acs, code="4xx") == 1


def test_dependency_errors_are_counted_by_part(settings: Settings) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"}))
    client = app.test_client()
    before = scrape(client)
    assert client.get("/saml/login").status_code == 503
    after = scrape(client)
    assert moved(before, after, "gateway_dependency_errors_total", part="redis") == 1
    db.engine_of(app).dispose()


def test_metrics_need_the_bearer_token(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    wrong = {"Authorization": f"Bearer {TOKEN[:-1]}x"}
    assert client.get("/metrics", headers=wrong).status_code == 401
    basic = {"Authorization": f"Basic {TOKEN}"}
    assert client.get("/metrics", headers=basic).status_code == 401


def test_metrics_are_not_served_without_a_token_setting(app: Flask) -> None:
    settings = app.extensions["settings"].model_copy(update={"metrics_token": None})
    plain = make_app(settings)
    reply = plain.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 404


def test_scheduler_rounds_are_counted(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    """The round the scheduler thread runs each interval, run here once by hand."""
    scheduler = start_scheduler(app, interval=3600)
    scheduler.stop()
    broken_app = make_app(
        app.extensions["settings"].model_copy(
            update={"database_url": f"sqlite:///{tmp_path / 'missing' / 'gateway.db'}"}
        )
    )
    broken = start_scheduler(broken_app, interval=3600)
    broken.stop()
    before = scrape(client)
    scheduler._work()
    with pytest.raises(OperationalError):
        broken._work()
    after = scrape(client)
    assert moved(before, after, "gateway_scheduler_runs_total", result="ok") == 1
    assert moved(before, after, "gateway_scheduler_runs_total", result="error") == 1
    db.engine_of(broken_app).dispose()
