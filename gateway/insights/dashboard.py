"""The migration dashboard: per line, where accounts and logins go, over hours or days."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.csv_export import csv_text
from gateway.core.models import AccountOverride, PilotAccount, ProductLine
from gateway.core.store import Store
from gateway.routing import counters as metrics
from gateway.routing.config import RoutingConfig
from gateway.routing.decision import SYSTEMS
from gateway.routing.preview import LineSides, line_sides

WINDOWS = {"hour": 48, "day": 30}
SIDES_PREFIX = "dashboard:sides:"
# Imports change entitlements without a configuration version; a minute-old view is fine.
SIDES_TTL_SECONDS = 60


@dataclass(frozen=True)
class LineRow:
    """One product line on the dashboard."""

    code: str
    name: str
    state: str
    percent: str
    sides: LineSides
    pilots: int
    overrides: int
    routed: dict[str, int]


@dataclass(frozen=True)
class Dashboard:
    rows: list[LineRow]
    granularity: str
    buckets: list[metrics.Bucket]
    labels: list[str]

    def series(self, prefix: str, code: str | None = None) -> dict[str, list[int]]:
        """Counts per system over the buckets: logins (`login`), picks (`choice`), or one
        line's routed decisions (`line` with `code`)."""
        middle = f"{code}:" if code else ""
        return {
            system: [bucket.get(f"{prefix}:{middle}{system}") for bucket in self.buckets]
            for system in SYSTEMS
        }

    @property
    def errors(self) -> int:
        return sum(v for b in self.buckets for k, v in b.counts.items() if k.startswith("error:"))


def bucket_label(start: datetime, granularity: str) -> str:
    return start.strftime("%d %b %H:00" if granularity == "hour" else "%d %b")


def load_buckets(store: Store, granularity: str, now: datetime) -> list[metrics.Bucket]:
    if granularity == "day":
        return metrics.daily(store, now, WINDOWS["day"])
    return metrics.hourly(store, now, WINDOWS["hour"])


def build_dashboard(
    db: Session,
    store: Store,
    config: RoutingConfig,
    *,
    granularity: str,
    today: date,
    grace_days: int,
    now: datetime,
) -> Dashboard:
    """Everything the dashboard page and the API's metrics show."""
    granularity = granularity if granularity in WINDOWS else "hour"
    buckets = load_buckets(store, granularity, now)
    sides = cached_sides(db, store, config, today=today, grace_days=grace_days, now=now)
    pilots = _count_by_line(db, PilotAccount.product_line_id)
    overrides = _count_by_line(db, AccountOverride.product_line_id)
    rows = []
    for line in db.scalars(select(ProductLine).order_by(ProductLine.name)):
        config_line = config.lines.get(line.code)
        routed = {s: sum(b.get(f"line:{line.code}:{s}") for b in buckets) for s in SYSTEMS}
        rows.append(
            LineRow(
                line.code,
                line.name,
                config_line.state if config_line else line.state,
                str(line.rollout_percent),
                sides.get(line.code, LineSides(line.code, {}, {}, ())),
                pilots.get(line.id, 0),
                overrides.get(line.id, 0),
                routed,
            )
        )
    labels = [bucket_label(b.start, granularity) for b in buckets]
    return Dashboard(rows, granularity, buckets, labels)


def cached_sides(
    db: Session,
    store: Store,
    config: RoutingConfig,
    *,
    today: date,
    grace_days: int,
    now: datetime,
) -> dict[str, LineSides]:
    """line_sides, shared by all workers for a minute per configuration version: it reads
    every active entitlement (seconds at 500,000), too much for each page view."""
    key = f"{SIDES_PREFIX}{config.version}:{today.isoformat()}"
    raw = store.get(key)
    if raw is not None:
        return {
            code: LineSides(code, v["accounts"], v["entitlements"], tuple(v["waiting"]))
            for code, v in json.loads(raw).items()
        }
    sides = line_sides(db, config, today=today, grace_days=grace_days, now=now)
    encoded = {
        code: {
            "accounts": v.accounts,
            "entitlements": v.entitlements,
            "waiting": list(v.waiting_for_data),
        }
        for code, v in sides.items()
    }
    store.set(key, json.dumps(encoded), ex=SIDES_TTL_SECONDS)
    return sides


def _count_by_line(db: Session, column: object) -> dict[int, int]:
    query = select(column, func.count()).group_by(column)  # type: ignore[call-overload]
    return {line_id: count for line_id, count in db.execute(query)}


def counters_csv(buckets: list[metrics.Bucket], granularity: str) -> str:
    """period_start, metric, product_line, system, count: one row per non-zero counter."""
    rows = []
    for bucket in buckets:
        for field, count in sorted(bucket.counts.items()):
            metric, _, rest = field.partition(":")
            line, _, system = rest.rpartition(":") if metric == "line" else ("", "", rest)
            rows.append([bucket.start.isoformat(), granularity, metric, line, system, count])
    header = ["period_start", "granularity", "metric", "product_line", "system", "count"]
    return csv_text(header, rows)
