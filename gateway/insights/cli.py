"""`gateway product-line who QUERY`: where people go now, and why, as JSON. The command
is insights'; gateway/cli.py files it under `product-line`, where IT looks for it."""

from __future__ import annotations

import json

import click

from gateway.core.commands import command_context as _context
from gateway.core.models.base import utcnow
from gateway.core.store import get_store as _store
from gateway.insights.service import trace_dict, who_is_affected
from gateway.routing.config import load_routing_config


@click.command("who")
@click.argument("query")
def who_command(query: str) -> None:
    """Where a user (email) or an account's users (number) go now, and why, as JSON."""
    with _context() as (app, db):
        now = utcnow()
        people = who_is_affected(
            db,
            load_routing_config(db, _store(app), 0),
            query,
            app.extensions["settings"],
            today=now.date(),
            now=now,
        )
        click.echo(json.dumps([trace_dict(person) for person in people], indent=2))
