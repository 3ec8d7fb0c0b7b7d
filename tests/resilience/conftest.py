"""Fault scenarios against real processes (docs/resilience.md).

One PostgreSQL cluster of our own for the run, with a migrated and seeded template
database; each scenario copies it and starts its own Redis and gateway instances.
The fast scenarios run in `make test`; the rest only with RESILIENCE_FULL=1 (`make
resilience`). At the end the terminal summary prints the table, and RESILIENCE_TABLE
names a Markdown file to write it to.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.core import db
from gateway.devidp.keys import SigningKey, generate_signing_key
from gateway.directory.seed import SeedPlan, seed_directory
from tests.resilience import cluster
from tests.resilience.scenario import HEADERS, RESULTS, TEMPLATE, account_token
from tests.resilience.traffic import Account

FULL = os.environ.get("RESILIENCE_FULL") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "resilience: a fault scenario on real processes")
    config.addinivalue_line("markers", "resilience_full: only in make resilience (slow)")
    config.addinivalue_line("markers", "soak: only in make soak (30 minutes)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside `make resilience` the slow scenarios are deselected (not skipped: a skip
    would read as something that should have run), and so is the soak outside `make soak`."""
    soak = os.environ.get("RESILIENCE_SOAK") == "1"

    def left_out(item: pytest.Item) -> bool:
        if "soak" in item.keywords and not soak:
            return True
        return "resilience_full" in item.keywords and not FULL

    deselected = [item for item in items if left_out(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not left_out(item)]


@pytest.fixture(scope="session")
def resilience_key() -> SigningKey:
    return generate_signing_key("resilience IdP")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.Postgres]:
    missing = cluster.missing_programs()
    if missing:
        message = f"the resilience scenarios need {', '.join(missing)} (PostgreSQL, Redis)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = cluster.Postgres()
    try:
        server.start()
        server.execute(f"CREATE DATABASE {TEMPLATE}")
        url = server.url(TEMPLATE)
        db.upgrade(url)
        engine = db.make_engine(url)
        try:
            seed_directory(engine, SeedPlan(users=60, entitlements=150, accounts=4))
        finally:
            engine.dispose()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def accounts(
    postgres: cluster.Postgres, tmp_path_factory: pytest.TempPathFactory, resilience_key: SigningKey
) -> list[Account]:
    """Seeded accounts; the first has an account token (made in the template, so every
    scenario's copy has it)."""
    numbers = [
        str(row[0])
        for row in postgres.execute(
            "SELECT account_number FROM accounts ORDER BY id LIMIT 3", TEMPLATE
        )
    ]
    token = account_token(
        postgres, TEMPLATE, tmp_path_factory.mktemp("token"), resilience_key, numbers[0]
    )
    return [Account(numbers[0], token)] + [Account(n, "") for n in numbers[1:]]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    widths = [max(len(h), *(len(r.cells()[i]) for r in RESULTS)) for i, h in enumerate(HEADERS)]
    line = " | ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))
    terminalreporter.section("resilience")
    terminalreporter.write_line(line)
    terminalreporter.write_line("-" * len(line))
    for row in RESULTS:
        cells = row.cells()
        terminalreporter.write_line(
            " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        )
    target = os.environ.get("RESILIENCE_TABLE")
    if target:
        Path(target).write_text(markdown_table())
        terminalreporter.write_line(f"written to {target}")


def markdown_table() -> str:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [
        "# Resilience: what users saw under each fault",
        "",
        f"`make resilience`, {at}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "two gateway instances (2 workers x 8 threads, 2 requests at once, each) on their "
        "own PostgreSQL and Redis. See docs/resilience.md for what each scenario does.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    for row in RESULTS:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |")
    return "\n".join(lines) + "\n"
