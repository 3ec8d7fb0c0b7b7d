"""One deadline for the whole of each request: GATEWAY_REQUEST_DEADLINE_SECONDS.

Each dependency has its own deadline (a Redis command, connecting to PostgreSQL, a
pooled connection, a statement, a lock, an outbound HTTP request), but a request can
wait on many of them in turn. This one caps their sum. It starts when the request
arrives, before its wait for a turn (gateway.core.admission), and until the answer is
made:

- a dependency call that would start after it does not start (RequestTooSlow);
- a PostgreSQL statement gets at most the time that is left (its statement_timeout
  is lowered for it, only when less is left than the configured deadline, so the
  ordinary request pays nothing), and an outbound request waits at most that long;
- a Redis command keeps its own short deadline (0.5 s by default), so a request ends
  at most that much after its deadline.

What runs after the answer is made (saving the session, counting) is not refused: the
answer is already decided, and a sign-in that made it must not lose its session. Each
of those calls is bounded by its own dependency's deadline.

Background work and commands have no deadline (remaining() is None).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "request_deadline", default=None
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class RequestTooSlow(Exception):
    """The request's deadline passed before a call to `part` ("database", "redis")
    could start: answered 503."""

    def __init__(self, part: str) -> None:
        super().__init__(f"the request's deadline passed before a {part} call")
        self.part = part


def remaining() -> float | None:
    """Seconds left before the current request's deadline (negative once past it), or
    None outside a request or once its answer is made."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def passed() -> bool:
    left = remaining()
    return left is not None and left <= 0


def capped(seconds: float) -> float:
    """`seconds`, or the time left when that is shorter (never below zero)."""
    left = remaining()
    return seconds if left is None else max(0.0, min(seconds, left))


@contextmanager
def request_deadline(seconds: float | None) -> Iterator[None]:
    """The current request's deadline, `seconds` from now (None: none) until the block ends."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def answer_made() -> None:
    """The answer is decided: what follows is bounded by each dependency's own deadline."""
    _deadline.set(None)


class RequestDeadline:
    """WSGI middleware, outermost: starts each request's deadline as it arrives."""

    def __init__(self, wsgi_app: WsgiApp, *, seconds: float) -> None:
        self.wsgi_app = wsgi_app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # Flask builds the whole body before it returns, so the block covers the work.
        with request_deadline(self.seconds):
            return self.wsgi_app(environ, start_response)


def init_app(app: Flask, seconds: float) -> None:
    """Call last in the app factory: the hook then runs before every other after_request
    hook (Flask runs them in reverse), and the middleware wraps every other one."""

    @app.after_request
    def _answer_made(response: Response) -> Response:
        answer_made()
        return response

    app.wsgi_app = RequestDeadline(app.wsgi_app, seconds=seconds)  # type: ignore[method-assign]
