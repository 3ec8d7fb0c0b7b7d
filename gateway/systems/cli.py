"""`gateway system maintenance …`: license-center availability from the terminal, through
the same maintenance service as the console and the API."""

from __future__ import annotations

import click

from gateway.core.cli_options import actor_option, reason_option
from gateway.core.cli_options import command_actor as _actor
from gateway.core.commands import command_context as _context
from gateway.core.models.base import utcnow
from gateway.core.store import get_store as _store
from gateway.routing.config import load_routing_config
from gateway.systems.service import MaintenancePreview, preview_maintenance, set_maintenance


@click.group("system")
def system_group() -> None:
    """License-center availability."""


@system_group.command("maintenance")
@click.argument("key")
@click.argument("switch", type=click.Choice(["on", "off"]))
@reason_option
@click.option("--message", default="", help="What customers read on the status page.")
@actor_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation after the preview.")
@click.option("--preview", "preview_only", is_flag=True, help="Show the preview only.")
def maintenance(
    key: str, switch: str, reason: str, message: str, actor: str, yes: bool, preview_only: bool
) -> None:
    """Preview, confirm, then mark system KEY down for maintenance (on) or back (off).

    --reason stays with IT (audit log, console); --message is what customers read."""
    with _context() as (app, db):
        now, down = utcnow(), switch == "on"
        preview = preview_maintenance(
            db,
            load_routing_config(db, _store(app), 0),
            key,
            down,
            today=now.date(),
            grace_days=app.extensions["settings"].entitlement_grace_days,
            now=now,
        )
        _echo_maintenance_preview(preview)
        if preview_only:
            click.echo("(preview only: nothing changed)")
            return
        if not yes:
            click.confirm(f"Switch maintenance {switch}?", abort=True)
        set_maintenance(
            db,
            _store(app),
            key,
            down,
            reason=reason,
            actor=_actor(actor),
            now=now,
            customer_message=message,
            expected=preview.before,
        )
        click.echo(f"{key}: maintenance {switch}")


def _echo_maintenance_preview(preview: MaintenancePreview) -> None:
    click.echo(preview.summary)
    for label, group in (
        ("status page", preview.status_page),
        ("sent to another system", preview.rerouted),
        ("lose some lines", preview.partly_unavailable),
        ("no longer on the status page", preview.restored),
    ):
        if group.accounts:
            more = ", …" if group.accounts > len(group.numbers) else ""
            click.echo(f"{label}: {', '.join(group.numbers)}{more}")
