"""The `gateway` command: database, imports, demo, and the rest of IT's tooling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask
from sqlalchemy.orm import Session

from gateway.errors import GatewayError
from gateway.settings import Settings, SettingsError, load_settings


def build_app() -> Flask:
    """The production app from GATEWAY_* settings, or a clear error naming the variable."""
    from gateway.app import create_app
    from gateway.ops.logging import without_startup_notices

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


@contextmanager
def command_context() -> Iterator[tuple[Flask, Session]]:
    """The configured app (inside its app context) and a database session for one
    command; service errors become one-line CLI errors, and nothing is left open."""
    from gateway import db
    from gateway.rollout import stop_background

    app = build_app()
    stop_background(app)  # a command does its own work; no background threads
    session = db.new_session(app)
    try:
        db.require_current_schema(db.engine_of(app))
        with app.app_context():
            yield app, session
    except GatewayError as error:
        raise click.ClickException(error.detail) from None
    except db.DatabaseNotReady as error:
        raise click.ClickException(str(error)) from None
    finally:
        session.close()
        db.engine_of(app).dispose()


@click.group()
def main() -> None:
    """Switchyard SSO routing gateway."""


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to the configured database (needs only
    GATEWAY_DATABASE_URL, or nothing for the default SQLite file)."""
    from gateway import db

    url = db.database_url_of(command_settings())
    try:
        db.upgrade(url, revision)
    except db.DatabaseNotReady as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"database at {revision}: {db.describe(url)}")


def _add_capability_commands() -> None:
    from gateway.devidp.cli import demo_command
    from gateway.directory.cli import import_command, seed_command
    from gateway.provider.cli import client_group, keys_group
    from gateway.rollout.cli import product_line_group
    from gateway.rollout.cli_access import api_token_group, system_group

    main.add_command(import_command)
    main.add_command(seed_command)
    main.add_command(demo_command)
    main.add_command(client_group)
    main.add_command(keys_group)
    main.add_command(product_line_group)
    main.add_command(system_group)
    main.add_command(api_token_group)


_add_capability_commands()
