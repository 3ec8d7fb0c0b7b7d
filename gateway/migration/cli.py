"""`gateway product-line …`: the same service functions as the console and the API,
for IT's terminal and cron."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from gateway.core.cli_options import actor_option, reason_option
from gateway.core.cli_options import command_actor as _actor
from gateway.core.commands import command_context as _context
from gateway.core.models.base import utcnow
from gateway.core.models.directory import PRODUCT_LINE_STATES
from gateway.core.store import get_store as _store
from gateway.migration.cli_preview import (
    go_ahead,
    preview_options,
    print_preview,
    show_preview,
)
from gateway.migration.guard import ReturnCheck
from gateway.migration.proposals import (
    agreement_proposal,
    override_proposal,
    pilot_proposal,
    removal_proposal,
)
from gateway.migration.scheduler import (
    apply_due_changes,
    cancel_change,
    pending_changes,
    schedule_change,
)
from gateway.migration.service import (
    change_state,
    remove_override,
    rollback,
    set_override,
    set_pilot_accounts,
    set_salesforce_agreement,
)
from gateway.routing.config import load_routing_config

F = TypeVar("F", bound=Callable[..., Any])


def _utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@click.group("product-line")
def product_line_group() -> None:
    """Move product lines between the legacy and new license centers."""


@product_line_group.command("list")
def list_lines() -> None:
    """Every product line with its state and rollout percent."""
    with _context() as (app, db):
        config = load_routing_config(db, _store(app), 0)
        for code, line in sorted(config.lines.items()):
            percent = f" {line.percent}%" if line.state == "rollout" else ""
            click.echo(
                f"{code:<16} {line.state}{percent}  pilots={len(line.pilot_accounts)} "
                f"overrides={len(line.overrides)}  {line.name}"
            )


@product_line_group.command("preview")
@click.argument("code")
@click.argument("state", type=click.Choice(PRODUCT_LINE_STATES))
@click.option("--percent", help="Rollout percentage (for rollout).")
def preview_command(code: str, state: str, percent: str | None) -> None:
    """Show what moving CODE to STATE would do; changes nothing."""
    with _context() as (app, db):
        print_preview(app, db, code, state, percent)


@product_line_group.command("set-state")
@click.argument("code")
@click.argument("state", type=click.Choice(PRODUCT_LINE_STATES))
@click.option("--percent", help="Rollout percentage (for rollout).")
@reason_option
@actor_option
@preview_options
def set_state(
    code: str,
    state: str,
    percent: str | None,
    reason: str,
    actor: str,
    yes: bool,
    preview_only: bool,
    confirm_back: bool,
) -> None:
    """Preview, confirm, then move CODE to STATE (pilot, rollout --percent, new, legacy)."""
    with _context() as (app, db):
        preview = print_preview(app, db, code, state, percent)
        check = go_ahead(
            app,
            preview,
            preview_only=preview_only,
            yes=yes,
            confirm_back=confirm_back,
            question="Make this change?",
        )
        if check is None:
            return
        event = change_state(
            db,
            _store(app),
            code,
            state,
            percent,
            reason=reason,
            actor=_actor(actor),
            now=utcnow(),
            revision=preview.revision,
            back_to_legacy=check,
        )
        click.echo(f"{code}: {json.dumps(event.before)} -> {json.dumps(event.after)}")


@product_line_group.command("rollback")
@click.argument("code")
@reason_option
@actor_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation after the preview.")
def rollback_command(code: str, reason: str, actor: str, yes: bool) -> None:
    """Send everyone on CODE back to the legacy system, in one action."""
    with _context() as (app, db):
        print_preview(app, db, code, "legacy", None)
        if not yes:
            click.confirm("Roll back?", abort=True)
        event = rollback(db, _store(app), code, reason=reason, actor=_actor(actor), now=utcnow())
        click.echo(f"{code}: {json.dumps(event.before)} -> {json.dumps(event.after)}")


@product_line_group.command("pilot")
@click.argument("code")
@click.argument("action", type=click.Choice(["add", "remove"]))
@click.argument("accounts", nargs=-1, required=True)
@reason_option
@actor_option
@preview_options
def pilot(
    code: str,
    action: str,
    accounts: tuple[str, ...],
    reason: str,
    actor: str,
    yes: bool,
    preview_only: bool,
    confirm_back: bool,
) -> None:
    """Preview, confirm, then add ACCOUNTS to (or remove them from) CODE's pilot."""
    add, remove = (list(accounts), []) if action == "add" else ([], list(accounts))
    with _context() as (app, db):
        preview = show_preview(
            app, db, code, lambda line: pilot_proposal(db, line, add=add, remove=remove)
        )
        options = {"preview_only": preview_only, "yes": yes, "confirm_back": confirm_back}
        check = go_ahead(app, preview, **options, question="Change the pilot?")
        if check is None:
            return
        event = set_pilot_accounts(
            db,
            _store(app),
            code,
            add=add,
            remove=remove,
            reason=reason,
            actor=_actor(actor),
            now=utcnow(),
            revision=preview.revision,
            back_to_legacy=check,
        )
        after = event.after or {}
        click.echo(f"{code} pilot: {', '.join(after.get('pilot_accounts', [])) or 'none'}")


