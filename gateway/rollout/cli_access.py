"""`gateway system maintenance …` and `gateway api-token …`: license-center
availability and the IT API's bearer tokens, from the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from gateway.core.models.api_token import API_SCOPES
from gateway.core.models.base import utcnow
from gateway.core.secret_keys import secret_keys
from gateway.rollout.cli import _actor, _context, actor_option, reason_option
from gateway.rollout.cli_preview import store_of as _store

if TYPE_CHECKING:
    from gateway.rollout.maintenance import MaintenancePreview


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
    from gateway.rollout.maintenance import preview_maintenance, set_maintenance
    from gateway.routing.config import load_routing_config

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


@click.group("api-token")
def api_token_group() -> None:
    """Bearer tokens for the IT API."""


@api_token_group.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. release-pipeline.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(API_SCOPES))
@actor_option
def create_token(name: str, scopes: tuple[str, ...], actor: str) -> None:
    """Create a token; it is printed once and only its hash is stored."""
    from gateway.core.api_tokens import create_token as create

    with _context() as (app, db):
        hash_key = secret_keys(app).api_token
        token = create(db, name, list(scopes), actor=_actor(actor), now=utcnow(), hash_key=hash_key)
        click.echo(token.secret)
        click.echo(f"(token {name!r}, scopes {' '.join(token.scopes)}; shown only now)", err=True)


@api_token_group.command("revoke")
@click.argument("name")
@actor_option
def revoke_token(name: str, actor: str) -> None:
    """Revoke the token called NAME at once."""
    from gateway.core.api_tokens import revoke_token as revoke

    with _context() as (_app, db):
        revoke(db, name, actor=_actor(actor), now=utcnow())
        click.echo(f"token {name!r} revoked")


@api_token_group.command("list")
def list_tokens() -> None:
    """Tokens with their scopes; never their secrets."""
    from gateway.core.api_tokens import list_tokens as tokens

    with _context() as (_app, db):
        for row in tokens(db):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            click.echo(f"{row.name:<24} {row.scopes:<40} {state}")
