"""Imports of what routing reads announce themselves on commit, and only then."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.announce import current_version
from gateway.core.models import ProductLine
from gateway.core.store import get_store
from gateway.directory.rows import RawRow
from gateway.directory.service import ImportRejected, import_rows
from gateway.directory.upserts import BATCH_SIZE


def test_an_imported_product_line_and_system_move_the_routing_version(
    app: Flask, dbs: Session
) -> None:
    store = get_store(app)
    start = current_version(store)
    import_rows(
        dbs, "product-lines", [(2, {"code": "NETGUARD", "name": "NetGuard", "state": "legacy"})]
    )
    assert current_version(store) == start + 1
    import_rows(
        dbs,
        "systems",
        [(2, {"key": "legacy", "name": "Legacy", "entry_url": "https://lc.example.com/go"})],
    )
    assert current_version(store) == start + 2


class LinesChangingBetweenReads:
    """Product-line rows valid when checked, the last one blank when read again to be
    written: the first batch is already written when the import gives up."""

    def __iter__(self) -> Iterator[RawRow]:
        self.passes = getattr(self, "passes", 0) + 1
        last = BATCH_SIZE + 2
        for line in range(2, last + 1):
            name = "" if self.passes > 1 and line == last else "Line"
            yield line, {"code": f"PL{line}", "name": name, "state": "legacy"}


def test_a_rolled_back_import_leaves_the_routing_version_alone(app: Flask, dbs: Session) -> None:
    store = get_store(app)
    start = current_version(store)
    rows = LinesChangingBetweenReads()
    with pytest.raises(ImportRejected):
        import_rows(dbs, "product-lines", rows)
    assert rows.passes == 2
    assert dbs.scalar(select(func.count()).select_from(ProductLine)) == 0
    assert current_version(store) == start
    dbs.commit()  # what the failed import flushed before it rolled back is not announced later
    assert current_version(store) == start
