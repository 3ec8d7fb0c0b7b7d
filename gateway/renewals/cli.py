"""`gateway report expiring` for account managers, and `gateway renewals send` to run
the reminder job's round by hand."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

import click
from sqlalchemy import select

from gateway.core.commands import command_context
from gateway.core.csv_export import csv_text
from gateway.core.models import Account
from gateway.core.models.base import utcnow
from gateway.renewals.service import (
    ExpiringEntitlement,
    expiring,
    quantity_text,
    send_due_reminders,
)

MAX_WITHIN_DAYS = 3650
_DAYS = re.compile(r"([0-9]{1,5})d?")
CSV_HEADER = [
    "account_number",
    "account_name",
    "product_line",
    "product",
    "quantity",
    "unit",
    "kind",
    "end_date",
    "days_left",
    "systems",
]


def within_days(text: str) -> int:
    """`90d` (or `90`) as 90; a one-line error for anything else."""
    found = _DAYS.fullmatch(text.strip())
    if found is None or not 1 <= int(found.group(1)) <= MAX_WITHIN_DAYS:
        raise click.ClickException(
            f"--within {text!r}: a number of days from 1 to {MAX_WITHIN_DAYS}, such as 90d"
        )
    return int(found.group(1))


def day_of(text: str | None, option: str) -> date:
    """A YYYY-MM-DD option, or today (UTC) when not given."""
    if text is None:
        return utcnow().date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f"{option} {text!r}: a date such as 2027-01-31") from None


on_option = click.option(
    "--on", "on_day", metavar="YYYY-MM-DD", help="Count days from this date instead of today (UTC)."
)


@click.command("expiring")
@click.option("--within", default="90d", show_default=True, help="Window, in days: 30d, 90d…")
@click.option("--account", "account_number", help="Only this account (its number).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output instead of a table.")
@on_option
def expiring_command(
    within: str, account_number: str | None, as_csv: bool, on_day: str | None
) -> None:
    """Maintenance and subscriptions (active) ending within the window, per account."""
    days, today = within_days(within), day_of(on_day, "--on")
    with command_context() as (_app, db):
        account_id = None
        if account_number is not None:
            account_id = db.scalar(
                select(Account.id).where(Account.account_number == account_number)
            )
            if account_id is None:
                raise click.ClickException(f"--account {account_number!r}: no such account")
        rows = expiring(db, today, days, account_id=account_id)
    if as_csv:
        click.echo(csv_text(CSV_HEADER, (csv_row(row) for row in rows)), nl=False)
    elif not rows:
        click.echo(f"Nothing ends within {days} days of {today.isoformat()}.")
    else:
        click.echo(table(rows))


def csv_row(row: ExpiringEntitlement) -> list[object]:
    return [
        row.account_number,
        row.account_name,
        row.line_code,
        row.product,
        row.quantity,
        row.unit,
        row.kind,
        row.end_date.isoformat(),
        row.days_left,
        " ".join(row.system_keys),
    ]


def table(rows: Sequence[ExpiringEntitlement]) -> str:
    """Aligned columns for a terminal, quantities right-aligned."""
    header = ["account", "name", "line", "product", "quantity", "kind", "end", "days", "systems"]
    cells = [
        [
            row.account_number,
            row.account_name,
            row.line_code,
            row.product,
            f"{quantity_text(row.quantity)} {row.unit}",
            row.kind,
            row.end_date.isoformat(),
            str(row.days_left),
            " ".join(row.system_keys),
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    right = {4, 7}

    def line(values: list[str]) -> str:
        return "  ".join(
            value.rjust(width) if i in right else value.ljust(width)
            for i, (value, width) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    return "\n".join(line(values) for values in [header, *cells])


@click.group("renewals")
def renewals_group() -> None:
    """Renewal reminders to org admins."""


@renewals_group.command("send")
@on_option
def send_command(on_day: str | None) -> None:
    """Queue the reminders due today now, as the background job would (each once)."""
    today = day_of(on_day, "--on")
    with command_context() as (app, db):
        run = send_due_reminders(db, app.extensions["settings"], today)
    click.echo(
        f"{run.messages} messages queued to {run.accounts} organisations, "
        f"listing {run.entitlements} entitlements; "
        f"{run.unaddressed} entitlements due where no admin wants reminders"
    )
