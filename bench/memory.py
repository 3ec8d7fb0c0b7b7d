"""Memory: RSS of one gunicorn worker after many routing requests (default 100,000),
and its growth over the second half of the run, against the bare Flask floor's worker
after the same number of requests. Worker recycling (max_requests) is off for this run,
so a leak shows instead of being hidden by restarts.
"""

from __future__ import annotations

from typing import Any

from bench import harness
from bench.routing import session_cookies

RSS_TARGET_MB = 150.0
GROWTH_TARGET = 0.05


def rss_over_run(bench: harness.Bench, app: str, load: harness.Load, total: int) -> dict[str, Any]:
    """Worker RSS after the first half and after the whole run (recycling off)."""
    port = harness.free_port()
    environment = harness.gateway_env(bench, port, GATEWAY_MAX_REQUESTS="0")
    with harness.gunicorn(bench, app, environment) as server:
        halves, sent = [], 0
        for half in (1, 2):
            while sent < total * half // 2:  # time-bounded runs until the count is reached
                sent += harness.run_wrk(
                    server.url, load, seconds=bench.sizes.seconds,
                    connections=bench.sizes.connections, max_requests=total * half // 2 - sent,
                )["requests"]  # fmt: skip
            halves.append(max(harness.rss_mb(pid) for pid in server.worker_pids()))
    return {"half_mb": halves[0], "end_mb": halves[1], "requests": sent}


def main() -> None:
    options = harness.arguments(__doc__ or "")
    with harness.bench_from(options) as bench:
        total = 400 if bench.smoke else 100_000
        users = harness.sample_users(bench, 50 if bench.smoke else 20_000)
        lines = harness.write_lines(
            bench.work / "memory.lines", [(c, "") for c in session_cookies(bench, users)]
        )
        floor = rss_over_run(
            bench, "bench.floor_app:app", harness.Load(lines, path="/floor"), total
        )
        ours = rss_over_run(bench, "wsgi:app", harness.Load(lines, path="/route"), total)
        harness.report(bench, "memory", figures(ours, floor))


def figures(ours: dict[str, Any], floor: dict[str, Any]) -> list[harness.Figure]:
    growth = ours["end_mb"] / ours["half_mb"] - 1 if ours["half_mb"] else 0.0
    floor_growth = floor["end_mb"] / floor["half_mb"] - 1 if floor["half_mb"] else 0.0
    return [
        harness.Figure(
            "Worker RSS after run", ours["end_mb"], floor["end_mb"], "MB",
            harness.cost_ratio(ours["end_mb"], floor["end_mb"]),
            f"< {RSS_TARGET_MB:.0f} MB", ours["end_mb"] < RSS_TARGET_MB, ours,
        ),
        harness.Figure(
            "Worker RSS growth, 2nd half", growth * 100, floor_growth * 100, "%", None,
            f"< {GROWTH_TARGET * 100:.0f} %", growth < GROWTH_TARGET, floor,
        ),
    ]  # fmt: skip


if __name__ == "__main__":
    main()
