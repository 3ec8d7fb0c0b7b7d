"""The `gateway` command: database, imports, demo, and the rest of IT's tooling."""

from __future__ import annotations

import click
from flask import Flask

from gateway.settings import SettingsError


def build_app() -> Flask:
    """The production app from GATEWAY_* settings, or a clear error naming the variable."""
    from gateway.app import create_app

    try:
        return create_app()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def main() -> None:
    """Switchyard SSO routing gateway."""


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to the configured database."""
    from gateway import db

    app = build_app()
    db.upgrade(app.extensions["database_url"], revision)
    click.echo(f"database at {revision}")


def _add_capability_commands() -> None:
    from gateway.devidp.cli import demo_command
    from gateway.directory.cli import import_command
    from gateway.provider.cli import client_group, keys_group
    from gateway.rollout.cli import api_token_group, product_line_group, system_group

    main.add_command(import_command)
    main.add_command(demo_command)
    main.add_command(client_group)
    main.add_command(keys_group)
    main.add_command(product_line_group)
    main.add_command(system_group)
    main.add_command(api_token_group)


_add_capability_commands()
