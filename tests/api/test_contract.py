"""The live app keeps the promises of /api/v1/openapi.json: schemathesis generates valid
and invalid requests for every operation from the served document and checks every
answer (no 5xx, declared status codes, content types, headers and schemas, invalid
data refused, valid data accepted, 405 with Allow for undeclared methods).

Each operation is one test with real credentials made through the real code paths
(an IT API token, a portal machine client's client_credentials token, a SAML sign-in
for /api/v1/me), against a seeded directory so that valid requests reach real
product lines and accounts. Each gets a fresh app, and its database and store are
emptied afterwards, so what one operation changed cannot reach another test.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy.orm import Session

from gateway.api_document import openapi_document
from gateway.app import SESSION_COOKIE
from gateway.core.api_tokens import create_account_token, create_token
from gateway.core.secret_keys import secret_keys
from gateway.core.store import get_store
from gateway.migration.service import set_override
from tests.conftest import https_client
from tests.it_console import ACTOR, IT_GROUP, NOW
from tests.provider.test_machine_access import portal_token
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

# Bounded so one pass takes about a minute on a loaded 2-core machine; the seed and
# deterministic generation keep CI's cases the same from run to run.
MAX_EXAMPLES = 20
SEED = 20261201
# A valid request may still be refused for a reason no schema can say (the line
# changed since the preview: 409; a rollout without a percent, a time in the past,
# a percent with three decimals: 422). 400 is not here: a body the document calls
# valid must never be called malformed.
ACCEPTED_FOR_VALID_DATA = ["2xx", "401", "403", "404", "409", "422"]
LINES = ("NET", "CAD")
ACCOUNTS = ("100001", "100002", "100003", "100004")
# schemathesis' WSGI transport files the cookies it sends under `localhost`.
API_BASE_URL = "https://localhost"


def seed(app: Flask, dbs: Session) -> None:
    """Overrides on the world's lines and accounts, so that removing one can succeed."""
    for code in LINES:
        for number in ACCOUNTS:
            set_override(
                dbs, get_store(app), code, number, "legacy", reason="seed", actor=ACTOR, now=NOW
            )


@pytest.fixture
def it_token(app: Flask, dbs: Session, world: World) -> str:
    """An IT API token with every scope, made as `gateway api-token create` makes it."""
    seed(app, dbs)
    scopes = ["rollout:read", "rollout:write", "support:read"]
    hash_key = secret_keys(app).api_token
    return create_token(
        dbs, "contract-test", scopes, actor=ACTOR, now=NOW, hash_key=hash_key
    ).secret


@pytest.fixture
def account_token(app: Flask, dbs: Session, it_token: str) -> str:
    """Organisation 100001's token for its users, as its org admin makes it."""
    return create_account_token(
        dbs,
        "100001",
        "users",
        actor=ACTOR,
        now=datetime.now(UTC),
        hash_key=secret_keys(app).api_token,
    ).secret


@pytest.fixture
def machine_token(app: Flask, dbs: Session, it_token: str) -> str:
    """The portal server's access token, from client_credentials at /oidc/token."""
    return portal_token(https_client(app), dbs)


@pytest.fixture
def session_cookie(app: Flask, idp: PortalIdP, it_token: str) -> str:
    """IT staff's session after a real signed SAML sign-in."""
    browser = https_client(app)
    sign_in(browser, idp, email="it@vendor.example", account="VENDOR-1", groups=(IT_GROUP,))
    cookie = browser.get_cookie(SESSION_COOKIE, domain="sso.test")
    assert cookie is not None
    return cookie.value


def authenticate(case: schemathesis.Case, request: pytest.FixtureRequest) -> None:
    """Put real credentials where the generated case carries credentials of its own.

    schemathesis makes the bearer and cookie schemes into parameters: a case that sends
    an Authorization header or the session cookie gets the real value in its place,
    and a case that leaves them out (to see the 401) keeps leaving them out.
    """
    if case.cookies and SESSION_COOKIE in case.cookies:
        case.cookies[SESSION_COOKIE] = request.getfixturevalue("session_cookie")
    if case.operation.path.startswith("/api/v1/accounts/{account}/users"):
        # The organisation's own token (another account's users are a 404).
        if case.headers and "Authorization" in case.headers:
            case.headers["Authorization"] = f"Bearer {request.getfixturevalue('account_token')}"
    elif case.operation.path.startswith("/api/v1/accounts/"):
        # An OAuth 2 scheme is no parameter to schemathesis: the portal always sends it.
        token = request.getfixturevalue("machine_token")
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    elif case.headers and "Authorization" in case.headers:
        case.headers["Authorization"] = f"Bearer {request.getfixturevalue('it_token')}"


def contract_config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_FOR_VALID_DATA}},
            # Valid values come from the seeded directory most of the time.
            "dictionaries": {
                "lines": {"values": list(LINES)},
                "accounts": {"values": list(ACCOUNTS)},
                "systems": {"values": ["legacy", "new"]},
                "future": {"values": ["2099-01-15T06:00:00Z", "2098-06-30T12:00:00+02:00"]},
                "people": {"values": ["pat@ready.example", "100001", "100003"]},
            },
            "parameters": {
                "path.code": {"dictionary": "lines", "probability": 0.7},
                "path.account": {"dictionary": "accounts", "probability": 0.7},
                "path.account_number": {"dictionary": "accounts", "probability": 0.7},
                "path.key": {"dictionary": "systems", "probability": 0.7},
                "body.product_line": {"dictionary": "lines", "probability": 0.7},
                "body.run_at": {"dictionary": "future", "probability": 0.5},
                "query.q": {"dictionary": "people", "probability": 0.7},
            },
        }
    )


# The document is plain data (no app, no I/O), so pytest can make one test per
# operation from it; test_served_document_is_the_one_tested checks the app serves it.
schema = schemathesis.openapi.from_dict(openapi_document(), config=contract_config())


def test_served_document_is_the_one_tested(app: Flask) -> None:
    assert https_client(app).get("/api/v1/openapi.json").get_json() == openapi_document()


@schema.parametrize()
# One app serves all of an operation's examples on purpose: they run against the same
# seeded data, which the app fixture empties once the operation is done.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_the_live_api_keeps_its_documented_contract(
    case: schemathesis.Case, app: Flask, it_token: str, request: pytest.FixtureRequest
) -> None:
    # This operation's fresh app, for its requests and for the checks' own requests.
    case.operation.schema.app = case.operation.app = app
    authenticate(case, request)
    case.call_and_validate(base_url=API_BASE_URL)
