"""Admission: how many requests one worker process runs at once.

A worker has more threads than it lets run (GATEWAY_THREADS against
GATEWAY_ACTIVE_REQUESTS): the others wait their turn for at most
GATEWAY_QUEUE_SECONDS, then get a 503 with Retry-After. So a stuck dependency (a locked
table, a paused Redis) holds at most the running requests' threads, the waiting ones are
freed within the wait instead of piling up, and the health checks, which never wait
for a turn, always find a thread: a load balancer sees the instance alive, and /readyz
says which dependency is failing. Running more than two requests at once per worker
buys nothing (the work is Python, under one GIL: docs/performance.md).

    app.wsgi_app = Admission(app.wsgi_app, active=2, wait_seconds=1.0)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

# Never queued: they answer at once, whatever the other requests are waiting for.
UNQUEUED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
PROBLEM_PREFIXES = ("/api/", "/scim/", "/oidc/token", "/oidc/userinfo")
RETRY_AFTER_SECONDS = 1
BUSY_DETAIL = "The sign-in service is busy right now. Please try again in a moment."

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Admission:
    """WSGI middleware: at most `active` requests at once; a request that cannot start
    within `wait_seconds` is answered 503."""

    def __init__(self, wsgi_app: WsgiApp, *, active: int, wait_seconds: float) -> None:
        self.wsgi_app = wsgi_app
        self.turns = threading.BoundedSemaphore(active)
        self.wait_seconds = wait_seconds

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in UNQUEUED_PATHS:
            return self.wsgi_app(environ, start_response)
        if not self.turns.acquire(timeout=self.wait_seconds):
            log.warning(
                "request refused: no turn within %.1f s", self.wait_seconds,
                extra={"event": "request.shed", "path": path[:200]},
            )  # fmt: skip
            return busy(path, start_response)
        # The turn ends when the app has made its answer: Flask builds the whole body
        # before it returns, and sending it to a slow client holds no turn.
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            self.turns.release()


def busy(path: str, start_response: StartResponse) -> list[bytes]:
    """The 503 of a request that got no turn: problem+json for machines, a page for people."""
    if path.startswith(PROBLEM_PREFIXES):
        problem = {
            "type": "about:blank",
            "title": "Service temporarily unavailable",
            "status": 503,
            "detail": BUSY_DETAIL,
        }
        body, content_type = json.dumps(problem).encode(), "application/problem+json"
    else:
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Temporarily unavailable · Switchyard</title>"
            '<link rel="stylesheet" href="/static/switchyard.css"></head>'
            f"<body><main><h1>Temporarily unavailable</h1><p>{BUSY_DETAIL}</p></main></body></html>"
        ).encode()
        content_type = "text/html; charset=utf-8"
    start_response(
        "503 SERVICE UNAVAILABLE",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(RETRY_AFTER_SECONDS)),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", "default-src 'none'; style-src 'self'"),
        ],
    )
    return [body]
