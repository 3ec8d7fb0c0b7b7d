"""Routing at scale: authenticated GET /route for random users of the seeded directory
(200,000 users, 500,000 entitlements on PostgreSQL, sessions in Redis), against a bare
Flask endpoint answering 302 under the same gunicorn settings (the floor).

Then p99 at half the saturating load, and p99 for users of the largest account.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
import redis

from bench import harness

RATIO_TARGET = 0.5
P99_TARGET_MS = 10.0
LARGEST_P99_TARGET_MS = 25.0
SESSION_SECONDS = 8 * 3600


def session_cookies(bench: harness.Bench, users: list[dict[str, Any]]) -> list[str]:
    """A signed-in session per user, written as a sign-in writes it (JSON in Redis)."""
    client = redis.Redis.from_url(bench.redis_url)
    encoder = msgspec.json.Encoder()
    cookies, pipeline = [], client.pipeline(transaction=False)
    for user in users:
        sid = secrets.token_urlsafe(32)
        state = {
            "_permanent": True,
            "user_id": user["id"],
            "account_id": user["account_id"],
            "roles": [],
            "subject": f"portal-{user['email']}",
            "issuer": harness.IDP_ENTITY_ID,
            "saml_session_index": None,
            "signed_in_at": datetime.now(UTC).isoformat(),
            "auth_time": int(time.time()),
            "sid": secrets.token_urlsafe(16),
            # As a sign-in leaves it: renewed just now, so routing writes nothing back
            # (without it, every request here paid a renewal write real routing does not).
            "_renewed_at": int(time.time()),
        }
        pipeline.set(f"session:{sid}", encoder.encode(state), ex=SESSION_SECONDS)
        cookies.append(sid)
    pipeline.execute()
    return cookies


def measure(
    bench: harness.Bench, app: str, lines: harness.Load, largest: harness.Load | None
) -> dict[str, Any]:
    """Saturating rate, then p99 at half that rate (and for the largest account)."""
    sizes, port = bench.sizes, harness.free_port()
    with harness.gunicorn(bench, app, harness.gateway_env(bench, port)) as server:
        harness.run_wrk(server.url, lines, seconds=1, connections=sizes.connections)  # warm
        saturated = harness.run_wrk(
            server.url, lines, seconds=sizes.seconds, connections=sizes.connections
        )
        half_rate = max(saturated["rate"] / 2, 1.0)
        connections = max(1, sizes.connections // 2)
        pace = 1000 * connections / half_rate
        half = harness.run_wrk(
            server.url, lines, seconds=sizes.seconds, connections=connections, delay_ms=pace
        )
        biggest = None
        if largest is not None:
            biggest = harness.run_wrk(
                server.url, largest, seconds=sizes.seconds, connections=connections, delay_ms=pace
            )
    return {"saturated": saturated, "half": half, "largest": biggest}


def main() -> None:
    options = harness.arguments(__doc__ or "")
    with harness.bench_from(options) as bench:
        count = 50 if bench.smoke else 20_000
        users = harness.sample_users(bench, count)
        largest_users = harness.sample_users(bench, min(count, 2_000), account="100001")
        floor_lines = harness.write_lines(bench.work / "floor.lines", [("", "")])
        floor = measure(
            bench, "bench.floor_app:app", harness.Load(floor_lines, path="/floor"), None
        )
        # Sessions made just before they are used: each run below is within a minute of
        # its "sign-in", as routing right after a sign-in is.
        random_load = harness.Load(
            harness.write_lines(
                bench.work / "route.lines", [(c, "") for c in session_cookies(bench, users)]
            ),
            path="/route",
        )
        largest_load = harness.Load(
            harness.write_lines(
                bench.work / "largest.lines",
                [(c, "") for c in session_cookies(bench, largest_users)],
            ),
            path="/route",
        )
        ours = measure(bench, "wsgi:app", random_load, largest_load)
        harness.report(bench, "routing", figures(ours, floor))


def figures(ours: dict[str, Any], floor: dict[str, Any]) -> list[harness.Figure]:
    rate, floor_rate = ours["saturated"]["rate"], floor["saturated"]["rate"]
    ratio = harness.rate_ratio(rate, floor_rate)
    half, largest = ours["half"], ours["largest"]
    clean = all(run["bad"] == 0 for run in (ours["saturated"], half, largest))
    return [
        harness.Figure(
            "Routing at scale (1 worker)", rate, floor_rate, "/s", ratio,
            f">= {RATIO_TARGET} of floor", ratio >= RATIO_TARGET and clean, ours["saturated"],
        ),
        harness.Figure(
            "Routing p99 at half load", half["p99_ms"], floor["half"]["p99_ms"], "ms",
            harness.cost_ratio(half["p99_ms"], floor["half"]["p99_ms"]),
            f"< {P99_TARGET_MS:.0f} ms", half["p99_ms"] < P99_TARGET_MS, half,
        ),
        harness.Figure(
            "Routing p99, largest account", largest["p99_ms"], floor["half"]["p99_ms"], "ms",
            harness.cost_ratio(largest["p99_ms"], floor["half"]["p99_ms"]),
            f"< {LARGEST_P99_TARGET_MS:.0f} ms", largest["p99_ms"] < LARGEST_P99_TARGET_MS,
            largest,
        ),
    ]  # fmt: skip


if __name__ == "__main__":
    main()
