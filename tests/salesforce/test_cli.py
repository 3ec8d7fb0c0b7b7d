"""`gateway sync salesforce` and `gateway sync runs`, in-process and as a real process
killed (SIGKILL) at random points: the next run still reaches a clean full load's tables."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.models.salesforce import SalesforceSyncRun
from gateway.core.settings import Settings
from gateway.devidp.salesforce import SalesforceStandIn
from tests.conftest import SECRET
from tests.salesforce.conftest import (
    Keys,
    build_org,
    clean_full_load,
    salesforce_settings,
    tables,
)


@pytest.fixture
def gateway_env(
    database_url: str, saml_dir: Path, standin: SalesforceStandIn, keys: Keys
) -> dict[str, str]:
    """What `gateway` reads: the test database and the stand-in Salesforce."""
    env = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_SAML_DIR": str(saml_dir),
        "GATEWAY_LOG_LEVEL": "ERROR",
        "GATEWAY_SCHEDULER_ENABLED": "false",
        "GATEWAY_HEALTH_CHECK_ENABLED": "false",
        "GATEWAY_MAIL_DELIVERY_ENABLED": "false",
    }
    for name, value in salesforce_settings(standin, keys).items():
        env[f"GATEWAY_{name.upper()}"] = str(value)
    return env


def test_sync_prints_the_summary_and_runs_lists_the_history(
    directory: Session, standin: SalesforceStandIn, gateway_env: dict[str, str]
) -> None:
    build_org(standin, accounts=2)
    standin.add("Account", Name="No number", AccountNumber=None)
    runner = CliRunner()

    full = runner.invoke(main, ["sync", "salesforce", "--full"], env=gateway_env)
    assert full.exit_code == 0, full.output
    assert "(full) succeeded: 10 created, 0 updated, 0 deleted, 0 unchanged, 1 rejected" in (
        full.stdout
    )
    assert "rejected Account 0" in full.stdout
    assert "no account number (AccountNumber is empty)" in full.stdout

    standin.clock_offset = timedelta(seconds=5)
    standin.add("Account", Name="Late", AccountNumber="109100")
    incremental = runner.invoke(main, ["sync", "salesforce"], env=gateway_env)
    assert incremental.exit_code == 0, incremental.output
    assert "(incremental) succeeded: 1 created" in incremental.stdout

    standin.faults.server_errors = 100
    failed = runner.invoke(main, ["sync", "salesforce"], env=gateway_env)
    assert failed.exit_code == 1
    assert "(incremental) failed" in failed.stdout
    assert "error: server time: HTTP 500 UNKNOWN_EXCEPTION" in failed.stderr

    runs = runner.invoke(main, ["sync", "runs"], env=gateway_env)
    assert runs.exit_code == 0, runs.output
    lines = runs.stdout.splitlines()
    assert [line.split("\t")[1:3] for line in lines] == [
        ["incremental", "failed"],
        ["incremental", "succeeded"],
        ["full", "succeeded"],
    ]
    assert "first sync" not in lines[2]  # asked for --full: no note
    assert "HTTP 500 UNKNOWN_EXCEPTION" in lines[0]


def test_without_a_login_url_the_command_says_what_to_set(
    gateway_env: dict[str, str],
) -> None:
    env = {**gateway_env, "GATEWAY_SALESFORCE_LOGIN_URL": ""}
    env.pop("GATEWAY_SALESFORCE_LOGIN_URL")
    result = CliRunner().invoke(main, ["sync", "salesforce"], env=env)
    assert result.exit_code == 1
    assert "Salesforce is not configured: set GATEWAY_SALESFORCE_LOGIN_URL" in result.output


def test_watch_needs_a_readable_interval(gateway_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["sync", "salesforce", "--watch", "soon"], env=gateway_env)
    assert result.exit_code == 2
    assert "give seconds, or a number with s, m or h" in result.output


def _spawn(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-c", "from gateway.cli import main; main()", "sync", "salesforce", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_sync_killed_at_random_points_converges_on_the_next_run(
    directory: Session,
    settings: Settings,
    standin: SalesforceStandIn,
    gateway_env: dict[str, str],
) -> None:
    seed = random.randrange(1_000_000)  # noqa: S311 - kill points, not secrets
    chooser = random.Random(seed)  # noqa: S311
    org = build_org(standin, accounts=6, assets_each=15)  # 90 assets, 90 entitlements
    assets, entitlements = list(org.assets.values()), list(org.entitlements.values())
    kills = 0
    for round_number in range(6):
        # Salesforce changes between runs: quantities, deletions, newcomers.
        standin.clock_offset += timedelta(seconds=2)
        for asset in chooser.sample(assets, 5):
            standin.change("Asset", asset, Quantity=float(chooser.randrange(1, 10_000)))
        gone = chooser.choice(entitlements)
        if not standin.records["Entitlement"][gone]["IsDeleted"]:
            standin.delete("Entitlement", gone)
        standin.add("Account", Name=f"Round {round_number}", AccountNumber=f"7{round_number:05d}")

        full = round_number % 3 == 0
        directory.rollback()  # no read transaction of ours in the subprocess's way (SQLite)
        started = standin.api_requests
        process = _spawn(gateway_env, *(["--full"] if full else []))
        point = chooser.randrange(1, 14 if full else 7)
        while not standin.wait_for_requests(started + point, timeout=0.1):
            if process.poll() is not None:
                break  # it finished first
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)

    assert kills >= 3, f"seed {seed}: the runs ended before they could be killed"
    directory.rollback()
    final = _spawn(gateway_env)
    assert final.wait(timeout=120) == 0, f"seed {seed}"
    converged = tables(directory)
    states = list(directory.scalars(select(SalesforceSyncRun.state)))
    assert "running" not in states, f"seed {seed}"  # each run closed the dead ones before it
    interrupted = directory.scalars(
        select(SalesforceSyncRun).where(SalesforceSyncRun.error.like("interrupted%"))
    ).all()
    assert 1 <= len(interrupted) <= kills, f"seed {seed}"
    assert converged == clean_full_load(directory, settings), f"seed {seed}"
