"""Migration 0011 matches the models on this backend (Alembic's compare_metadata finds
nothing), goes down to 0010 and up again, and gives existing users reminders on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from gateway.core import db
from gateway.core.models import Base

SCHEMA = "migration_0011_check"


@pytest.fixture
def scratch_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's backend: a SQLite file, or a PostgreSQL schema."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    url = f"{database_url}?options=-csearch_path%3D{SCHEMA}"
    scratch = create_engine(url)
    with scratch.connect() as connection:  # never the suite's own schema
        assert connection.scalar(text("SELECT current_schema()")) == SCHEMA
    scratch.dispose()
    try:
        yield url
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        engine.dispose()


def differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_0011_matches_the_models_and_goes_down_and_up(scratch_url: str) -> None:
    db.upgrade(scratch_url)
    assert differences(scratch_url) == []

    command.downgrade(db.alembic_config(scratch_url), "0010")
    engine = create_engine(scratch_url)
    try:
        schema = inspect(engine)
        assert "renewal_reminders" not in schema.get_table_names()
        assert "renewal_reminders" not in {c["name"] for c in schema.get_columns("users")}
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (id, account_number, name, created_at, updated_at)"
                    " VALUES (1, '100001', 'Acme', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text("INSERT INTO users (id, public_id, email, first_name, last_name, account_id,"
                     " status, created_at, updated_at) VALUES (1, 'p1', 'ada@acme.example', '', '',"
                     " 1, 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
            )  # fmt: skip

        db.upgrade(scratch_url)

        with engine.connect() as connection:
            wanted = connection.scalar(text("SELECT renewal_reminders FROM users WHERE id = 1"))
        assert bool(wanted) is True
    finally:
        engine.dispose()
    assert differences(scratch_url) == []
