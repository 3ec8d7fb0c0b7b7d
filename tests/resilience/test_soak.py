"""The soak: mixed traffic at half the measured capacity on two instances for 30
minutes (RESILIENCE_SOAK_SECONDS; `make soak`). Zero 5xx, workers' memory flat, and
no more PostgreSQL connections or Redis clients in the last third than the pools held
at full load (the capacity measurement) or in the soak's first half: a leak keeps
growing, a pool does not."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.devidp.keys import SigningKey
from tests.resilience import cluster
from tests.resilience.scenario import (
    RESULTS,
    Expectations,
    Row,
    data_check,
    deployment,
    p99,
    seen,
)
from tests.resilience.traffic import USER_FACING, Account, Sample

pytestmark = [
    pytest.mark.resilience,
    pytest.mark.shared_store,
    pytest.mark.soak,  # deselected outside make soak (conftest)
]
SOAK_SECONDS = float(os.environ.get("RESILIENCE_SOAK_SECONDS", "1800"))
CAPACITY_SECONDS = 10.0
SAMPLE_EVERY = 5.0
RSS_GROWTH_LIMIT = 1.25  # the last third's median worker RSS against the first third's


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def connections(postgres: cluster.Postgres, database: str) -> int:
    """The gateway's connections to its database (ours, asking, not counted)."""
    found = postgres.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid()",
        database,
    )
    count = found[0][0]
    assert isinstance(count, int)
    return count


def good_rate(samples: Sequence[Sample], seconds: float) -> float:
    return sum(1 for s in samples if s.kind in USER_FACING and s.good) / seconds


def test_soak(
    postgres: cluster.Postgres, accounts: list[Account], resilience_key: SigningKey, tmp_path: Path
) -> None:
    with deployment(postgres, tmp_path, resilience_key, accounts) as dep:
        # Capacity: as fast as 16 browsers can go (no pacing), which also warms up.
        flat_out = dep.traffic(browsers=16, rate=100_000.0)
        flat_out.start()
        time.sleep(CAPACITY_SECONDS)  # the measuring window
        # Under full load every pool holds what it needs: the soak must never hold more.
        peak_pg, peak_redis = connections(postgres, dep.database), dep.redis.info_clients() - 1
        flat_out.stop()
        capacity = good_rate(flat_out.samples, CAPACITY_SECONDS)
        rate = max(2.0, capacity / 2 / 0.9)  # Traffic sends about 0.9 x rate user requests
        traffic = dep.traffic(browsers=10, rate=rate)
        readings: list[tuple[float, float, int, int]] = []  # t, worker RSS MB, PG, Redis
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(SAMPLE_EVERY):
                workers = [pid for g in dep.gateways for pid in g.worker_pids()]
                readings.append(
                    (
                        time.monotonic(),
                        sum(rss_mb(p) for p in workers) / max(1, len(workers)),
                        connections(postgres, dep.database),
                        dep.redis.info_clients() - 1,
                    )
                )

        sampler = threading.Thread(target=sample, daemon=True)
        started = time.monotonic()
        traffic.start()
        sampler.start()
        try:
            time.sleep(SOAK_SECONDS)  # the soak itself
        finally:
            stop.set()
            sampler.join(timeout=30)
            traffic.stop()
        elapsed = time.monotonic() - started
        third = max(1, len(readings) // 3)
        first, last = readings[:third], readings[-third:]
        rss_before = statistics.median(r[1] for r in first)
        rss_after = statistics.median(r[1] for r in last)
        # Pools open connections lazily, when requests and background jobs happen to
        # coincide: by half-time they hold what they ever need. A leak keeps growing.
        first_half = readings[: max(1, len(readings) // 2)]
        pg_before = max(peak_pg, *(r[2] for r in first_half))
        redis_before = max(peak_redis, *(r[3] for r in first_half))
        pg_after, redis_after = max(r[2] for r in last), max(r[3] for r in last)
        expect = Expectations()
        expect.fail_closed(traffic)
        expect.no_5xx(traffic.samples, "5xx or failed requests during the soak")
        expect.check(
            rss_after <= rss_before * RSS_GROWTH_LIMIT,
            f"worker RSS grew {rss_before:.0f} -> {rss_after:.0f} MB",
        )
        expect.check(
            pg_after <= pg_before, f"PostgreSQL connections grew {pg_before} -> {pg_after}"
        )
        expect.check(
            redis_after <= redis_before, f"Redis clients grew {redis_before} -> {redis_after}"
        )
        users = [s for s in traffic.samples if s.kind in USER_FACING]
        data = data_check(postgres, dep.database, traffic)
        RESULTS.append(
            Row(
                f"Soak {elapsed / 60:.0f} min at half capacity "
                f"({good_rate(users, elapsed):.0f} of {capacity:.0f} req/s)",
                f"{seen(users)}; worker RSS {rss_before:.0f}->{rss_after:.0f} MB, "
                f"PG connections {pg_before}->{pg_after}, "
                f"Redis clients {redis_before}->{redis_after}",
                p99(users),
                None,
                sum(1 for s in traffic.samples if s.status is not None and s.status >= 500),
                data[0],
                expect.failed + data[1],
                recovery_text="n/a",
            )
        )
        assert not expect.failed + data[1], "\n".join(expect.failed + data[1])
