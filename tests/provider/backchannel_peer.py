"""A relying party's back-channel logout endpoint on loopback, with the behaviours
the tests need (answer, hold until released, fail once, redirect), and a way to wait
for the provider's delivery log events without sleeping."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

WAIT_SECONDS = 20.0


@dataclass
class PeerState:
    """What arrived, per path; `release` lets a held request answer."""

    received: dict[str, list[str]] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, path: str, token: str) -> int:
        with self.changed:
            self.received.setdefault(path, []).append(token)
            self.changed.notify_all()
            return len(self.received[path])

    def tokens(self, path: str) -> list[str]:
        with self.changed:
            return list(self.received.get(path, []))


class Handler(BaseHTTPRequestHandler):
    state: PeerState

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        token = parse_qs(body)["logout_token"][0]
        if self.path == "/hold":
            self.state.held.set()
            self.state.release.wait(WAIT_SECONDS)
        if self.path == "/redirect":
            self.state.record(self.path, token)
            self.answer(302, location="/landed")
            return
        count = self.state.record(self.path, token)
        self.answer(500 if self.path == "/flaky" and count == 1 else 200)

    def answer(self, status: int, location: str | None = None) -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet: the tests assert on what arrived."""


@contextmanager
def running_peer() -> Iterator[tuple[str, PeerState]]:
    state = PeerState()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


class DeliveryEvents(logging.Handler):
    """Collects gateway.provider.backchannel's log events; waits for one to appear."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def named(self, event: str) -> list[logging.LogRecord]:
        with self.changed:
            return [r for r in self.records if getattr(r, "event", None) == event]

    def wait_for(self, event: str, count: int = 1) -> list[logging.LogRecord]:
        with self.changed:
            arrived = self.changed.wait_for(
                lambda: len(self.named(event)) >= count, timeout=WAIT_SECONDS
            )
        assert arrived, f"no {event} within {WAIT_SECONDS} s: {[r.__dict__ for r in self.records]}"
        return self.named(event)


@contextmanager
def delivery_events() -> Iterator[DeliveryEvents]:
    handler = DeliveryEvents()
    logger = logging.getLogger("gateway.provider.backchannel")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
