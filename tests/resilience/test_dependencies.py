"""A dependency fails under load: Redis down, Redis stuck, Redis back empty, PostgreSQL
down, a table locked, a license center's health URL that never answers.

Each asserts what the issue asks: fail closed (never someone else's session), the
gateway's own 503 and never a bare 500 or a hang, /healthz a quick 200 throughout,
/readyz 503 naming the dependency while it is down, recovery within seconds, and no
acknowledged write lost or half-applied.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import psycopg
import pytest
import requests

from gateway.devidp.keys import SigningKey
from tests.resilience import cluster
from tests.resilience.scenario import (
    Expectations,
    Run,
    data_check,
    deployment,
    dump_samples,
    record,
    run_fault,
)
from tests.resilience.traffic import SESSION_COOKIE, Account

pytestmark = [pytest.mark.resilience, pytest.mark.shared_store]
FAULT_SECONDS = 5.0


def finish(
    name: str, run: Run, expect: Expectations, data: tuple[str, list[str]], tmp_path: Path
) -> None:
    """The scenario's row in the table; then every failed expectation, at once."""
    row = record(name, run, data, expect)
    dump_samples(tmp_path / "samples.jsonl", run.traffic, run)
    assert not row.failed, "\n".join(row.failed)


def test_redis_killed_then_restarted(
    postgres: cluster.Postgres, accounts: list[Account], resilience_key: SigningKey, tmp_path: Path
) -> None:
    """SIGKILL redis-server, 5 s down, start it again (its append-only file kept the
    sessions): 503s while down, then the same sessions work again."""
    with deployment(postgres, tmp_path, resilience_key, accounts, persistent_redis=True) as dep:
        traffic = dep.traffic()
        run = run_fault(traffic, dep.redis.kill, dep.redis.start, fault=FAULT_SECONDS)
        expect = Expectations()
        expect.fail_closed(traffic)
        expect.healthz_throughout(run)
        expect.own_503_only(run)
        expect.readyz_names(run, "redis")
        expect.recovered(run)
        finish(
            "Redis killed, restarted (AOF)",
            run,
            expect,
            data_check(postgres, dep.database, traffic),
            tmp_path,
        )


@pytest.mark.resilience_full
def test_redis_paused(
    postgres: cluster.Postgres, accounts: list[Account], resilience_key: SigningKey, tmp_path: Path
) -> None:
    """SIGSTOP redis-server for 5 s (it accepts connections and answers nothing), then
    SIGCONT: every request waits a bounded time, then 503; threads are freed."""
    with deployment(postgres, tmp_path, resilience_key, accounts) as dep:
        traffic = dep.traffic()
        run = run_fault(traffic, dep.redis.pause, dep.redis.resume, fault=FAULT_SECONDS)
        expect = Expectations()
        expect.fail_closed(traffic)
        expect.healthz_throughout(run)
        expect.own_503_only(run)
        expect.readyz_names(run, "redis")
        expect.recovered(run)
        finish(
            "Redis paused (SIGSTOP 5 s)",
            run,
            expect,
            data_check(postgres, dep.database, traffic),
            tmp_path,
        )


@pytest.mark.resilience_full
def test_redis_restarted_empty(
    postgres: cluster.Postgres, accounts: list[Account], resilience_key: SigningKey, tmp_path: Path
) -> None:
    """Redis restarted with nothing in it: every session is gone. Old cookies must
    mean "sign in again" (401 / a redirect to sign-in), never someone else's session."""
    with deployment(postgres, tmp_path, resilience_key, accounts) as dep:
        traffic = dep.traffic(browsers=8)

        old_cookies: dict[str, str] = {}

        def restart_empty() -> None:
            old_cookies.update({b.email: b.cookie for b in traffic.browsers if b.cookie})
            dep.redis.kill()
            dep.redis.start()

        run = run_fault(traffic, restart_empty, lambda: None, fault=FAULT_SECONDS)
        expect = Expectations()
        expect.fail_closed(traffic)
        expect.healthz_throughout(run)
        expect.own_503_only(run)
        expect.recovered(run)
        # Every cookie from before the restart, replayed at both instances after it.
        replayed = [
            (
                email,
                requests.get(
                    f"{g.url}/api/v1/me",
                    cookies={SESSION_COOKIE: cookie},
                    headers={"Accept": "application/json"},
                    timeout=15,
                ),
            )
            for email, cookie in old_cookies.items()
            for g in dep.gateways
        ]
        expect.check(bool(replayed), "no session cookie to replay")
        wrong = [
            f"{email}: {reply.status_code} {reply.text[:80]}"
            for email, reply in replayed
            if reply.status_code != 401
            and not (reply.status_code == 200 and reply.json().get("email") == email)
        ]
        expect.check(not wrong, f"an old cookie got something else than 401 or itself: {wrong[:3]}")
        revived = [email for email, reply in replayed if reply.status_code == 200]
        expect.check(
            not revived, f"old cookies still signed in after Redis lost them: {revived[:3]}"
        )
        resigned = [b for b in traffic.browsers if b.cookie is not None]
        expect.check(
            len(traffic.signed_in) > len(traffic.browsers),
            "nobody signed in again after the sessions were lost",
        )
        expect.check(bool(resigned), "no browser holds a working session at the end")
        finish(
            "Redis restarted empty",
            run,
            expect,
            data_check(postgres, dep.database, traffic),
            tmp_path,
        )


