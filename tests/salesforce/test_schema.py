"""Migration 0012 makes exactly the tables the models describe, and undoes them."""

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
    command.downgrade(config, "-1")
    try:
        assert not SALESFORCE_TABLES & _tables(database_url)
    finally:
        command.upgrade(config, "head")
    assert _tables(database_url) >= SALESFORCE_TABLES
    assert _differences(database_url) == []
