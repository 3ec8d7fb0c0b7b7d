"""The `gateway` command: the composition root of every capability's commands.

Capabilities define their command groups and build the app through
gateway.core.commands; this module puts the app factory on click's context and adds
their groups. No capability imports it.
"""

from __future__ import annotations

from typing import Any

import click
import redis
from flask import Flask
from sqlalchemy.exc import DBAPIError

from gateway.app import create_app
from gateway.core import db, store
from gateway.core.access_cli import account_token_group, api_token_group
from gateway.core.commands import CommandApp
from gateway.core.logs import without_startup_notices
from gateway.core.mail_cli import mail_group
from gateway.core.session_cli import user_group
from gateway.core.settings import Settings, SettingsError, load_settings, one_line
from gateway.core.store import StoreUnavailable
from gateway.devidp.cli import demo_command
from gateway.directory.cli import import_command, seed_command
from gateway.insights.cli import who_command
from gateway.migration.cli import product_line_group
from gateway.provider.cli import client_group, keys_group
from gateway.renewals.cli import expiring_command, renewals_group
from gateway.salesforce.cli import drift_command, sync_group
from gateway.systems.cli import system_group

# A command is long work nobody's request waits on (a full load, an import, a seed):
# it runs without the statement and lock deadlines requests have.
COMMAND_OVERRIDES = {"database_statement_timeout_seconds": 0, "database_lock_timeout_seconds": 0}


def build_app() -> Flask:
    """The production app from GATEWAY_* settings, or a clear error naming the variable."""
    try:
        with without_startup_notices():
            return create_app(load_settings(**COMMAND_OVERRIDES))
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def command_settings() -> Settings:
    """The GATEWAY_* settings alone, for commands that need no app (the database ones)."""
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


class GatewayGroup(click.Group):
    """`gateway`: a database or Redis that fails under any command is one line naming
    it (where it listens, never a password) and exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except db.CONNECTION_ERRORS as error:
            raise click.ClickException(_database_failure(error)) from None
        except (redis.RedisError, StoreUnavailable) as error:
            raise click.ClickException(_redis_failure(error)) from None


def _database_failure(error: DBAPIError) -> str:
    url = db.database_url_of(load_settings())
    reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
    return f"GATEWAY_DATABASE_URL: the database at {db.where(url)} failed: {reason}"


def _redis_failure(error: Exception) -> str:
    url = load_settings().redis_url or ""
    return one_line(f"GATEWAY_REDIS_URL: Redis at {store.describe(url)} failed: {error}")


@click.group(cls=GatewayGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Switchyard SSO routing gateway."""
    ctx.obj = ctx.obj or CommandApp(build_app)


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to the configured database (needs only
    GATEWAY_DATABASE_URL, or nothing for the default SQLite file)."""
    url = db.database_url_of(command_settings())
    try:
        db.upgrade(url, revision)
    except db.DatabaseNotReady as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"database at {revision}: {db.describe(url)}")


@main.group("report")
def report_group() -> None:
    """Reports for account managers and IT."""


report_group.add_command(expiring_command)
report_group.add_command(drift_command)

for command in (
    import_command,
    seed_command,
    demo_command,
    client_group,
    keys_group,
    product_line_group,
    system_group,
    api_token_group,
    account_token_group,
    mail_group,
    user_group,
    renewals_group,
    sync_group,
):
    main.add_command(command)
# Insights' route trace sits with the line commands, where IT has always found it.
product_line_group.add_command(who_command)