@pytest.mark.resilience_full
def test_postgres_stopped_then_started(
    postgres: cluster.Postgres, accounts: list[Account], resilience_key: SigningKey, tmp_path: Path
) -> None:
    """PostgreSQL fast shutdown, 5 s down, started again: pools reconnect by themselves."""
    with deployment(postgres, tmp_path, resilience_key, accounts) as dep:
        traffic = dep.traffic()
        try:
            run = run_fault(traffic, postgres.stop, postgres.start, fault=FAULT_SECONDS)
        finally:
            if not postgres.answers():
                postgres.start()  # the next scenarios need it
        expect = Expectations()
        expect.fail_closed(traffic)
        expect.healthz_throughout(run)
        expect.own_503_only(run)
        expect.readyz_names(run, "database")
        expect.recovered(run)
        finish(
            "PostgreSQL stopped, started",
            run,
            expect,
            data_check(postgres, dep.database, traffic),
            tmp_path,
        )


@pytest.mark.resilience_full
def test_users_table_locked(
    postgres: cluster.Postgres, accounts: list[Account], resilience_key: SigningKey, tmp_path: Path
) -> None:
    """LOCK TABLE users IN ACCESS EXCLUSIVE MODE held 5 s by a second connection: every
    request that reads users waits; it must give up in bounded time with a 503."""
    with deployment(postgres, tmp_path, resilience_key, accounts) as dep:
        traffic = dep.traffic()
        holder: dict[str, psycopg.Connection[tuple[object, ...]]] = {}
        lock = threading.Lock()

        def take_lock() -> None:
            with lock:
                connection = psycopg.connect(postgres.dsn(dep.database))
                connection.execute("BEGIN")
                connection.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
                holder["connection"] = connection

        def release_lock() -> None:
            with lock:
                connection = holder.pop("connection")
                connection.rollback()
                connection.close()

        try:
            run = run_fault(traffic, take_lock, release_lock, fault=FAULT_SECONDS)
        finally:
            if "connection" in holder:
                holder["connection"].close()
        expect = Expectations()
        expect.fail_closed(traffic)
        expect.healthz_throughout(run)
        expect.own_503_only(run)
        expect.recovered(run)
        finish(
            "PostgreSQL users table locked 5 s",
            run,
            expect,
            data_check(postgres, dep.database, traffic),
            tmp_path,
        )


@pytest.mark.resilience_full
def test_license_center_probe_hangs(
    postgres: cluster.Postgres, accounts: list[Account], resilience_key: SigningKey, tmp_path: Path
) -> None:
    """The legacy license center's health URL accepts and never answers. Probes run in
    the background: no user request waits on it; the system is marked down after two
    failed probes and up again once the URL answers."""
    silent = cluster.SilentServer()
    try:
        urls = {"legacy": silent.url, "new": silent.url}
        extra = {
            "GATEWAY_SYSTEM_HEALTH_URLS": json.dumps(urls),
            "GATEWAY_HEALTH_CHECK_ENABLED": "true",
            "GATEWAY_HEALTH_CHECK_INTERVAL_SECONDS": "1",
        }
        silent.answer()  # healthy while the deployment starts
        with deployment(postgres, tmp_path, resilience_key, accounts, extra_env=extra) as dep:
            traffic = dep.traffic()
            store = dep.redis.client()

            def state() -> str:
                raw = store.get("health:probe:legacy")
                return json.loads(raw)["state"] if raw else "unknown"

            def hang() -> None:
                silent.answering.clear()

            seen_down: list[str] = []

            def watch_down() -> None:
                cluster.wait_for(lambda: state() == "down", 15, "the probe to mark legacy down")
                seen_down.append("down")

            def answer_again() -> None:
                try:
                    watch_down()
                finally:
                    silent.answer()

            run = run_fault(traffic, hang, answer_again, fault=FAULT_SECONDS, recovery_limit=30)
            back_up = state()
            store.close()
            expect = Expectations()
            expect.fail_closed(traffic)
            expect.healthz_throughout(run)
            expect.own_503_only(run)
            expect.no_5xx(run.traffic.samples, "5xx while a probe hangs")
            during = run.during
            slow = [s for s in during if s.seconds > 1.0]
            expect.check(not slow, f"{len(slow)} user requests waited > 1 s on a hanging probe")
            expect.check(bool(seen_down), "legacy never marked down")
            expect.check(back_up in ("up", "unknown"), f"legacy still {back_up} after it answered")
            expect.recovered(run)
            finish(
                "License center probe hangs",
                run,
                expect,
                data_check(postgres, dep.database, traffic),
                tmp_path,
            )
    finally:
        silent.close()
