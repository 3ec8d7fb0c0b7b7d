"""`gateway import KIND FILE` and `gateway seed`."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.core import db
from gateway.core.commands import command_context
from gateway.directory.seed import SeedPlan, SeedRefused, seed_directory
from gateway.directory.service import (
    IMPORT_KINDS,
    DirectoryImportError,
    ImportRejected,
    ImportReport,
    import_file,
)


@click.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", show_default=True, help="Who the audit trail names.")
def import_command(kind: str, file: Path, actor: str) -> None:
    """Import directory records of KIND from a CSV or JSONL FILE: all rows, or none."""
    if not file.is_file():
        raise click.ClickException(f"{file}: no such file")
    report = _run_import(kind, file, actor)
    click.echo(
        f"{file.name}: {report.rows_read} {kind} read, {report.created} created, "
        f"{report.updated} updated, {report.unchanged} unchanged"
    )


def _run_import(kind: str, file: Path, actor: str) -> ImportReport:
    with command_context() as (app, session):
        try:
            report = import_file(session, kind, file, actor=actor)
        except ImportRejected as rejected:
            for error in rejected.errors:
                click.echo(str(error), err=True)
            lines = len({error.line for error in rejected.errors})
            raise click.ClickException(
                f"{file.name}: {lines} bad row(s); nothing imported"
            ) from None
        except DirectoryImportError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            raise click.ClickException(f"{file}: {error.strerror or error}") from None
        return report


@click.command("seed")
@click.option("--users", type=click.IntRange(1), default=200_000, show_default=True)
@click.option("--entitlements", type=click.IntRange(1), default=500_000, show_default=True)
@click.option("--accounts", type=click.IntRange(1), help="Default: one per 20 users.")
@click.option("--seed", "random_seed", type=int, default=20_260_101, show_default=True)
def seed_command(users: int, entitlements: int, accounts: int | None, random_seed: int) -> None:
    """Fill an empty database with a realistic synthetic directory, in bulk (benchmarks)."""
    import time

    with command_context() as (app, _session):
        started = time.perf_counter()
        plan = SeedPlan(users, entitlements, accounts, seed=random_seed)
        try:
            report = seed_directory(db.engine_of(app), plan)
        except SeedRefused as error:
            raise click.ClickException(str(error)) from None
    click.echo(
        f"seeded {report.accounts} accounts, {report.users} users, {report.entitlements} "
        f"entitlements ({report.holdings} holdings) in {time.perf_counter() - started:.1f}s; "
        f"largest account {report.largest_account}: {report.largest_account_users} users, "
        f"{report.largest_account_entitlements} entitlements"
    )
