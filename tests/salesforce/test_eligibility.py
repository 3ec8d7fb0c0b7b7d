"""Support eligibility from the Salesforce entitlements the sync keeps: boundary dates in
the account's time zone, statuses, no entitlement, Salesforce not connected; and the API
with the portal's machine token, IT's support:read token, and without either."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.api_tokens import create_token
from gateway.core.audit import Actor
from gateway.core.errors import NotFound
from gateway.core.models.base import utcnow
from gateway.core.models.salesforce import (
    SalesforceAccount,
    SalesforceAsset,
    SalesforceEntitlement,
)
from gateway.core.secret_keys import secret_keys
from gateway.core.settings import Settings, SettingsError, load_settings
from gateway.provider.clients import add_client
from gateway.salesforce.eligibility import support_eligibility
from tests import factories
from tests.conftest import SECRET
from tests.provider.test_machine_access import basic

# 23:30 UTC on 30 November: in Auckland (UTC+13) it is already 1 December, in Los
# Angeles (UTC-8) still 30 November, 15:30.
NOW = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
_ids = itertools.count(1)


def sf_id(prefix: str) -> str:
    return f"{prefix}5g0000{next(_ids):06d}AAA"  # 18 characters, as the API gives them


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"salesforce_login_url": "https://login.salesforce.test"}


@pytest.fixture
def customer(dbs: Session) -> str:
    """Account 300100 here and in Salesforce, and our NETGUARD and CLOUDVAULT lines."""
    factories.product_line(dbs, "NETGUARD")
    factories.product_line(dbs, "CLOUDVAULT")
    account = factories.account(dbs, "300100", "Alice's company")
    dbs.add(
        SalesforceAccount(
            id="0015g00000ALICEAAA",
            name=account.name,
            account_number="300100",
            account_id=account.id,
            system_modstamp=utcnow(),
        )
    )
    dbs.commit()
    return "300100"


def add_entitlement(
    db: Session,
    line: str,
    start: date | None,
    end: date | None,
    status: str = "Active",
    account: str = "0015g00000ALICEAAA",
) -> str:
    """A Salesforce entitlement on a new asset of `line` (as the sync would store it)."""
    asset = SalesforceAsset(
        id=sf_id("02i"), sf_account_id=account, product_line_code=line, system_modstamp=utcnow()
    )
    entitlement = SalesforceEntitlement(
        id=sf_id("550"),
        sf_account_id=account,
        sf_asset_id=asset.id,
        name=f"Premier support {line}",
        start_date=start,
        end_date=end,
        status=status,
        type="Phone Support",
        system_modstamp=utcnow(),
    )
    db.add_all([asset, entitlement])
    db.commit()
    return entitlement.id


def in_zone(settings: Settings, zone: str) -> Settings:
    return settings.model_copy(update={"support_default_time_zone": zone})


def judge(db: Session, settings: Settings, line: str = "NETGUARD", zone: str = "UTC") -> tuple:
    found = support_eligibility(db, "300100", line, now=NOW, settings=in_zone(settings, zone))
    return found.eligible, found.reason, found.entitlement and found.entitlement.id


TODAY = date(2026, 11, 30)  # in UTC at NOW


@pytest.mark.parametrize(
    ("start", "end", "eligible", "reason"),
    [
        (TODAY, date(2027, 3, 31), True, "covered until 2027-03-31"),  # starts today
        (date(2025, 12, 1), TODAY, True, "covered until 2026-11-30"),  # ends today
        (date(2025, 12, 1), TODAY - timedelta(days=1), False, "ended on 2026-11-29"),
        (TODAY + timedelta(days=1), date(2027, 11, 30), False, "starts on 2026-12-01"),
        (None, None, True, "covered with no end date"),
    ],
    ids=["starts-today", "ends-today", "ended-yesterday", "starts-tomorrow", "open-ended"],
)
def test_boundary_dates_are_inclusive_both_ends(
    dbs: Session,
    settings: Settings,
    customer: str,
    start: date | None,
    end: date | None,
    eligible: bool,
    reason: str,
) -> None:
    entitlement = add_entitlement(dbs, "NETGUARD", start, end)
    assert judge(dbs, settings) == (eligible, reason, entitlement)


def test_today_is_the_accounts_today_not_utcs(
    dbs: Session, settings: Settings, customer: str
) -> None:
    # Ends on 30 November: still covered in Los Angeles, already over in Auckland.
    ending = add_entitlement(dbs, "NETGUARD", date(2025, 12, 1), date(2026, 11, 30))
    # Starts on 1 December: already covered in Auckland, not yet in Los Angeles.
    starting = add_entitlement(dbs, "CLOUDVAULT", date(2026, 12, 1), date(2027, 11, 30))
    la, auckland = "America/Los_Angeles", "Pacific/Auckland"
    assert judge(dbs, settings, "NETGUARD", la) == (True, "covered until 2026-11-30", ending)
    assert judge(dbs, settings, "NETGUARD", auckland) == (False, "ended on 2026-11-30", ending)
    assert judge(dbs, settings, "CLOUDVAULT", la) == (False, "starts on 2026-12-01", starting)
    assert judge(dbs, settings, "CLOUDVAULT", auckland) == (
        True,
        "covered until 2027-11-30",
        starting,
    )
    found = support_eligibility(
        dbs, "300100", "NETGUARD", now=NOW, settings=in_zone(settings, auckland)
    )
    assert found.evaluated_on == date(2026, 12, 1)


def test_a_status_salesforce_did_not_derive_from_the_dates_refuses(
    dbs: Session, settings: Settings, customer: str
) -> None:
    suspended = add_entitlement(dbs, "NETGUARD", date(2025, 1, 1), date(2027, 1, 1), "Suspended")
    assert judge(dbs, settings) == (False, "inactive (status Suspended)", suspended)


def test_salesforces_own_status_yields_to_the_dates_in_the_accounts_zone(
    dbs: Session, settings: Settings, customer: str
) -> None:
    # Salesforce (its org in UTC) already calls it Expired; in Los Angeles it is the last day.
    expired = add_entitlement(dbs, "NETGUARD", date(2025, 12, 1), date(2026, 11, 30), "Expired")
    assert judge(dbs, settings, zone="America/Los_Angeles") == (
        True,
        "covered until 2026-11-30",
        expired,
    )


def test_the_covering_entitlement_governs_and_the_longest_wins(
    dbs: Session, settings: Settings, customer: str
) -> None:
    add_entitlement(dbs, "NETGUARD", date(2024, 1, 1), date(2025, 1, 1))
    add_entitlement(dbs, "NETGUARD", date(2025, 1, 1), date(2027, 1, 1), "Suspended")
    add_entitlement(dbs, "NETGUARD", date(2026, 1, 1), date(2026, 12, 31))
    longest = add_entitlement(dbs, "NETGUARD", date(2026, 6, 1), date(2028, 5, 31))
    assert judge(dbs, settings) == (True, "covered until 2028-05-31", longest)


def test_no_entitlement_for_the_line_and_another_accounts_do_not_count(
    dbs: Session, settings: Settings, customer: str
) -> None:
    dbs.add(
        SalesforceAccount(
            id="0015g00000OTHERAAA",
            name="Someone else",
            account_number="300200",
            system_modstamp=utcnow(),
        )
    )
    dbs.commit()
    add_entitlement(dbs, "NETGUARD", None, None, account="0015g00000OTHERAAA")
    add_entitlement(dbs, "CLOUDVAULT", None, None)
    assert judge(dbs, settings) == (False, "no Salesforce entitlement for this line", None)


def test_unknown_account_or_line_is_not_found(
    dbs: Session, settings: Settings, customer: str
) -> None:
    with pytest.raises(NotFound):
        support_eligibility(dbs, "999999", "NETGUARD", now=NOW, settings=settings)
    with pytest.raises(NotFound):
        support_eligibility(dbs, "300100", "NOSUCHLINE", now=NOW, settings=settings)


def test_salesforce_not_connected(dbs: Session, settings: Settings, customer: str) -> None:
    add_entitlement(dbs, "NETGUARD", None, None)
    unconnected = settings.model_copy(update={"salesforce_login_url": None})
    found = support_eligibility(dbs, "300100", "NETGUARD", now=NOW, settings=unconnected)
    assert (found.eligible, found.reason, found.entitlement) == (
        False,
        "Salesforce not connected",
        None,
    )


def test_the_default_time_zone_must_be_an_iana_name(settings: Settings) -> None:
    assert load_settings(support_default_time_zone="Pacific/Auckland")
    for bad in ("Mars/Olympus_Mons", "America", "../etc/passwd"):
        with pytest.raises(SettingsError) as raised:
            load_settings(support_default_time_zone=bad)
        message = str(raised.value)
        assert "GATEWAY_SUPPORT_DEFAULT_TIME_ZONE" in message
        assert "\n" not in message


# The API.

PATH = "/api/v1/support/eligibility"


def machine_token(client: FlaskClient, dbs: Session, accounts: list[str] | None = None) -> str:
    portal = add_client(
        dbs,
        name="Community portal",
        redirect_uris=[],
        actor="test",
        secret_key=SECRET,
        grant_types=("client_credentials",),
        scope="entitlements:read",
        account_numbers=accounts,
    )
    dbs.commit()
    reply = client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials", "scope": "entitlements:read"},
        headers=basic(portal.client_id, portal.client_secret or ""),
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return str(reply.get_json()["access_token"])


def it_token(app: Flask, dbs: Session, scopes: list[str]) -> str:
    return create_token(
        dbs,
        f"support-{'-'.join(scopes)}".replace(":", "-"),
        scopes,
        actor=Actor("test", None),
        now=utcnow(),
        hash_key=secret_keys(app).api_token,
    ).secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_portal_asks_with_its_machine_token(
    client: FlaskClient, dbs: Session, customer: str
) -> None:
    today = datetime.now(UTC).date()
    entitlement = add_entitlement(
        dbs, "NETGUARD", today - timedelta(days=10), today + timedelta(days=100)
    )
    reply = client.get(
        PATH,
        query_string={"account": "300100", "product_line": "NETGUARD"},
        headers=bearer(machine_token(client, dbs)),
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json() == {
        "eligible": True,
        "reason": f"covered until {(today + timedelta(days=100)).isoformat()}",
        "entitlement": {
            "id": entitlement,
            "start_date": (today - timedelta(days=10)).isoformat(),
            "end_date": (today + timedelta(days=100)).isoformat(),
            "status": "Active",
            "type": "Phone Support",
            "product_line": "NETGUARD",
        },
        "evaluated_on": today.isoformat(),
    }
    reply = client.get(
        PATH,
        query_string={"account": "300100", "product_line": "CLOUDVAULT"},
        headers=bearer(machine_token(client, dbs)),
    )
    assert reply.get_json()["entitlement"] is None
    assert reply.get_json()["reason"] == "no Salesforce entitlement for this line"


def test_it_support_read_token_may_ask_and_other_it_scopes_may_not(
    app: Flask, client: FlaskClient, dbs: Session, customer: str
) -> None:
    query = {"account": "300100", "product_line": "NETGUARD"}
    reply = client.get(
        PATH, query_string=query, headers=bearer(it_token(app, dbs, ["support:read"]))
    )
    assert reply.status_code == 200
    assert reply.get_json()["eligible"] is False
    reply = client.get(
        PATH, query_string=query, headers=bearer(it_token(app, dbs, ["rollout:read"]))
    )
    assert reply.status_code == 403
    assert reply.mimetype == "application/problem+json"


def test_without_a_good_token_the_answer_is_401(client: FlaskClient, customer: str) -> None:
    query = {"account": "300100", "product_line": "NETGUARD"}
    for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic eDp5"}):
        reply = client.get(PATH, query_string=query, headers=headers)
        assert reply.status_code == 401, headers
        assert reply.mimetype == "application/problem+json"
        assert "eligible" not in reply.get_data(as_text=True)


def test_a_machine_token_without_the_scope_is_403(
    client: FlaskClient, dbs: Session, customer: str
) -> None:
    portal = add_client(
        dbs,
        name="Some other client",
        redirect_uris=[],
        actor="test",
        secret_key=SECRET,
        grant_types=("client_credentials",),
        scope="openid",
    )
    dbs.commit()
    reply = client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials", "scope": "openid"},
        headers=basic(portal.client_id, portal.client_secret or ""),
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    token = reply.get_json()["access_token"]
    reply = client.get(
        PATH,
        query_string={"account": "300100", "product_line": "NETGUARD"},
        headers=bearer(token),
    )
    assert reply.status_code == 403


def test_a_client_limited_to_other_accounts_sees_no_such_account(
    client: FlaskClient, dbs: Session, customer: str
) -> None:
    factories.account(dbs, "300200", "Bob's company")
    add_entitlement(dbs, "NETGUARD", None, None)
    token = machine_token(client, dbs, accounts=["300200"])
    mine = client.get(
        PATH, query_string={"account": "300200", "product_line": "NETGUARD"}, headers=bearer(token)
    )
    assert mine.status_code == 200
    theirs = client.get(
        PATH, query_string={"account": "300100", "product_line": "NETGUARD"}, headers=bearer(token)
    )
    unknown = client.get(
        PATH, query_string={"account": "999999", "product_line": "NETGUARD"}, headers=bearer(token)
    )
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.get_json()["detail"] == "No account 300100."
    assert "eligible" not in theirs.get_data(as_text=True)


def test_unknown_line_or_account_is_a_problem_404(
    client: FlaskClient, dbs: Session, customer: str
) -> None:
    token = machine_token(client, dbs)
    for query in (
        {"account": "300100", "product_line": "NOSUCHLINE"},
        {"account": "999999", "product_line": "NETGUARD"},
    ):
        reply = client.get(PATH, query_string=query, headers=bearer(token))
        assert reply.status_code == 404, query
        assert reply.mimetype == "application/problem+json"
    missing = client.get(PATH, query_string={"account": "300100"}, headers=bearer(token))
    assert missing.status_code == 422


def test_the_operation_is_in_the_openapi_document(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"][PATH]["get"]
    assert operation["security"] == [{"machineToken": ["entitlements:read"]}]
    assert {p["name"] for p in operation["parameters"]} == {"account", "product_line"}
    assert "SupportEligibility" in document["components"]["schemas"]
