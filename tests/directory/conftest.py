"""Fixtures for import tests: files on disk, the rows imports refer to, and a snapshot
of every table to prove that a rejected import changed nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Base
from tests import factories

WriteFile = Callable[..., Path]


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    """Writes `lines` to tmp_path/`name`, one per line, so line N of the file is lines[N-1]."""

    def write(name: str, *lines: str) -> Path:
        path = tmp_path / name
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return path

    return write


@pytest.fixture
def seeded(dbs: Session) -> Session:
    """Two systems, two product lines and two accounts, as a directory has before entitlements."""
    factories.system(dbs, "legacy")
    factories.system(dbs, "new")
    factories.product_line(dbs, "NETGUARD", "legacy")
    factories.product_line(dbs, "CLOUDVAULT", "new")
    factories.account(dbs, "100100", "Acme Manufacturing")
    factories.account(dbs, "100200", "Globex Logistics")
    return dbs


def snapshot(db: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, timestamps included, in a comparable order."""
    db.rollback()  # read committed state, not a snapshot opened before someone else wrote
    return {
        table.name: sorted(tuple(row) for row in db.execute(select(table)))
        for table in Base.metadata.sorted_tables
    }
