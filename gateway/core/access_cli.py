"""`gateway api-token …`: the IT API's bearer tokens (gateway.core.api_tokens), from the
terminal. Core, as the tokens are: every capability's API checks them through
gateway.core.access."""

from __future__ import annotations

import click

from gateway.core.api_tokens import create_token as create
from gateway.core.api_tokens import list_tokens as tokens
from gateway.core.api_tokens import revoke_token as revoke
from gateway.core.cli_options import actor_option
from gateway.core.cli_options import command_actor as _actor
from gateway.core.commands import command_context as _context
from gateway.core.models.api_token import API_SCOPES
from gateway.core.models.base import utcnow
from gateway.core.secret_keys import secret_keys


@click.group("api-token")
def api_token_group() -> None:
    """Bearer tokens for the IT API."""


@api_token_group.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. release-pipeline.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(API_SCOPES))
@click.option(
    "--account",
    "account_number",
    default=None,
    help="Limit the token to this customer account (routes about it only).",
)
@actor_option
def create_token(
    name: str, scopes: tuple[str, ...], account_number: str | None, actor: str
) -> None:
    """Create a token; it is printed once and only its hash is stored."""
    with _context() as (app, db):
        token = create(
            db,
            name,
            list(scopes),
            actor=_actor(actor),
            now=utcnow(),
            hash_key=secret_keys(app).api_token,
            account_number=account_number,
        )
        click.echo(token.secret)
        limit = f", account {account_number}" if account_number else ""
        click.echo(
            f"(token {name!r}, scopes {' '.join(token.scopes)}{limit}; shown only now)", err=True
        )


@api_token_group.command("revoke")
@click.argument("name")
@actor_option
def revoke_token(name: str, actor: str) -> None:
    """Revoke the token called NAME at once."""
    with _context() as (_app, db):
        revoke(db, name, actor=_actor(actor), now=utcnow())
        click.echo(f"token {name!r} revoked")


@api_token_group.command("list")
def list_tokens() -> None:
    """Tokens with their scopes; never their secrets."""
    with _context() as (_app, db):
        for row in tokens(db):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            click.echo(f"{row.name:<24} {row.scopes:<40} {state}")
