"""`gateway user …`: what IT does to a user's sign-ins from the terminal. Core, as
sessions are: every capability holding something of the user's lets go through the
`access_ended` hook (their sessions on every instance, the provider's codes and
tokens, the license centers' sessions through back-channel logout)."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from gateway.core import hooks
from gateway.core.audit import Actor, checked_reason, record
from gateway.core.cli_options import actor_option, reason_option
from gateway.core.commands import command_context
from gateway.core.errors import NotFound
from gateway.core.models import User


@click.group("user")
def user_group() -> None:
    """Users' sign-ins."""


@user_group.command("sign-out")
@click.argument("email")
@reason_option
@actor_option
def sign_out(email: str, reason: str, actor: str) -> None:
    """End every session of the user with EMAIL on every instance, and the access
    tokens issued in them; the license centers hear through back-channel logout. The
    user stays active and may sign in again."""
    with command_context() as (app, db):
        if app.extensions["store_embedded"]:
            # This command's embedded store is its own: the servers would notice nothing.
            raise click.ClickException(
                "The sessions live in each server's embedded store: set GATEWAY_REDIS_URL "
                "to the servers' shared Redis (or restart the server to end every session)."
            )
        user = db.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if user is None:
            raise NotFound(f"No user with the email address {email}.")
        record(
            db,
            Actor(actor, via="cli"),
            "user.signed_out_everywhere",
            f"user:{user.public_id}",
            reason=checked_reason(reason),
            account_id=user.account_id,
        )
        db.commit()
        hooks.access_ended(user.id)
        click.echo(f"every session of {user.email} ended")
