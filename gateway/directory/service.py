"""The directory service: imports that check every row of a file, then write them all in
one transaction (rows.py checks, sources.py reads files, upserts.py writes; seed.py fills
an empty database for benchmarks).

    report = import_file(db, "entitlements", Path("legacy-entitlements.csv"), actor="ops")

A file with any bad row raises ImportRejected listing each one, and the database is
left exactly as it was. Re-importing a file changes nothing and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import audit
from gateway.core.models import Account, ProductLine, System
from gateway.core.models.base import utcnow
from gateway.directory.errors import DirectoryImportError, ImportRejected, RowError
from gateway.directory.rows import KINDS, KindSpec, RawRow, Record, References, validate_rows
from gateway.directory.sources import FileRows
from gateway.directory.upserts import write_records

__all__ = [
    "IMPORT_KINDS",
    "DirectoryImportError",
    "ImportRejected",
    "ImportReport",
    "RowError",
    "import_file",
    "import_rows",
]

IMPORT_KINDS = tuple(KINDS)


@dataclass(frozen=True)
class ImportReport:
    """What one successful import did, in rows."""

    kind: str
    rows_read: int
    created: int
    updated: int
    unchanged: int


def import_file(db: Session, kind: str, path: Path, *, actor: str = "cli") -> ImportReport:
    """Import a .csv or .jsonl/.ndjson file of `kind`; all of it, or (ImportRejected) none."""
    rows = FileRows(path, _spec(kind).columns)
    return _import(db, kind, rows, actor=actor, source=path.name)


def import_rows(
    db: Session, kind: str, rows: Iterable[RawRow], actor: str = "cli", *, source: str = "rows"
) -> ImportReport:
    """Import (line number, fields) rows already in memory, e.g. the demo's seed data."""
    return _import(db, kind, rows, actor=actor, source=source)


def _spec(kind: str) -> KindSpec:
    if kind not in KINDS:
        raise DirectoryImportError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    return KINDS[kind]


def _import(
    db: Session, kind: str, rows: Iterable[RawRow | RowError], *, actor: str, source: str
) -> ImportReport:
    spec = _spec(kind)
    # Rows are read twice (check, then write); a one-shot iterator is kept in memory.
    rereadable = list(rows) if isinstance(rows, Iterator) else rows
    try:
        references = _load_references(db)
        _reject_bad_rows(spec, rereadable, references)
        tally = write_records(db, kind, _checked_records(spec, rereadable, references), utcnow())
        report = ImportReport(
            kind,
            tally.created + tally.updated + tally.unchanged,
            tally.created,
            tally.updated,
            tally.unchanged,
        )
        _record_import(db, report, actor, source)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    # The writes bypassed the ORM; objects the caller already loaded must be re-read.
    db.expire_all()
    return report


def _load_references(db: Session) -> References:
    return References(
        accounts=dict(db.execute(select(Account.account_number, Account.id)).all()),
        product_lines=dict(db.execute(select(ProductLine.code, ProductLine.id)).all()),
        systems=dict(db.execute(select(System.key, System.id)).all()),
    )


def _reject_bad_rows(
    spec: KindSpec, rows: Iterable[RawRow | RowError], references: References
) -> None:
    errors = [
        error for _, row_errors in validate_rows(spec, rows, references) for error in row_errors
    ]
    if errors:
        raise ImportRejected(errors)


def _checked_records(
    spec: KindSpec, rows: Iterable[RawRow | RowError], references: References
) -> Iterator[Record]:
    # The file is read again to write it; if it changed in between, give up.
    for record, errors in validate_rows(spec, rows, references):
        if record is None:
            raise ImportRejected(errors)
        yield record


def _record_import(db: Session, report: ImportReport, actor: str, source: str) -> None:
    counts = asdict(report)
    del counts["kind"]
    audit.record(
        db, actor, "directory.import", report.kind, after=counts, reason=f"import {source}"
    )
