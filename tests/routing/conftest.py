"""Fixtures for routing tests: a counter of SQL statements sent to the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from gateway.core import db
from gateway.core.store import get_store
from gateway.routing.config import RoutingConfig, load_routing_config


class StatementCounter:
    """Counts statements executed on the app's engines while `counting` is on."""

    def __init__(self) -> None:
        self.count = 0
        self.counting = False

    def __call__(self, *_args: Any) -> None:
        if self.counting:
            self.count += 1


@pytest.fixture
def statements(app: Flask) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    engines = db.engines_of(app)  # `dbs` is a background session: on its own engine
    for engine in engines:
        event.listen(engine, "before_cursor_execute", counter)
    yield counter
    for engine in engines:
        event.remove(engine, "before_cursor_execute", counter)


@pytest.fixture
def config_now(app: Flask) -> Callable[[], RoutingConfig]:
    """Loads the routing configuration as it is in the database right now."""

    def load() -> RoutingConfig:
        with db.new_session(app) as session:
            return load_routing_config(session, get_store(app), 0)

    return load
