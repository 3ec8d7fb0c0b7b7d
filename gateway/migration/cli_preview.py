"""The CLI's preview step: print what a change does (warning distinctly about accounts it
sends from new back to legacy), then stop, ask, or go ahead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import Flask
from sqlalchemy.orm import Session

from gateway.core.models.base import utcnow
from gateway.core.store import get_store
from gateway.migration.guard import ReturnCheck
from gateway.migration.proposals import state_proposal
from gateway.migration.service import product_line, target_setting
from gateway.routing.config import LineConfig, load_routing_config
from gateway.routing.preview import Preview, preview_change

F = TypeVar("F", bound=Callable[..., Any])
# Line settings now -> line settings as a change would leave them.
Proposal = Callable[[LineConfig], LineConfig]


def show_preview(app: Flask, db: Session, code: str, propose: Proposal) -> Preview:
    """Print what `propose` (current line settings -> proposed ones) does to CODE; the
    preview's revision is what the change then requires."""
    product_line(db, code)
    config, now = load_routing_config(db, get_store(app), 0), utcnow()
    preview = preview_change(
        db,
        config,
        propose(config.lines[code]),
        today=now.date(),
        grace_days=app.extensions["settings"].entitlement_grace_days,
        now=now,
    )
    click.echo(f"{code}: {'; '.join(preview.changes)}")
    click.echo(preview.summary)
    for move in preview.movements:
        more = ", …" if move.accounts > len(move.account_numbers) else ""
        click.echo(f"{move.source} -> {move.target}: {', '.join(move.account_numbers)}{more}")
    if preview.waiting_count:
        click.echo(
            f"{preview.waiting_count} accounts wait for data in the new system: "
            + ", ".join(preview.waiting_for_data)
        )
    if preview.new_choice_count:
        click.echo("Will see the choice page: " + ", ".join(preview.new_choice_accounts))
    return preview


def print_preview(app: Flask, db: Session, code: str, state: str, percent: str | None) -> Preview:
    """The preview of moving CODE to STATE (and percent)."""
    target = target_setting(product_line(db, code), state, percent)
    return show_preview(
        app, db, code, lambda line: state_proposal(line, target.state, target.percent)
    )


def go_ahead(
    app: Flask,
    preview: Preview,
    *,
    preview_only: bool,
    yes: bool,
    confirm_back: bool,
    question: str,
) -> ReturnCheck | None:
    """After a preview: warn about accounts it sends from new back to legacy; stop for
    --preview; refuse such a change without --confirm-back-to-legacy; ask unless --yes.
    None means stop; otherwise the check the change carries to the service."""
    back = preview.back_to_legacy
    if back is not None:
        click.secho(f"WARNING: {preview.warning}", fg="red", bold=True)
    if preview_only:
        click.echo("(preview only: nothing changed)")
        return None
    if back is not None and not confirm_back:
        raise click.ClickException(
            f"Not changed: {back.accounts} accounts would go from new back to legacy; "
            "add --confirm-back-to-legacy to send them back."
        )
    if not yes:
        click.confirm(question, abort=True)
    return ReturnCheck(confirm_back, app.extensions["settings"].entitlement_grace_days)


def preview_options(command: F) -> F:
    """--preview, --yes and --confirm-back-to-legacy, for every command that previews."""
    command = click.option(
        "--confirm-back-to-legacy",
        "confirm_back",
        is_flag=True,
        help="Required when the change sends accounts from new back to legacy.",
    )(command)
    command = click.option(
        "--yes", is_flag=True, help="Do not ask for confirmation after the preview."
    )(command)
    return click.option(
        "--preview", "preview_only", is_flag=True, help="Show the preview only; change nothing."
    )(command)
