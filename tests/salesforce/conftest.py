"""The stand-in Salesforce (gateway/devidp/salesforce.py) with keys made here, settings
that point the gateway at it, a small org, and comparisons with a clean full load."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.core.models.salesforce import (
    SalesforceAccount,
    SalesforceAsset,
    SalesforceCursor,
    SalesforceEntitlement,
)
from gateway.core.settings import Settings
from gateway.devidp.salesforce import SalesforceStandIn
from gateway.salesforce.service import RunSummary, sync
from tests import factories
from tests.it_console import admin_client, it_client, user_client

CONSUMER_KEY = "3MVG9standin.consumer.key"
USERNAME = "integration@vendor.example"
CLIENT_ID = "3MVG9standin.client"
CLIENT_SECRET = "standin-client-secret-0123456789"
DATA_TABLES = (SalesforceAccount, SalesforceAsset, SalesforceEntitlement)
__all__ = ["admin_client", "it_client", "user_client"]


@dataclass(frozen=True)
class Keys:
    private_key_file: Path
    public_key: rsa.RSAPublicKey


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("salesforce") / "jwt-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Keys(path, key.public_key())


@pytest.fixture
def standin(tmp_path: Path, keys: Keys) -> Iterator[SalesforceStandIn]:
    server = SalesforceStandIn(
        tmp_path,
        consumer_key=CONSUMER_KEY,
        username=USERNAME,
        public_key=keys.public_key,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        custom_fields={
            "Account": ("Portal_Account__c", "Time_Zone__c"),
            "Asset": ("Product_Line__c", "UoM__c"),
        },
    )
    server.start()
    yield server
    server.stop()


def salesforce_settings(standin: SalesforceStandIn, keys: Keys) -> dict[str, Any]:
    """The gateway pointed at the stand-in, with the JWT bearer flow and quick retries."""
    return {
        "salesforce_login_url": standin.url,
        "salesforce_ca_file": standin.ca_file,
        "salesforce_consumer_key": CONSUMER_KEY,
        "salesforce_username": USERNAME,
        "salesforce_private_key_file": keys.private_key_file,
        "salesforce_attempts": 4,
        "salesforce_retry_seconds": 0.001,
        "salesforce_max_backoff_seconds": 0.01,
        "salesforce_timeout_seconds": 2.0,
        "salesforce_bulk_poll_seconds": 0,
        "salesforce_bulk_page_records": 25,
    }


@pytest.fixture
def settings_overrides(standin: SalesforceStandIn, keys: Keys) -> dict[str, object]:
    return salesforce_settings(standin, keys)


@dataclass
class Org:
    """What the small org holds, by name."""

    accounts: dict[str, str]
    assets: dict[str, str]
    entitlements: dict[str, str]


def build_org(standin: SalesforceStandIn, accounts: int = 3, assets_each: int = 2) -> Org:
    """`accounts` accounts numbered 100100, 100200, …, each with assets and one
    entitlement per asset; products in the NETGUARD and CLOUDVAULT lines."""
    org = Org({}, {}, {})
    for a in range(accounts):
        number = f"1{a + 1:02d}100"
        account = standin.add("Account", Name=f"Customer {number}", AccountNumber=number)
        org.accounts[number] = account
        for n in range(assets_each):
            line = ("NETGUARD", "CLOUDVAULT")[n % 2]
            asset = standin.add(
                "Asset",
                AccountId=account,
                Name=f"{line} for {number}",
                **{
                    "Product2.Name": f"{line.title()} Server",
                    "Product2.ProductCode": f"{line[:3]}-{n}",
                    "Product2.Family": line,
                },
                Quantity=1000.0 * (n + 1),
                Unit_of_Measure__c=("endpoint", "revenue")[n % 2],
                InstallDate=date(2025, 1, 1),
                UsageEndDate=date(2027, 1, 1),
                Status="Installed",
            )
            org.assets[f"{number}/{n}"] = asset
            org.entitlements[f"{number}/{n}"] = standin.add(
                "Entitlement",
                AccountId=account,
                AssetId=asset,
                Name=f"Premier support {number}/{n}",
                StartDate=date(2025, 1, 1),
                EndDate=date(2026, 12, 31),
                Status="Active",
                Type="Phone Support",
            )
    return org


@pytest.fixture
def directory(dbs: Session) -> Session:
    """Our side: two product lines and the first two accounts (the third is unknown here)."""
    factories.product_line(dbs, "NETGUARD", "legacy")
    factories.product_line(dbs, "CLOUDVAULT", "new")
    factories.account(dbs, "101100", "Customer 101100")
    factories.account(dbs, "102100", "Customer 102100")
    dbs.commit()
    return dbs


Snapshot = dict[str, list[tuple[Any, ...]]]


def tables(db: Session) -> Snapshot:
    """The synced tables, every column, in a comparable order."""
    db.rollback()
    return {
        model.__tablename__: sorted(tuple(row) for row in db.execute(select(model.__table__)))
        for model in DATA_TABLES
    }


def clean_full_load(db: Session, settings: Settings) -> Snapshot:
    """What a full load into empty tables makes of Salesforce as it is now. The tables
    are left as that load made them."""
    db.rollback()
    for model in (*DATA_TABLES, SalesforceCursor):
        db.execute(delete(model))
    db.commit()
    summary = run(db, settings, full=True)
    assert summary.state == "succeeded", summary.lines()
    return tables(db)


def run(db: Session, settings: Settings, *, full: bool = False, **kwargs: Any) -> RunSummary:
    db.rollback()
    return sync(db, settings, full=full, **kwargs)
