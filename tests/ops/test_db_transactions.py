"""gateway.core.db's autocommit (single_statements, read_row, the read session): only
where asked, never leaking into the next transaction or the next user of a pooled
connection."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from gateway.core import db
from gateway.core.models import Account


def _add(session: Session, number: str) -> None:
    session.execute(insert(Account).values(account_number=number, name=number))


def _exists(session: Session, number: str) -> bool:
    count = select(func.count()).select_from(Account).where(Account.account_number == number)
    return session.scalar(count) == 1


def test_autocommit_lasts_one_transaction(app: Flask) -> None:
    with app.test_request_context():
        session = db.get_session()
        _add(db.single_statements(session), "TX-1")
        session.rollback()
        assert _exists(session, "TX-1"), "single statements are committed as they run"
        session.commit()
        # The next transaction is an ordinary one: its writes can be undone.
        _add(session, "TX-2")
        session.rollback()
        assert not _exists(session, "TX-2")


def test_a_pooled_connection_comes_back_transactional(app: Flask) -> None:
    with app.test_request_context():
        db.single_statements(db.get_session()).execute(select(1))
    # The request ended and returned its connection; the next user gets it reset.
    with db.new_session(app) as session:
        _add(session, "TX-3")
        session.rollback()
        assert not _exists(session, "TX-3")


def test_it_leaves_a_started_transaction_alone(app: Flask) -> None:
    with app.test_request_context():
        session = db.get_session()
        _add(session, "TX-4")
        db.single_statements(session)
        _add(session, "TX-5")
        session.rollback()
        assert not _exists(session, "TX-4") and not _exists(session, "TX-5")


def test_single_reads_leave_the_pool_transactional(app: Flask) -> None:
    """read_row and the read session run in autocommit on the requests' pool: the next
    user of their connection gets an ordinary transaction again."""
    with app.test_request_context():
        assert db.read_row(select(func.count()).select_from(Account), {}) is not None
        db.get_read_session().execute(select(1))
    with app.test_request_context():
        session = db.get_session()
        _add(session, "TX-6")
        session.rollback()
        assert not _exists(session, "TX-6")


def test_the_read_session_cannot_write(app: Flask) -> None:
    with app.test_request_context():
        session = db.get_read_session()
        session.add(Account(account_number="TX-7", name="TX-7"))
        with pytest.raises(RuntimeError, match="autocommit"):
            session.flush()
    with db.new_session(app) as check:
        assert not _exists(check, "TX-7")


def test_the_read_session_holds_no_connection_until_it_reads(app: Flask) -> None:
    pool = db.engine_of(app).pool
    with app.test_request_context():
        before = pool.checkedout()
        session = db.get_read_session()
        assert pool.checkedout() == before
        session.execute(select(1))
        assert pool.checkedout() == before + 1
    assert pool.checkedout() == before
