"""Routing counters: Redis hashes per UTC hour, incremented as decisions happen.

Each process adds its counts up in memory and writes them at most once a second, in
one pipelined round trip (HINCRBY by the sums, on the hour's hash): a login costs no
Redis round trip of its own, and the dashboard is at most a second behind. Reading
the counters writes this process's pending counts first; a process that ends writes
what it holds (a worker killed outright loses at most its last second). Never a
database write. Fields: `line:<code>:<system>` (a line routed there), `login:<system>`
(a hand-off), `kind:<kind>` (system/choice/none/no_access/unavailable),
`choice:<system>` (a pick on the choice page), `error:<status>` (a failed sign-in or
routing request). Day views add up the hours, so only hours are stored.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from flask import Flask, Response, current_app, has_app_context, request

from gateway.core.models.base import utcnow
from gateway.core.store import Store, get_store
from gateway.routing.decision import RouteDecision

PREFIX = "metrics:hour:"
# Long enough for a 30-day chart plus margin; Redis forgets older hours by itself.
TTL_SECONDS = 40 * 24 * 3600
# How long a process holds counts before writing them.
FLUSH_SECONDS = 1.0
# Endpoints whose failures count as sign-in or routing errors on the dashboard.
COUNTED_ENDPOINTS = frozenset(
    {"sso.acs", "sso.login", "landing.route", "landing.choose", "landing.choose_post"}
)


def hour_key(moment: datetime) -> str:
    return PREFIX + moment.strftime("%Y%m%d%H")


class PendingCounts:
    """One app's counts not yet written to its store."""

    def __init__(self, store: Store, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.store = store
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._written_at = time.monotonic()

    def add(self, key: str, fields: Iterable[str]) -> None:
        """Count `fields` of hour `key`; write everything held once a second has passed."""
        with self._lock:
            for field in fields:
                self._counts[key, field] += 1
            due = time.monotonic() - self._written_at >= self.flush_seconds
        if due:
            self.write()

    def write(self) -> None:
        """Write what is held in one round trip. Raises RedisError, keeping the counts
        for the next attempt."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._written_at = time.monotonic()
        if not counts:
            return
        pipe = self.store.pipeline(transaction=False)
        for (key, field), count in counts.items():
            pipe.hincrby(key, field, count)
        for key in {key for key, _field in counts}:
            pipe.expire(key, TTL_SECONDS)
        try:
            pipe.execute()
        except redis.RedisError:
            with self._lock:
                self._counts.update(counts)
            raise


def _pending_for(store: Store) -> PendingCounts | None:
    """The app's pending counts, when they are for `store` (None outside an app)."""
    if not has_app_context():
        return None
    pending: PendingCounts | None = current_app.extensions.get("routing_counters")
    return pending if pending is not None and pending.store is store else None


def _increment(store: Store, moment: datetime, fields: Iterable[str]) -> None:
    pending = _pending_for(store)
    if pending is None:  # not the app's own store: write at once
        pending = PendingCounts(store)
        pending.add(hour_key(moment), fields)
        pending.write()
        return
    pending.add(hour_key(moment), fields)


def write_pending(store: Store) -> None:
    """Write this process's pending counts for `store` now (before reading counters)."""
    pending = _pending_for(store)
    if pending is not None:
        pending.write()


def count_decision(store: Store, decision: RouteDecision, moment: datetime) -> None:
    """Count one routing decision: its kind, each line's system, and the hand-off."""
    fields = [f"kind:{decision.kind}"]
    fields += [
        f"line:{t.line_code}:{t.system}" for t in decision.trace if t.system not in decision.down
    ]
    if decision.kind == "system":
        fields.append(f"login:{decision.systems[0]}")
    _increment(store, moment, fields)


def count_choice(store: Store, system: str, moment: datetime) -> None:
    """Count a pick on the choice page (also a hand-off to that system)."""
    _increment(store, moment, [f"choice:{system}", f"login:{system}"])


def count_error(store: Store, status: int, moment: datetime) -> None:
    _increment(store, moment, [f"error:{status}"])


@dataclass(frozen=True)
class Bucket:
    """Counters of one hour or one day."""

    start: datetime
    counts: dict[str, int]

    def get(self, field: str) -> int:
        return self.counts.get(field, 0)


def hours(end: datetime, count: int) -> Iterator[datetime]:
    """The `count` whole UTC hours up to and including the one `end` falls in."""
    last = end.replace(minute=0, second=0, microsecond=0)
    for back in range(count - 1, -1, -1):
        yield last - timedelta(hours=back)


def hourly(store: Store, end: datetime, count: int) -> list[Bucket]:
    """The last `count` hours of counters, oldest first; this process's pending counts
    are written first, then one pipelined round trip reads them."""
    write_pending(store)
    starts = list(hours(end, count))
    pipe = store.pipeline(transaction=False)
    for start in starts:
        pipe.hgetall(hour_key(start))
    return [
        Bucket(start, {k.decode(): int(v) for k, v in raw.items()})
        for start, raw in zip(starts, pipe.execute(), strict=True)
    ]


def daily(store: Store, end: datetime, count: int) -> list[Bucket]:
    """The last `count` UTC days, each the sum of its 24 hours, oldest first."""
    last_hour = end.replace(hour=23, minute=0, second=0, microsecond=0)
    buckets = hourly(store, last_hour, count * 24)
    days: list[Bucket] = []
    for index in range(count):
        summed: dict[str, int] = {}
        for bucket in buckets[index * 24 : (index + 1) * 24]:
            for field, value in bucket.counts.items():
                summed[field] = summed.get(field, 0) + value
        days.append(Bucket(buckets[index * 24].start, summed))
    return days


def _write_at_exit(reference: weakref.ref[PendingCounts]) -> None:
    pending = reference()
    if pending is not None:
        with contextlib.suppress(redis.RedisError):
            pending.write()


def init_app(app: Flask) -> None:
    """Hold this app's counts until they are written; count failed sign-in and routing
    responses (a counter outage never fails them)."""
    pending = PendingCounts(app.extensions["store"])
    app.extensions["routing_counters"] = pending
    # A weak reference: an app that is gone (tests make many) is not kept for this.
    atexit.register(_write_at_exit, weakref.ref(pending))

    @app.after_request
    def _count_failures(response: Response) -> Response:
        if response.status_code >= 400 and request.endpoint in COUNTED_ENDPOINTS:
            # The request already failed for its own reason; a counter outage adds none.
            with contextlib.suppress(redis.RedisError):
                count_error(get_store(), response.status_code, utcnow())
        return response
