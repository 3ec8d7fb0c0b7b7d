"""Health probes of the license centers, run in the background (never per login).

Each probe result is written to the shared store with a TTL; when a system flips
between up and down, the configuration version is bumped so every instance reroutes
at once. A system is down after FAILURES_TO_DOWN failed probes in a row, so one slow
answer does not send customers to a status page. Results expire when no checker runs,
and an unknown result counts as up: only the maintenance switch takes a system away
without evidence.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask

from gateway.core.announce import announce
from gateway.core.jobs import Repeating
from gateway.core.models.base import utcnow
from gateway.core.outbound import OutboundError, outbound_session
from gateway.core.store import Store, get_store
from gateway.routing.config import PROBE_PREFIX

log = logging.getLogger(__name__)
FAILURES_TO_DOWN = 2
PROBE_TIMEOUT_SECONDS = 3.0

Probe = Callable[[str], bool]


def http_probe(url: str) -> bool:
    """Up when the URL answers 2xx within the deadline; a redirect is not followed
    (it counts as down: a health URL that moved is misconfigured)."""
    if not url.startswith(("http://", "https://")):
        return False
    try:
        with outbound_session(PROBE_TIMEOUT_SECONDS) as http:
            reply = http.get(url)
    except (OutboundError, ValueError):
        return False
    return 200 <= reply.status_code < 300


def record_probe(
    store: Store, system: str, healthy: bool, *, now: datetime, ttl_seconds: int
) -> str:
    """Store one probe result; returns the state ("up" or "down") now in force."""
    key = PROBE_PREFIX + system
    raw = store.get(key)
    previous: dict[str, Any] = json.loads(raw) if raw else {"state": "up", "failures": 0}
    failures = 0 if healthy else int(previous.get("failures", 0)) + 1
    state = "up" if healthy or failures < FAILURES_TO_DOWN else "down"
    entry = {"state": state, "failures": failures, "checked_at": now.isoformat()}
    store.set(key, json.dumps(entry), ex=ttl_seconds)
    # No result at all routes like "up", so only a real flip needs announcing.
    if state != previous.get("state", "up"):
        announce(store)  # not a database write: nothing else announces it
        log.warning(
            "system health changed",
            extra={"event": "health.changed", "system": system, "state": state},
        )
    return state


def check_all(
    store: Store, urls: Mapping[str, str], *, probe: Probe, now: datetime, interval: int
) -> dict[str, str]:
    """Probe every configured system once; results live three intervals."""
    return {
        system: record_probe(store, system, probe(url), now=now, ttl_seconds=3 * interval)
        for system, url in sorted(urls.items())
    }


def probe_round(app: Flask, urls: Mapping[str, str], interval: int) -> Callable[[], None]:
    """One round of the background job: probe every system once."""

    def run() -> None:
        check_all(get_store(app), urls, probe=http_probe, now=utcnow(), interval=interval)

    return run


def start_health_checker(app: Flask, urls: Mapping[str, str], interval: int) -> Repeating:
    return Repeating("rollout-health", interval, probe_round(app, urls, interval)).start()
