"""The sync keeps each Account's time zone from the field GATEWAY_SALESFORCE_TIME_ZONE_FIELD
names, and support eligibility judges that account's today in it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from gateway.core.models.salesforce import SalesforceAccount
from gateway.core.settings import Settings, SettingsError, load_settings
from gateway.salesforce.eligibility import support_eligibility
from tests.salesforce.conftest import run
from tests.salesforce_standin import SalesforceStandIn

# 23:30 UTC on 30 November: 1 December in Auckland, still 30 November in Los Angeles.
NOW = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


def test_each_account_is_judged_in_its_own_time_zone(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    auckland = standin.add(
        "Account", Name="Kiwi", AccountNumber="101100", Time_Zone__c="Pacific/Auckland"
    )
    unzoned = standin.add("Account", Name="Plain", AccountNumber="102100", Time_Zone__c="Mars")
    for account in (auckland, unzoned):
        asset = standin.add("Asset", AccountId=account, **{"Product2.Family": "NETGUARD"})
        standin.add(
            "Entitlement",
            AccountId=account,
            AssetId=asset,
            StartDate=date(2025, 12, 1),
            EndDate=date(2026, 11, 30),
            Status="Active",
        )
    mapped = settings.model_copy(
        update={
            "salesforce_time_zone_field": "Time_Zone__c",
            "support_default_time_zone": "America/Los_Angeles",
        }
    )
    assert run(directory, mapped, full=True).state == "succeeded"
    stored = directory.get(SalesforceAccount, auckland)
    assert stored is not None and stored.time_zone == "Pacific/Auckland"

    kiwi = support_eligibility(directory, "101100", "NETGUARD", now=NOW, settings=mapped)
    assert (kiwi.eligible, kiwi.reason, kiwi.evaluated_on) == (
        False,
        "ended on 2026-11-30",
        date(2026, 12, 1),
    )
    # "Mars" is no zone: the default (Los Angeles), where it is still the last day.
    plain = support_eligibility(directory, "102100", "NETGUARD", now=NOW, settings=mapped)
    assert (plain.eligible, plain.evaluated_on) == (True, date(2026, 11, 30))

    # The account moves to Los Angeles in Salesforce: the next incremental run keeps that.
    standin.clock_offset = timedelta(seconds=5)
    standin.change("Account", auckland, Time_Zone__c="America/Los_Angeles")
    assert run(directory, mapped).counts.updated == 1
    directory.expire_all()
    moved = support_eligibility(directory, "101100", "NETGUARD", now=NOW, settings=mapped)
    assert (moved.eligible, moved.evaluated_on) == (True, date(2026, 11, 30))


def test_without_the_setting_no_time_zone_is_read(
    directory: Session, settings: Settings, standin: SalesforceStandIn
) -> None:
    account = standin.add(
        "Account", Name="Kiwi", AccountNumber="101100", Time_Zone__c="Pacific/Auckland"
    )
    assert run(directory, settings, full=True).state == "succeeded"
    stored = directory.get(SalesforceAccount, account)
    assert stored is not None and stored.time_zone is None
    assert not any("Time_Zone__c" in r for r in standin.requests_log)


def test_the_time_zone_field_must_be_a_field_name() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(salesforce_time_zone_field="Time Zone; DROP")
    assert "GATEWAY_SALESFORCE_TIME_ZONE_FIELD" in str(raised.value)
    assert load_settings(salesforce_time_zone_field="Time_Zone__c")
