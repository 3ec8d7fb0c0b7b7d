"""Sign-in routes from a grouped summary of the account's entitlements; it must decide
exactly as the full list does, for every kind of account the seed makes."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import db
from gateway.core.models import User
from gateway.core.session import SignedInUser
from gateway.core.store import get_store
from gateway.directory.seed import SeedPlan, seed_directory
from gateway.routing import service
from gateway.routing.config import load_routing_config


def test_summary_decides_like_the_full_entitlement_list(app: Flask, dbs: Session) -> None:
    seed_directory(db.engine_of(app), SeedPlan(users=400, entitlements=2_000, accounts=40))
    config = load_routing_config(dbs, get_store(app), 0)
    settings, today = app.extensions["settings"], service.today_utc()
    users = list(dbs.scalars(select(User).where(User.status == "active").limit(120)))
    kinds = set()
    for user in users:
        full = service.load_inputs(dbs, user, config)
        summary = service.load_route_summary(
            dbs, SignedInUser.of(user), today=today, grace_days=0, config=config
        )
        expected, actual = (
            service.decide_for(inputs, settings, today=today, deep_link_system=None,
                               remembered_system=None)
            for inputs in (full, summary)
        )  # fmt: skip
        assert (actual.kind, actual.systems, actual.trace, actual.down) == (
            expected.kind, expected.systems, expected.trace, expected.down,
        )  # fmt: skip
        assert {k: {e.product_line_code for e in v} for k, v in actual.by_system.items()} == {
            k: {e.product_line_code for e in v} for k, v in expected.by_system.items()
        }
        kinds.add(expected.kind)
    assert {"system", "choice", "no_access"} <= kinds
