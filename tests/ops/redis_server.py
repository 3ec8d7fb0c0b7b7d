"""A redis-server of a test's own on a free loopback port, to pause with SIGSTOP and
let go with SIGCONT (always, in a finally), and free ports for "down"."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A redis-server of this test's own, to pause (SIGSTOP) and let go (SIGCONT)."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)


@contextmanager
def running_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server, stopped (and let go first if paused) at the end."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - the test machine's redis-server
        [  # noqa: S607
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(process, port)
    try:
        _wait_until_it_answers(server)
        yield server
    finally:
        process.send_signal(signal.SIGCONT)  # a failed test may have left it paused
        process.terminate()
        process.wait(timeout=10)


def _wait_until_it_answers(server: RedisServer, deadline_seconds: float = 15.0) -> None:
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=1)
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            if client.ping():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)  # polling a starting process, bounded by the deadline
    pytest.fail(f"redis-server on port {server.port} did not start")