@product_line_group.command("salesforce-agreement")
@click.argument("code")
@click.argument("setting", type=click.Choice(["required", "not-required"]))
@reason_option
@actor_option
@preview_options
def salesforce_agreement(
    code: str,
    setting: str,
    reason: str,
    actor: str,
    yes: bool,
    preview_only: bool,
    confirm_back: bool,
) -> None:
    """Preview, confirm, then make CODE's accounts wait (or stop waiting) on legacy until
    their entitlements in the new system agree with Salesforce."""
    required = setting == "required"
    with _context() as (app, db):
        preview = show_preview(app, db, code, lambda line: agreement_proposal(line, required))
        options = {"preview_only": preview_only, "yes": yes, "confirm_back": confirm_back}
        check = go_ahead(app, preview, **options, question="Change the setting?")
        if check is None:
            return
        set_salesforce_agreement(
            db,
            _store(app),
            code,
            required,
            reason=reason,
            actor=_actor(actor),
            now=utcnow(),
            revision=preview.revision,
            back_to_legacy=check,
        )
        click.echo(
            f"{code}: Salesforce's agreement is {'required' if required else 'not required'} "
            "before accounts move to new"
        )


@product_line_group.command("override")
@click.argument("code")
@click.argument("account")
@click.argument("system", type=click.Choice(["legacy", "new", "none"]))
@click.option("--expires", help="UTC date-time when it ends, e.g. 2027-02-01T00:00.")
@reason_option
@actor_option
@preview_options
def override(
    code: str,
    account: str,
    system: str,
    expires: str | None,
    reason: str,
    actor: str,
    yes: bool,
    preview_only: bool,
    confirm_back: bool,
) -> None:
    """Preview, confirm, then force ACCOUNT's CODE to SYSTEM (`none` removes the override)."""
    expires_at, now = (_utc(expires) if expires else None), utcnow()
    options = {"preview_only": preview_only, "yes": yes, "confirm_back": confirm_back}
    with _context() as (app, db):
        if system == "none":
            preview = show_preview(app, db, code, lambda line: removal_proposal(db, line, account))
            check = go_ahead(app, preview, **options, question="Remove the override?")
            if check is not None:
                remove_override(
                    db,
                    _store(app),
                    code,
                    account,
                    reason=reason,
                    actor=_actor(actor),
                    now=now,
                    revision=preview.revision,
                    back_to_legacy=check,
                )
                click.echo(f"{code}: override for {account} removed")
            return
        preview = show_preview(
            app,
            db,
            code,
            lambda line: override_proposal(
                db, line, account, system, reason=reason, now=now, expires_at=expires_at
            ),
        )
        check = go_ahead(app, preview, **options, question="Save the override?")
        if check is not None:
            set_override(
                db,
                _store(app),
                code,
                account,
                system,
                reason=reason,
                actor=_actor(actor),
                now=now,
                expires_at=expires_at,
                revision=preview.revision,
                back_to_legacy=check,
            )
            click.echo(f"{code}: account {account} always goes to {system}")


@product_line_group.command("schedule")
@click.argument("code")
@click.argument("state", type=click.Choice(PRODUCT_LINE_STATES))
@click.option("--at", "run_at", required=True, help="UTC date-time, e.g. 2027-01-15T06:00.")
@click.option("--percent", help="Rollout percentage (for rollout).")
@reason_option
@actor_option
@click.option(
    "--confirm-back-to-legacy",
    "confirm_back",
    is_flag=True,
    help="Required when the change would send accounts from new back to legacy.",
)
def schedule(
    code: str,
    state: str,
    run_at: str,
    percent: str | None,
    reason: str,
    actor: str,
    confirm_back: bool,
) -> None:
    """Move CODE to STATE at a given time; applied once by whichever instance is first."""
    with _context() as (app, db):
        grace_days = app.extensions["settings"].entitlement_grace_days
        change = schedule_change(
            db,
            _store(app),
            code,
            state,
            percent,
            run_at=_utc(run_at),
            reason=reason,
            actor=_actor(actor),
            now=utcnow(),
            back_to_legacy=ReturnCheck(confirm_back, grace_days),
        )
        click.echo(
            f"scheduled change {change.id}: {code} -> {state} at {change.run_at:%Y-%m-%d %H:%M} UTC"
        )


@product_line_group.command("scheduled")
def scheduled() -> None:
    """Pending scheduled changes, soonest first."""
    with _context() as (_app, db):
        for change in pending_changes(db):
            click.echo(
                f"{change.id:>5}  {change.run_at:%Y-%m-%d %H:%M} UTC  "
                f"{change.product_line.code} -> {change.target_state} "
                f"{change.target_percent}%  {change.reason} ({change.created_by})"
            )


@product_line_group.command("cancel")
@click.argument("change_id", type=int)
@reason_option
@actor_option
def cancel(change_id: int, reason: str, actor: str) -> None:
    """Cancel a pending scheduled change."""
    with _context() as (app, db):
        cancel_change(db, _store(app), change_id, reason=reason, actor=_actor(actor), now=utcnow())
        click.echo(f"scheduled change {change_id} cancelled")


@product_line_group.command("run-due")
def run_due() -> None:
    """Apply every due scheduled change (for cron; safe to run on every instance at once)."""
    with _context() as (app, db):
        grace = app.extensions["settings"].entitlement_grace_days
        applied = apply_due_changes(db, _store(app), now=utcnow(), grace_days=grace)
        click.echo(f"applied {len(applied)} scheduled change(s)")
