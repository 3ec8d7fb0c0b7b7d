"""What every bad-input property checks, whatever the endpoint: the answer is not a
5xx, the gateway logged nothing at ERROR or above while answering, a refused request
changed no row of any table, and a refused API request says why in the format of its
API (problem+json under /api/, SCIM's Error message under /scim/).

The example budget comes from the active profile (tests/badinput/conftest.py): a
CI-sized run by default, thousands per endpoint with HYPOTHESIS_PROFILE=volume.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, settings
from sqlalchemy import select
from werkzeug.test import TestResponse

from gateway.core import db
from gateway.core.models import Base

CI_PROFILE = "badinput-ci"
VOLUME_PROFILE = "volume"
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", CI_PROFILE)
# How many times more examples the volume profile runs than CI, per endpoint.
VOLUME_FACTOR = 30

# Which answers the examples got (path and status), printed after each test with
# BADINPUT_STATS=1: a property whose examples never get past the first check is weak.
answers: Counter[str] = Counter()
SHOW_ANSWERS = os.environ.get("BADINPUT_STATS") == "1"

KNOWN_ROWS = "badinput.rows"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def register_profiles() -> None:
    suppressed = [
        # One app (and its database) serves all of a test's examples, as in tests/api.
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ]
    # CI: the same examples on every run (a failure is reproducible from the log).
    settings.register_profile(
        CI_PROFILE,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=suppressed,
    )
    # A long run: new examples each time, failures kept in the example database.
    settings.register_profile(
        VOLUME_PROFILE,
        deadline=None,
        derandomize=False,
        print_blob=True,
        suppress_health_check=suppressed,
    )


def fuzz(examples: int) -> Callable[[Any], Any]:
    """Settings for one endpoint's property: `examples` in CI, many more for volume."""
    count = examples * VOLUME_FACTOR if PROFILE == VOLUME_PROFILE else examples
    return settings(settings.get_profile(PROFILE), max_examples=count)


class ErrorRecords(logging.Handler):
    """Every record at ERROR or above that reaches the `gateway` logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def error_records() -> Iterator[list[logging.LogRecord]]:
    handler = ErrorRecords()
    logger = logging.getLogger("gateway")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the test directories are small)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine_of(app).connect() as connection:
        for table in Base.metadata.sorted_tables:
            found = connection.execute(select(table)).all()
            rows[table.name] = sorted((tuple(row) for row in found), key=repr)
    return rows


def changed_tables(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]
) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def describe(reply: TestResponse) -> str:
    return f"{reply.status_code} {reply.mimetype}: {reply.get_data(as_text=True)[:600]}"


def answered_safely(
    app: Flask,
    send: Callable[[], TestResponse],
    *,
    refused_changes_nothing: bool = True,
    deliberate: frozenset[int] = frozenset(),
) -> TestResponse:
    """Send one request and check what every bad-input answer must be; returns it.
    `deliberate`: 5xx statuses the endpoint answers on purpose (SCIM's 501 for what
    it does not implement), which are still checked as refusals."""
    # The rows after a refusal are the rows before the next request (examples write
    # nothing between requests), so one snapshot per refused example is enough.
    known = app.extensions.pop(KNOWN_ROWS, None)
    before = (known or snapshot(app)) if refused_changes_nothing else None
    with error_records() as records:
        reply = send()
    assert reply.status_code < 500 or reply.status_code in deliberate, describe(reply)
    logged = [f"{record.name}: {record.getMessage()}" for record in records]
    assert not logged, f"logged at ERROR: {logged}; answer {describe(reply)}"
    path = reply.request.path
    answers[f"{reply.request.method} {path[:60]} {reply.status_code}"] += 1
    if reply.status_code >= 400:
        if path.startswith("/api/"):
            assert reply.mimetype == "application/problem+json", describe(reply)
        elif path.startswith("/scim/"):
            assert reply.mimetype == "application/scim+json", describe(reply)
            body = reply.get_json(silent=True) or {}
            headers_only = reply.request.method == "HEAD"
            assert headers_only or SCIM_ERROR in body.get("schemas", ()), describe(reply)
        if before is not None:
            after = snapshot(app)
            changed = changed_tables(before, after)
            assert not changed, f"refused ({describe(reply)}) but changed {changed}"
            app.extensions[KNOWN_ROWS] = after
    return reply
