"""`gateway report expiring`: what ends within the window, per account, as a table or
as CSV that a strict reader parses back to the directory's data; one-line errors."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.settings import Settings
from tests import factories
from tests.renewals.conftest import TODAY
from tests.world import World

ON = ["--on", TODAY.isoformat()]


@pytest.fixture
def cli(settings: Settings, saml_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url or "")
    if settings.redis_url:
        monkeypatch.setenv("GATEWAY_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", settings.secret_key or "")
    monkeypatch.setenv("GATEWAY_SAML_DIR", str(saml_dir))
    monkeypatch.setenv("GATEWAY_RENEWAL_REMINDERS_ENABLED", "false")
    monkeypatch.setenv("GATEWAY_SCHEDULER_ENABLED", "false")
    monkeypatch.setenv("GATEWAY_HEALTH_CHECK_ENABLED", "false")
    return CliRunner()


def report(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, ["report", "expiring", *args], catch_exceptions=False)


@pytest.fixture
def expiring(dbs: Session, world: World) -> World:
    """ready: NET maintenance in 10 days (both systems), CAD subscription in 80 (legacy);
    other: CAD in 45 days, with a name a spreadsheet would run; and what never shows:
    a perpetual one, an inactive one, one ending in 200 days, one that ended yesterday."""
    both, legacy = [world.legacy, world.new], [world.legacy]
    factories.entitlement(
        dbs, world.ready, world.net, both, kind="maintenance", end_date=TODAY + timedelta(10)
    )
    factories.entitlement(
        dbs,
        world.ready,
        world.cad,
        legacy,
        kind="subscription",
        end_date=TODAY + timedelta(80),
        quantity=Decimal("1200.50"),
        unit_of_measure="endpoint",
    )
    world.other.name = "=HYPERLINK(1), Inc."
    factories.entitlement(
        dbs, world.other, world.cad, legacy, end_date=TODAY + timedelta(45), product='CAD "Pro"'
    )
    for fields in (
        {"kind": "perpetual", "end_date": TODAY + timedelta(20)},
        {"status": "inactive", "end_date": TODAY + timedelta(20)},
        {"end_date": TODAY + timedelta(200)},
        {"end_date": TODAY - timedelta(1)},
    ):
        factories.entitlement(dbs, world.ready, world.net, legacy, **fields)  # type: ignore[arg-type]
    return world


def test_the_csv_parses_strictly_and_matches_the_directory(cli: CliRunner, expiring: World) -> None:
    result = report(cli, "--within", "90d", "--csv", *ON)

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output, newline=""), strict=True))
    assert [
        (r["account_number"], r["product_line"], r["kind"], r["days_left"], r["systems"])
        for r in rows
    ] == [
        ("100001", "NET", "maintenance", "10", "legacy new"),
        ("100001", "CAD", "subscription", "80", "legacy"),
        ("100004", "CAD", "subscription", "45", "legacy"),
    ]
    assert rows[1]["quantity"] == "1200.50" and rows[1]["unit"] == "endpoint"
    assert Decimal(rows[0]["quantity"]) == 25 and rows[0]["unit"] == "seat"
    assert rows[0]["end_date"] == (TODAY + timedelta(10)).isoformat()
    assert rows[2]["product"] == 'CAD "Pro"'
    # A cell a spreadsheet would run as a formula is neutralised.
    assert rows[2]["account_name"] == "'=HYPERLINK(1), Inc."


def test_the_window_and_the_account_narrow_it(cli: CliRunner, expiring: World) -> None:
    narrow = report(cli, "--within", "30d", "--csv", *ON)
    assert [r["days_left"] for r in csv.DictReader(io.StringIO(narrow.output))] == ["10"]

    other = report(cli, "--account", "100004", "--csv", *ON)
    assert [r["account_number"] for r in csv.DictReader(io.StringIO(other.output))] == ["100004"]


def test_the_table_for_a_terminal(cli: CliRunner, expiring: World) -> None:
    result = report(cli, "--within", "90", *ON)

    assert result.exit_code == 0, result.output
    header, *lines = result.output.splitlines()
    assert header.split() == [
        "account", "name", "line", "product", "quantity", "kind", "end", "days", "systems"
    ]  # fmt: skip
    assert len(lines) == 3
    assert "1,200.50 endpoint" in lines[1] and "subscription" in lines[1]
    assert lines[0].rstrip().endswith("10  legacy new")


def test_nothing_in_the_window_says_so(cli: CliRunner, expiring: World) -> None:
    result = report(cli, "--within", "5d", *ON)
    assert result.exit_code == 0
    assert result.output == f"Nothing ends within 5 days of {TODAY.isoformat()}.\n"


@pytest.mark.parametrize("bad", ["ninety", "90w", "0d", "-5d", "99999d", ""])
def test_a_bad_window_is_one_clear_line(cli: CliRunner, bad: str) -> None:
    result = report(cli, "--within", bad)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: --within {bad!r}: a number of days from 1 to 3650, such as 90d"
    ]


def test_an_unknown_account_or_date_is_one_clear_line(cli: CliRunner, world: World) -> None:
    unknown = report(cli, "--account", "999999")
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "Error: --account '999999': no such account"
    bad_day = report(cli, "--on", "2027-02-30")
    assert bad_day.output.strip() == "Error: --on '2027-02-30': a date such as 2027-01-31"


def test_renewals_send_queues_the_due_reminders_once(
    cli: CliRunner, dbs: Session, world: World
) -> None:
    factories.entitlement(dbs, world.ready, world.net, [world.legacy], end_date=TODAY)
    args = ["renewals", "send", *ON]

    first = cli.invoke(main, args, catch_exceptions=False)
    again = cli.invoke(main, args, catch_exceptions=False)

    assert first.stdout == (
        "1 messages queued to 1 organisations, listing 1 entitlements; "
        "0 entitlements due where no admin wants reminders\n"
    )
    assert again.stdout.startswith("0 messages queued to 0 organisations")
