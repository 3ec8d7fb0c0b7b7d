"""Two first sign-ins of the same person at once (two workers or instances) must both
succeed and leave one user: the loser of the insert race finds the winner's row."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from gateway.core.db import new_session
from gateway.core.models import Account, User
from gateway.sso.identity import Identity
from gateway.sso.service import upsert_user
from tests.sso.conftest import ACCOUNT, EMAIL

IDENTITY = Identity(
    subject="sub-race",
    email=EMAIL,
    first_name="Pat",
    last_name="Lee",
    account_number=ACCOUNT,
    issuer="https://portal.test/idp",
)


def test_concurrent_first_signin_of_one_person_creates_one_user(
    app: Flask, account: Account
) -> None:
    ours, other_worker = new_session(app), new_session(app)

    def the_other_worker_wins(session: Session, *_: object) -> None:
        # Runs between our "no such user yet" look-up and our INSERT.
        upsert_user(other_worker, IDENTITY, frozenset({"portal"}))

    event.listen(ours, "before_flush", the_other_worker_wins, once=True)
    try:
        user = upsert_user(ours, IDENTITY, frozenset({"portal"}))
        assert user.email == EMAIL
        assert ours.scalar(select(func.count()).select_from(User)) == 1
        winner = other_worker.scalar(select(User.id).where(User.subject == "sub-race"))
        assert user.id == winner
    finally:
        ours.close()
        other_worker.close()
