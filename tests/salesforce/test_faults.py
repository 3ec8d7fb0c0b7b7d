"""Faults: limit storms (403 REQUEST_LIMIT_EXCEEDED), 500s, dropped connections, stalled
responses and expired sessions are retried within a bound; past it the run fails,
recorded, with nothing half-applied and the cursors where they were."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models.salesforce import SalesforceAsset, SalesforceCursor, SalesforceSyncRun
from gateway.core.settings import Settings
from gateway.devidp.salesforce import SalesforceStandIn
from gateway.salesforce.client import SalesforceClient
from tests.salesforce.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    Keys,
    Org,
    build_org,
    clean_full_load,
    run,
    salesforce_settings,
    tables,
)


@pytest.fixture
def synced(directory: Session, settings: Settings, standin: SalesforceStandIn) -> Org:
    """A full load done, then changes in Salesforce for the next incremental run."""
    org = build_org(standin, accounts=3, assets_each=4)
    assert run(directory, settings, full=True).state == "succeeded"
    standin.clock_offset = timedelta(seconds=5)
    standin.change("Asset", org.assets["101100/0"], Quantity=7.0)
    standin.delete("Entitlement", org.entitlements["102100/1"])
    standin.requests_log.clear()
    return org


def incremental(db: Session, settings: Settings) -> tuple[Any, SalesforceClient]:
    client = SalesforceClient(settings)
    return run(db, settings, client=client), client


@pytest.mark.parametrize(
    "fault",
    ["limit_errors", "server_errors", "dropped_connections", "stalled_responses"],
)
def test_a_passing_fault_is_retried_and_the_run_succeeds(
    directory: Session,
    settings: Settings,
    standin: SalesforceStandIn,
    synced: Org,
    fault: str,
) -> None:
    if fault == "stalled_responses":
        settings = settings.model_copy(update={"salesforce_timeout_seconds": 0.3})
    if fault == "dropped_connections":
        # The first REST page is the third request: server time, then sign-in is not an
        # API request, then the Account query. Cut it half way through its body.
        setattr(standin.faults, fault, 1)
    else:
        setattr(standin.faults, fault, 2)

    summary, client = incremental(directory, settings)

    assert summary.state == "succeeded", summary.lines()
    assert client.retries == (1 if fault == "dropped_connections" else 2)
    assert (summary.counts.updated, summary.counts.deleted) == (1, 1)
    assert tables(directory) == clean_full_load(directory, settings)


@pytest.mark.parametrize(
    ("fault", "reported"),
    [
        ("limit_errors", "HTTP 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."),
        ("server_errors", "HTTP 500 UNKNOWN_EXCEPTION"),
        ("dropped_connections", "the connection dropped"),
    ],
)
def test_a_lasting_fault_fails_the_run_with_nothing_half_applied(
    directory: Session,
    settings: Settings,
    standin: SalesforceStandIn,
    synced: Org,
    fault: str,
    reported: str,
) -> None:
    before, cursors = tables(directory), list(directory.scalars(select(SalesforceCursor)))
    # Fail from the Asset query on: Account's changes were read, and must not be applied.
    standin.at_request(4, lambda: setattr(standin.faults, fault, 1000))

    summary, client = incremental(directory, settings)

    assert summary.state == "failed"
    assert reported in summary.error
    assert "gave up after 4 attempts" in summary.error
    assert client.retries == 3
    assert tables(directory) == before
    directory.expire_all()
    assert [(c.object, c.cursor) for c in directory.scalars(select(SalesforceCursor))] == [
        (c.object, c.cursor) for c in cursors
    ]
    recorded = directory.get(SalesforceSyncRun, summary.run_id)
    assert recorded is not None
    assert (recorded.state, recorded.finished_at is not None) == ("failed", True)
    assert reported in recorded.error
    assert any(line.startswith("error: ") for line in summary.lines())

    setattr(standin.faults, fault, 0)
    again = run(directory, settings)
    assert (again.state, again.counts.updated, again.counts.deleted) == ("succeeded", 1, 1)


def test_a_full_load_that_fails_keeps_its_whole_pages_and_the_old_cursors(
    directory: Session, settings: Settings, standin: SalesforceStandIn, synced: Org
) -> None:
    cursors_before = {c.object: c.cursor for c in directory.scalars(select(SalesforceCursor))}
    # Request 6 is the Asset job's creation: Accounts are loaded and committed by then.
    standin.at_request(6, lambda: setattr(standin.faults, "server_errors", 1000))
    summary = run(directory, settings, full=True)
    assert summary.state == "failed"
    directory.expire_all()
    assert {c.object: c.cursor for c in directory.scalars(select(SalesforceCursor))} == (
        cursors_before
    )
    asset = directory.get(SalesforceAsset, synced.assets["101100/0"])
    assert asset is not None and asset.quantity == Decimal("1000.00")  # Assets not reached

    standin.faults.server_errors = 0
    assert run(directory, settings).state == "succeeded"
    assert tables(directory) == clean_full_load(directory, settings)


def test_an_expired_session_signs_in_again_once(
    directory: Session, settings: Settings, standin: SalesforceStandIn, synced: Org
) -> None:
    issued = standin.tokens_issued
    standin.faults.expire_sessions_after = 3  # mid-run, between REST pages

    summary, client = incremental(directory, settings)

    assert summary.state == "succeeded", summary.lines()
    assert (client.sign_ins, standin.tokens_issued - issued) == (2, 2)
    assert (summary.counts.updated, summary.counts.deleted) == (1, 1)


def test_a_session_that_expires_again_right_after_signing_in_fails_the_run(
    directory: Session, settings: Settings, standin: SalesforceStandIn, synced: Org
) -> None:
    before = tables(directory)

    def expire_every_session() -> None:
        standin.tokens.clear()
        standin.at_request(1, expire_every_session)

    standin.at_request(2, expire_every_session)

    summary, client = incremental(directory, settings)

    assert summary.state == "failed"
    assert "INVALID_SESSION_ID" in summary.error
    assert "again, right after signing in again" in summary.error
    assert client.sign_ins == 2
    assert tables(directory) == before


def test_a_field_salesforce_does_not_know_fails_the_run_without_retrying(
    directory: Session, settings: Settings, standin: SalesforceStandIn, synced: Org
) -> None:
    wrong = settings.model_copy(update={"salesforce_unit_field": "Unit__c"})
    summary, client = incremental(directory, wrong)
    assert summary.state == "failed"
    assert "HTTP 400 INVALID_FIELD: No such column 'Unit__c' on entity 'Asset'" in summary.error
    assert client.retries == 0


def test_client_credentials_sign_in(
    directory: Session, settings: Settings, standin: SalesforceStandIn, keys: Keys
) -> None:
    build_org(standin, accounts=1)
    values = {
        **salesforce_settings(standin, keys),
        "salesforce_consumer_key": None,
        "salesforce_username": None,
        "salesforce_private_key_file": None,
        "salesforce_client_id": CLIENT_ID,
        "salesforce_client_secret": CLIENT_SECRET,
    }
    credentials = Settings(**{**settings.model_dump(), **values})
    assert credentials.salesforce_auth == "client-credentials"
    assert run(directory, credentials, full=True).state == "succeeded"

    wrong = credentials.model_copy(update={"salesforce_client_secret": "not-the-secret"})
    failed = run(directory, wrong)
    assert failed.state == "failed"
    assert "refused the sign-in (client-credentials): invalid_client" in failed.error


def test_a_jwt_signed_by_another_key_is_refused(
    directory: Session,
    settings: Settings,
    standin: SalesforceStandIn,
    tmp_path: Any,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "other.pem"
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    summary = run(directory, settings.model_copy(update={"salesforce_private_key_file": path}))
    assert summary.state == "failed"
    assert "refused the sign-in (jwt-bearer): invalid_grant" in summary.error
    assert standin.tokens_issued == 0


def test_the_standin_checks_the_assertion_claims(standin: SalesforceStandIn, keys: Keys) -> None:
    """The stand-in is strict where Salesforce is: a wrong audience or user is refused."""
    import jwt

    key = keys.private_key_file.read_text()
    token_url = f"{standin.url}/services/oauth2/token"
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    base = {"iss": "3MVG9standin.consumer.key", "sub": "integration@vendor.example"}
    for claims, expected in (
        ({**base, "aud": "https://login.salesforce.com", "exp": 4102444800}, "invalid_grant"),
        ({**base, "aud": standin.url, "sub": "someone@else", "exp": 4102444800}, "invalid_grant"),
        ({**base, "aud": standin.url, "exp": 1000}, "invalid_grant"),
        ({**base, "aud": standin.url}, "invalid_grant"),
    ):
        answer = requests.post(
            token_url,
            data={"grant_type": grant, "assertion": jwt.encode(claims, key, "RS256")},
            verify=str(standin.ca_file),
            timeout=5,
        )
        assert (answer.status_code, answer.json()["error"]) == (400, expected)
    good = {**base, "aud": standin.url, "exp": 4102444800}
    answer = requests.post(
        token_url,
        data={"grant_type": grant, "assertion": jwt.encode(good, key, "RS256")},
        verify=str(standin.ca_file),
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["instance_url"] == standin.url


def test_the_standin_answers_malformed_soql_as_salesforce_does(
    standin: SalesforceStandIn, settings: Settings
) -> None:
    client = SalesforceClient(settings)
    salesforce = client.salesforce()
    answer = requests.get(
        f"{salesforce.base_url}query/",
        params={"q": "SELECT Id FROM Account WHERE Name LIKE 'A%'"},
        headers=salesforce.headers,
        verify=str(standin.ca_file),
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "MALFORMED_QUERY"
    unauthorised = requests.get(
        f"{salesforce.base_url}query/",
        params={"q": "SELECT Id FROM Account"},
        headers={"Authorization": "Bearer nope"},
        verify=str(standin.ca_file),
        timeout=5,
    )
    assert unauthorised.status_code == 401
    assert unauthorised.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_a_bulk_results_page_cut_off_is_read_again_by_its_locator(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    build_org(standin, accounts=2, assets_each=30)  # Assets: 3 pages of 25
    standin.at_request(7, lambda: setattr(standin.faults, "dropped_connections", 1))
    client = SalesforceClient(settings)
    summary = run(directory, settings, full=True, client=client)
    assert summary.state == "succeeded", summary.lines()
    assert client.retries == 1
    assert sum(r.startswith("POST") for r in standin.requests_log) == 3  # no job started over
    results = [r for r in standin.requests_log if "/results" in r]
    assert len(results) == len(set(results)) + 1  # one page asked for twice, by its locator
    assert summary.counts.created == 2 + 60 + 60


def test_a_failed_bulk_job_fails_the_run_with_its_message(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    build_org(standin, accounts=1)
    standin.faults.failed_jobs = 1
    summary = run(directory, settings, full=True)
    assert summary.state == "failed"
    assert "Failed: InternalServerError: the query could not be completed" in summary.error


def test_a_certificate_we_do_not_trust_fails_at_once(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    untrusted = settings.model_copy(update={"salesforce_ca_file": None})
    client = SalesforceClient(untrusted)
    summary = run(directory, untrusted, client=client)
    assert summary.state == "failed"
    assert "sign-in: TLS failed (GATEWAY_SALESFORCE_CA_FILE?)" in summary.error
    assert "CERTIFICATE_VERIFY_FAILED" in summary.error
    assert (client.retries, standin.tokens_issued) == (0, 0)
