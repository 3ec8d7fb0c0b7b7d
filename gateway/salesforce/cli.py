"""`gateway sync salesforce [--full] [--watch INTERVAL]`, `gateway sync runs`, and the
drift report `gateway report drift` (added to the report group by gateway.cli)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from gateway.core.commands import command_context as _context
from gateway.salesforce.drift import CSV_HEADER, drift, drift_csv, drift_json
from gateway.salesforce.service import Progress as ProgressCallback
from gateway.salesforce.service import RunSummary, recent_runs, sync

INTERVAL = re.compile(r"(?P<amount>[1-9][0-9]*)(?P<unit>[smh]?)")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


def _interval(value: str | None) -> int | None:
    if value is None:
        return None
    found = INTERVAL.fullmatch(value.strip())
    if found is None:
        raise click.BadParameter("give seconds, or a number with s, m or h (e.g. 15m)")
    return int(found["amount"]) * UNIT_SECONDS[found["unit"]]


@click.group("sync")
def sync_group() -> None:
    """Synchronise with other systems of record."""


@sync_group.command("salesforce")
@click.option("--full", is_flag=True, help="Read every record (Bulk API 2.0), not only changes.")
@click.option(
    "--watch",
    "watch",
    metavar="INTERVAL",
    help="Keep running: an incremental sync every INTERVAL (e.g. 300, 5m, 1h).",
)
def sync_salesforce(full: bool, watch: str | None) -> None:
    """Sync Salesforce's accounts, assets and entitlements; print what changed.

    Exits 1 when the (last) run failed; the run and its error are in `gateway sync runs`."""
    every = _interval(watch)
    with _context() as (app, db):
        settings = app.extensions["settings"]
        while True:
            with _progress_bar() as progress:
                summary = sync(db, settings, full=full, progress=progress)
            _echo(summary)
            if every is None:
                if summary.state != "succeeded":
                    raise SystemExit(1)
                return
            full = False
            time.sleep(every)


def _echo(summary: RunSummary) -> None:
    for line in summary.lines():
        click.echo(line, err=line.startswith("error:"))


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback]:
    """A bar per object while a full load reads it (on stderr; nothing on incremental runs)."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def advance(object_name: str, read: int, total: int) -> None:
        if object_name not in tasks:
            bar.start()
            tasks[object_name] = bar.add_task(object_name, total=total or None)
        bar.update(tasks[object_name], completed=read)

    try:
        yield advance
    finally:
        bar.stop()


@sync_group.command("runs")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def sync_runs(limit: int) -> None:
    """Recent Salesforce sync runs, newest first."""
    with _context() as (_app, db):
        runs = recent_runs(db, limit)
        if not runs:
            click.echo("no Salesforce sync runs yet")
        for run in runs:
            ended = run.finished_at.isoformat(timespec="seconds") if run.finished_at else "-"
            cursor = run.cursor_to.isoformat(timespec="seconds") if run.cursor_to else "-"
            click.echo(
                f"{run.id}\t{run.kind}\t{run.state}\t{run.started_at.isoformat(timespec='seconds')}"
                f"\t{ended}\t+{run.created} ~{run.updated} -{run.deleted} ={run.unchanged} "
                f"!{run.rejected}\tcursor {cursor}"
                + (f"\t{run.note}" if run.note else "")
                + (f"\t{run.error}" if run.error else "")
            )


@click.command("drift")
@click.option("--account", "account_number", help="Only this account (its number).")
@click.option("--line", "line", metavar="CODE", help="Only this product line (its code).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output.")
@click.option("--json", "as_json", is_flag=True, help="JSON on standard output.")
def drift_command(
    account_number: str | None, line: str | None, as_csv: bool, as_json: bool
) -> None:
    """Where Salesforce's assets and the license centers' entitlements disagree."""
    if as_csv and as_json:
        raise click.UsageError("choose one of --csv and --json")
    with _context() as (_app, db):
        rows = drift(db, account_number=account_number, line=line)
    if as_csv:
        click.echo(drift_csv(rows), nl=False)
    elif as_json:
        click.echo(drift_json(rows))
    elif not rows:
        click.echo("Salesforce and the license centers agree.")
    else:
        click.echo("\t".join(CSV_HEADER))
        for row in rows:
            click.echo("\t".join(str(cell) for cell in row.cells()))
