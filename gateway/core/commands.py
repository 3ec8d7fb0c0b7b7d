"""What every `gateway …` command shares: the configured app and a database session.

The command-line entry point (gateway.cli) puts the app factory on click's context, so
a capability's commands build the app without importing the entry point (which imports
them):

    with command_context() as (app, db):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click
from flask import Flask
from sqlalchemy.orm import Session

from gateway.core import db as database
from gateway.core import jobs
from gateway.core.errors import GatewayError


@dataclass(frozen=True)
class CommandApp:
    """The app factory the entry point hands to every command."""

    build: Callable[[], Flask]


@contextmanager
def command_context() -> Iterator[tuple[Flask, Session]]:
    """The configured app (inside its app context) and a database session for one
    command; service errors become one-line CLI errors, and nothing is left open."""
    found = click.get_current_context().find_object(CommandApp)
    if found is None:
        raise click.ClickException("run this command through `gateway`")
    app = found.build()
    jobs.stop(app)  # a command does its own work; no background threads
    session = database.new_session(app)
    try:
        database.require_current_schema(database.engine_of(app))
        with app.app_context():
            yield app, session
    except GatewayError as error:
        raise click.ClickException(error.detail) from None
    except database.DatabaseNotReady as error:
        raise click.ClickException(str(error)) from None
    finally:
        session.close()
        database.engine_of(app).dispose()
