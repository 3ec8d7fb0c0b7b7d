"""`gateway seed`: a skewed synthetic directory written in bulk, once."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core import db
from gateway.core.models import Account, Entitlement, ProductLine, User
from gateway.directory.seed import SeedPlan, SeedRefused, seed_directory, skewed_sizes


def test_sizes_are_skewed_capped_and_add_up() -> None:
    sizes = skewed_sizes(200_000, 10_000, cap=5_000)
    assert sum(sizes) == 200_000
    assert sizes[0] == 5_000 and min(sizes) >= 1
    assert sizes[0] >= sizes[len(sizes) // 2] >= sizes[-1]


def test_seed_writes_every_table_and_refuses_a_second_time(app: Flask, dbs: Session) -> None:
    engine = db.engine_of(app)
    report = seed_directory(engine, SeedPlan(users=300, entitlements=900, accounts=12))
    assert report.accounts == dbs.scalar(select(func.count()).select_from(Account)) == 12
    assert report.users == dbs.scalar(select(func.count()).select_from(User)) == 300
    assert dbs.scalar(select(func.count()).select_from(Entitlement)) == 900
    states = set(dbs.scalars(select(ProductLine.state)))
    assert states == {"legacy", "pilot", "rollout", "new"}
    dbs.add(Account(account_number="NEW-1", name="After the seed"))  # sequences moved on
    dbs.commit()
    with pytest.raises(SeedRefused):
        seed_directory(engine, SeedPlan(users=10, entitlements=10))
