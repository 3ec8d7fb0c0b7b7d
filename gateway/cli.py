"""The `gateway` command: the composition root of every capability's commands.

Capabilities define their command groups and build the app through
gateway.core.commands; this module puts the app factory on click's context and adds
their groups. No capability imports it.
"""

from __future__ import annotations

import click
from flask import Flask

from gateway.app import create_app
from gateway.core import db
from gateway.core.access_cli import account_token_group, api_token_group
from gateway.core.commands import CommandApp
from gateway.core.logs import without_startup_notices
from gateway.core.mail_cli import mail_group
from gateway.core.session_cli import user_group
from gateway.core.settings import Settings, SettingsError, load_settings
from gateway.devidp.cli import demo_command
from gateway.directory.cli import import_command, seed_command
from gateway.insights.cli import who_command
from gateway.migration.cli import product_line_group
from gateway.provider.cli import client_group, keys_group
from gateway.renewals.cli import expiring_command, renewals_group
from gateway.salesforce.cli import drift_command, sync_group
from gateway.systems.cli import system_group


def build_app() -> Flask:
    """The production app from GATEWAY_* settings, or a clear error naming the variable."""
    try:
        with without_startup_notices():
            return create_app()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def command_settings() -> Settings:
    """The GATEWAY_* settings alone, for commands that need no app (the database ones)."""
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


@click.group()
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
