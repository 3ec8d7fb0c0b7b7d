"""What the Salesforce sync keeps: Salesforce's accounts, assets and entitlements keyed
by their Salesforce Ids, a record of every run, and one cursor per object.

A record deleted in Salesforce is removed here too, so after any sync these tables
hold exactly what a clean full load would (docs/salesforce.md).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models.base import Base, UtcDateTime

SYNC_KINDS = ("full", "incremental")
SYNC_STATES = ("running", "succeeded", "failed")
SALESFORCE_OBJECTS = ("Account", "Asset", "Entitlement")
# Salesforce Ids are 15 characters (case-sensitive) or 18 (the API's form); we keep 18.
SALESFORCE_ID = String(18)


class SalesforceAccount(Base):
    """A Salesforce Account, linked to our account by its account number when we have it."""

    __tablename__ = "salesforce_accounts"
    __table_args__ = (Index("ix_salesforce_accounts_account_number", "account_number"),)

    id: Mapped[str] = mapped_column(SALESFORCE_ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    account_number: Mapped[str] = mapped_column(String(64))
    # Ours, by account number, as of the last write of this record.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    # The account's IANA time zone, from GATEWAY_SALESFORCE_TIME_ZONE_FIELD (None: not
    # mapped, or empty): the "today" of its support eligibility.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    system_modstamp: Mapped[datetime] = mapped_column(UtcDateTime)


class SalesforceAsset(Base):
    """A Salesforce Asset: what an account bought, in which product line and measure."""

    __tablename__ = "salesforce_assets"
    __table_args__ = (Index("ix_salesforce_assets_sf_account_id", "sf_account_id"),)

    id: Mapped[str] = mapped_column(SALESFORCE_ID, primary_key=True)
    # The Salesforce Account Id (its row may arrive later, or have been rejected).
    sf_account_id: Mapped[str | None] = mapped_column(SALESFORCE_ID)
    product: Mapped[str] = mapped_column(String(255), default="")
    product_code: Mapped[str] = mapped_column(String(255), default="")
    product_line_code: Mapped[str | None] = mapped_column(String(64))
    # Ours, by code, as of the last write of this record.
    product_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("product_lines.id", ondelete="SET NULL")
    )
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    unit_of_measure: Mapped[str] = mapped_column(String(64), default="")
    install_date: Mapped[date | None] = mapped_column(Date)
    usage_end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(64), default="")
    system_modstamp: Mapped[datetime] = mapped_column(UtcDateTime)


class SalesforceEntitlement(Base):
    """A Salesforce Entitlement: the support coverage of an account, often for one asset."""

    __tablename__ = "salesforce_entitlements"
    __table_args__ = (
        Index("ix_salesforce_entitlements_sf_account_id", "sf_account_id"),
        Index("ix_salesforce_entitlements_sf_asset_id", "sf_asset_id"),
    )

    id: Mapped[str] = mapped_column(SALESFORCE_ID, primary_key=True)
    sf_account_id: Mapped[str] = mapped_column(SALESFORCE_ID)
    sf_asset_id: Mapped[str | None] = mapped_column(SALESFORCE_ID)
    name: Mapped[str] = mapped_column(String(255), default="")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(64), default="")
    type: Mapped[str] = mapped_column(String(64), default="")
    system_modstamp: Mapped[datetime] = mapped_column(UtcDateTime)


class SalesforceSyncRun(Base):
    """One run of the sync: what it was, how it went, and the window of changes it read."""

    __tablename__ = "salesforce_sync_runs"
    __table_args__ = (
        CheckConstraint(f"kind IN {SYNC_KINDS!r}", name="kind"),
        CheckConstraint(f"state IN {SYNC_STATES!r}", name="state"),
        Index("ix_salesforce_sync_runs_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # Why records were rejected: a JSON list of {"object", "id", "reason"} (the first 100).
    rejections: Mapped[str] = mapped_column(Text, default="[]")
    # Why the run failed, or why an incremental run became a full load.
    error: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    # The changes read: SystemModstamp from (None on a full load) to the server's time
    # at the start of the run, which becomes the cursor when the run succeeds.
    cursor_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cursor_to: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The scheduled job's time slot (seconds since the epoch // interval) this run
    # claimed: unique, so each slot is run by one instance only. None: run by hand.
    slot: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class SalesforceCursor(Base):
    """Per object: every change with a SystemModstamp before `cursor` is in our tables."""

    __tablename__ = "salesforce_cursors"
    __table_args__ = (CheckConstraint(f"object IN {SALESFORCE_OBJECTS!r}", name="object"),)

    object: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[datetime] = mapped_column(UtcDateTime)
    run_id: Mapped[int] = mapped_column(ForeignKey("salesforce_sync_runs.id"))
