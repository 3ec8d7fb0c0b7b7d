"""`gateway mail …`: the outbound mail queue (gateway.core.mail), from the terminal."""

from __future__ import annotations

import click

from gateway.core.commands import command_context as _context
from gateway.core.mail import deliver_due, mail_configured, mail_status
from gateway.core.models.base import utcnow


@click.group("mail")
def mail_group() -> None:
    """Outbound mail: what waits, what was sent, what was given up."""


@mail_group.command("status")
def status_command() -> None:
    """Count queued, sent and failed messages."""
    with _context() as (app, db):
        counts = mail_status(db)
        if not mail_configured(app.extensions["settings"]):
            click.echo("Mail is not configured (GATEWAY_SMTP_URL): queued mail is not sent.")
        click.echo(f"queued {counts.queued}, sent {counts.sent}, failed {counts.failed}")


@mail_group.command("deliver")
def deliver_command() -> None:
    """Send what is due now, once (the background job does this every few seconds)."""
    with _context() as (app, db):
        settings = app.extensions["settings"]
        if not mail_configured(settings):
            raise click.ClickException("GATEWAY_SMTP_URL is not set: there is nowhere to send to")
        done = deliver_due(db, settings, utcnow())
        click.echo(f"sent {done.sent}, to retry {done.retried}, given up {done.failed}")
