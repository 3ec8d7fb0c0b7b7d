"""Routing counters: Redis hashes per UTC hour, incremented as decisions happen.

One pipelined round trip per login (HINCRBY on the hour's hash), never a database
write. Fields: `line:<code>:<system>` (a line routed there), `login:<system>` (a
hand-off), `kind:<kind>` (system/choice/none/no_access/unavailable), `choice:<system>`
(a pick on the choice page), `error:<status>` (a failed sign-in or routing request).
Day views add up the hours, so only hours are stored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from flask import Flask, Response, request

from gateway.core.models.base import utcnow
from gateway.core.store import Store, get_store
from gateway.routing.decision import RouteDecision

PREFIX = "metrics:hour:"
# Long enough for a 30-day chart plus margin; Redis forgets older hours by itself.
TTL_SECONDS = 40 * 24 * 3600
# Endpoints whose failures count as sign-in or routing errors on the dashboard.
COUNTED_ENDPOINTS = frozenset(
    {"sso.acs", "sso.login", "landing.route", "landing.choose", "landing.choose_post"}
)


def hour_key(moment: datetime) -> str:
    return PREFIX + moment.strftime("%Y%m%d%H")


def _increment(store: Store, moment: datetime, fields: Iterable[str]) -> None:
    pipe = store.pipeline(transaction=False)
    key = hour_key(moment)
    for field in fields:
        pipe.hincrby(key, field, 1)
    pipe.expire(key, TTL_SECONDS)
    pipe.execute()


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
    """The last `count` hours of counters, oldest first; one pipelined round trip."""
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


def init_app(app: Flask) -> None:
    """Count failed sign-in and routing responses; a counter outage never fails them."""

    @app.after_request
    def _count_failures(response: Response) -> Response:
        if response.status_code >= 400 and request.endpoint in COUNTED_ENDPOINTS:
            # The request already failed for its own reason; a counter outage adds none.
            with contextlib.suppress(redis.RedisError):
                count_error(get_store(), response.status_code, utcnow())
        return response
