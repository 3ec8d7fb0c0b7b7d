"""JSON logs with the request id on every line."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of each record (servers and
    test runners swap it after start-up)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """Ignored: the stream is always the current sys.stderr."""


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or None outside a request) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


def configure_logging(level: str) -> None:
    """Send JSON lines to stderr; idempotent, so app factories may call it repeatedly."""
    root = logging.getLogger()
    if not any(getattr(h, "_gateway", False) for h in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "asctime": "time"},
            )
        )
        handler.addFilter(RequestIdFilter())
        handler._gateway = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic's INFO lines (its plugins set up as it is imported, each step it runs) are
    # for its own command line; `gateway db upgrade` prints what it did in one line.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


# Start-up notices a server should log and a one-shot command should not: logger, event.
STARTUP_NOTICES = {
    "gateway.core.store": "store.embedded",
    "gateway.core.db": "db.default_sqlite",
    "gateway.core.mail": "mail.not_configured",
}


@contextmanager
def without_startup_notices() -> Iterator[None]:
    """Drop the start-up notices for the duration (a command building its app): said on
    every call, they would bury the command's own output."""

    def keep(record: logging.LogRecord) -> bool:
        return getattr(record, "event", None) not in STARTUP_NOTICES.values()

    loggers = [logging.getLogger(name) for name in STARTUP_NOTICES]
    for logger in loggers:
        logger.addFilter(keep)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(keep)


def init_app(app: Flask) -> None:
    @app.before_request
    def _assign_request_id() -> None:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        # Accept a load balancer's id only when it cannot inject into logs.
        g.request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response
