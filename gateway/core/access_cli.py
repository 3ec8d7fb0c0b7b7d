"""`gateway api-token …` (the IT API's bearer tokens) and `gateway account-token …`
(tokens limited to one customer account), from the terminal (gateway.core.api_tokens).
Core, as the tokens are: every capability's API checks them through gateway.core.access."""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import select

from gateway.core.api_tokens import all_account_tokens, parse_expiry, token_state
from gateway.core.api_tokens import create_account_token as create_for_account
from gateway.core.api_tokens import create_token as create
from gateway.core.api_tokens import list_account_tokens as account_tokens
from gateway.core.api_tokens import list_tokens as tokens
from gateway.core.api_tokens import revoke_account_token as revoke_for_account
from gateway.core.api_tokens import revoke_token as revoke
from gateway.core.cli_options import actor_option
from gateway.core.cli_options import command_actor as _actor
from gateway.core.commands import command_context as _context
from gateway.core.errors import NotFound
from gateway.core.models import Account
from gateway.core.models.api_token import ACCOUNT_SCOPES, API_SCOPES, ApiToken
from gateway.core.models.base import utcnow
from gateway.core.secret_keys import secret_keys


@click.group("api-token")
def api_token_group() -> None:
    """Bearer tokens for the IT API."""


@api_token_group.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. release-pipeline.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(API_SCOPES))
@click.option(
    "--expires",
    default=None,
    help="When it stops working: 90d, 12h or an ISO date. Default: until revoked.",
)
@actor_option
def create_token(name: str, scopes: tuple[str, ...], expires: str | None, actor: str) -> None:
    """Create an IT token; it is printed once and only its hash is stored. (Tokens for
    one customer account: gateway account-token create.)"""
    with _context() as (app, db):
        now = utcnow()
        token = create(
            db,
            name,
            list(scopes),
            actor=_actor(actor),
            now=now,
            hash_key=secret_keys(app).api_token,
            expires_at=parse_expiry(expires, now) if expires else None,
        )
        click.echo(token.secret)
        until = f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else ""
        click.echo(
            f"(token {name!r}, scopes {' '.join(token.scopes)}{until}; shown only now)", err=True
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
        now = utcnow()
        for row in tokens(db):
            click.echo(f"{row.name:<24} {row.scopes:<40} {_state(row, now)}")


def _state(row: ApiToken, now: datetime) -> str:
    state = token_state(row, now)
    if state == "revoked" and row.revoked_at is not None:
        return f"revoked {row.revoked_at:%Y-%m-%d}"
    if row.expires_at is not None:
        return f"{state}, expires {row.expires_at:%Y-%m-%d %H:%M} UTC"
    return state


@click.group("account-token")
def account_token_group() -> None:
    """Tokens limited to one customer account: its users (the JSON API) or SCIM."""


@account_token_group.command("create")
@click.argument("account_number", metavar="ACCOUNT")
@click.option("--scope", required=True, type=click.Choice(ACCOUNT_SCOPES))
@click.option(
    "--expires",
    default="90d",
    show_default=True,
    help="When it stops working: 90d, 12h or an ISO date; at most a year away.",
)
@click.option("--name", default=None, help="What it is for, e.g. okta. Default: made up.")
@actor_option
def create_account_token(
    account_number: str, scope: str, expires: str, name: str | None, actor: str
) -> None:
    """Create a token for ACCOUNT; it is printed once and only its hash is stored."""
    with _context() as (app, db):
        now = utcnow()
        token = create_for_account(
            db,
            account_number,
            scope,
            actor=_actor(actor),
            now=now,
            hash_key=secret_keys(app).api_token,
            expires_at=parse_expiry(expires, now),
            name=name,
        )
        click.echo(token.secret)
        assert token.expires_at is not None  # account tokens always expire
        click.echo(
            f"(token {token.name!r}, scope {scope}, account {account_number}, "
            f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC; shown only now)",
            err=True,
        )


@account_token_group.command("list")
@click.argument("account_number", metavar="[ACCOUNT]", required=False)
def list_account_tokens(account_number: str | None) -> None:
    """Account tokens (of ACCOUNT, or of every account) with scope and state; never secrets."""
    with _context() as (_app, db):
        if account_number is None:
            rows = all_account_tokens(db)
        else:
            account_id = db.scalar(
                select(Account.id).where(Account.account_number == account_number)
            )
            if account_id is None:
                raise NotFound(f"No account {account_number!r}.")
            rows = account_tokens(db, account_id)
        now = utcnow()
        for row in rows:
            click.echo(f"{row.name:<40} {row.scopes:<8} {_state(row, now)}")


@account_token_group.command("revoke")
@click.argument("name")
@actor_option
def revoke_account_token(name: str, actor: str) -> None:
    """Revoke the account token called NAME (ACCOUNT/NAME, as listed) at once."""
    with _context() as (_app, db):
        revoke_for_account(db, None, name, actor=_actor(actor), now=utcnow())
        click.echo(f"token {name!r} revoked")
