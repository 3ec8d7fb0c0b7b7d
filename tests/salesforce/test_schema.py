"""Migrations 0012 and 0013 make exactly the tables the models describe, and undo them."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gateway.core import db
from gateway.core.models import Base

SALESFORCE_TABLES = {
    "salesforce_accounts",
    "salesforce_assets",
    "salesforce_entitlements",
    "salesforce_sync_runs",
    "salesforce_cursors",
}


def _differences(url: str) -> list[object]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    assert _differences(database_url) == []


def test_the_migration_goes_down_and_up_again(database_url: str) -> None:
    config = db.alembic_config(database_url)
    command.downgrade(config, "0011")  # before the Salesforce tables (0012)
    try:
        assert not SALESFORCE_TABLES & _tables(database_url)
    finally:
        command.upgrade(config, "head")
    assert _tables(database_url) >= SALESFORCE_TABLES
    assert _differences(database_url) == []


def _columns(url: str, table: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_the_time_zone_migration_goes_down_and_up_again(database_url: str) -> None:
    config = db.alembic_config(database_url)
    command.downgrade(config, "0012")
    try:
        assert "time_zone" not in _columns(database_url, "salesforce_accounts")
    finally:
        command.upgrade(config, "head")
    assert "time_zone" in _columns(database_url, "salesforce_accounts")
    assert _differences(database_url) == []


def test_the_agreement_migration_goes_down_and_up_again(database_url: str) -> None:
    config = db.alembic_config(database_url)
    command.downgrade(config, "0013")
    try:
        assert "require_salesforce_agreement" not in _columns(database_url, "product_lines")
    finally:
        command.upgrade(config, "head")
    assert "require_salesforce_agreement" in _columns(database_url, "product_lines")
    assert _differences(database_url) == []
