"""Change announcement: no writer can forget to tell the other instances.

Any committed write to a table the routing configuration reads moves the shared version
once per transaction, whoever wrote it (an ORM change or a bulk statement); a write
elsewhere, a rollback, or a commit after a rollback moves nothing."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.core.announce import current_version
from gateway.core.models import PilotAccount, ProductLine, User
from gateway.core.store import Store, get_store
from tests import factories


def version(app: Flask) -> int:
    store: Store = get_store(app)
    return current_version(store)


def test_one_committed_transaction_of_orm_writes_moves_the_version_once(
    app: Flask, dbs: Session
) -> None:
    account = factories.account(dbs, "200001")
    start = version(app)
    line = ProductLine(code="ORM", name="ORM suite", state="pilot")
    dbs.add(line)
    dbs.flush()
    dbs.add(PilotAccount(product_line_id=line.id, account_id=account.id, added_by="test"))
    assert version(app) == start  # flushed, not committed: nobody may reload yet
    dbs.commit()
    assert version(app) == start + 1


def test_a_bulk_statement_moves_the_version_on_commit(app: Flask, dbs: Session) -> None:
    factories.product_line(dbs, "BULK")
    start = version(app)
    dbs.execute(update(ProductLine).where(ProductLine.code == "BULK").values(state="new"))
    dbs.commit()
    assert version(app) == start + 1


def test_a_write_routing_does_not_read_moves_nothing(app: Flask, dbs: Session) -> None:
    person = factories.user(dbs, factories.account(dbs, "200002"))
    start = version(app)
    dbs.execute(update(User).where(User.id == person.id).values(first_name="Ada"))
    dbs.commit()
    assert version(app) == start


def test_a_rolled_back_write_moves_nothing_and_leaves_no_trace(app: Flask, dbs: Session) -> None:
    start = version(app)
    dbs.add(ProductLine(code="GONE", name="Gone suite", state="legacy"))
    dbs.flush()
    dbs.rollback()
    dbs.commit()  # the next transaction of the same session wrote nothing routing reads
    assert version(app) == start
