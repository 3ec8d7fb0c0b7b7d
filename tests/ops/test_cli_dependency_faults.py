"""A `gateway` command whose database or Redis is down, or does not answer, says so in
one line naming the setting and where it listens (never a password), and exits 1:
no traceback, no hang."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from gateway.core import db
from tests.conftest import SECRET
from tests.ops.processes import BIN, run

PASSWORD = "not-to-be-printed"


def closed_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback server that accepts connections and never says a word: a database
    host that is up but does not answer (a hung server, a full backlog behind a proxy)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed by the fixture
            held.append(connection)

    accepting = threading.Thread(target=accept, daemon=True)
    accepting.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()
        for connection in held:
            connection.close()
        accepting.join(timeout=5)


def gateway(
    tmp_path: Path,
    saml_dir: Path,
    variables: dict[str, str],
    command: tuple[str, ...] = ("product-line", "list"),
    timeout: float = 60,
) -> str:
    """Run `gateway <command>`: it must fail with exit status 1 and say one line."""
    env = {"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_SAML_DIR": str(saml_dir), **variables}
    done = run([BIN / "gateway", *command], tmp_path, env, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert PASSWORD not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def test_redis_down_is_one_line_naming_it(tmp_path: Path, saml_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    db.upgrade(url)
    port = closed_port()
    redis_url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    variables = {"GATEWAY_DATABASE_URL": url, "GATEWAY_REDIS_URL": redis_url}
    # A new signing key is announced to every instance through Redis.
    line = gateway(tmp_path, saml_dir, variables, ("keys", "rotate", "--reason", "test"))
    assert line.startswith("Error: GATEWAY_REDIS_URL: ")
    assert f"127.0.0.1:{port}" in line


def test_database_down_is_one_line_naming_it(tmp_path: Path, saml_dir: Path) -> None:
    port = closed_port()
    url = f"postgresql+psycopg://switchyard:{PASSWORD}@127.0.0.1:{port}/switchyard"
    line = gateway(tmp_path, saml_dir, {"GATEWAY_DATABASE_URL": url})
    assert line.startswith("Error: GATEWAY_DATABASE_URL: ")
    assert f"127.0.0.1:{port}" in line or f'"127.0.0.1", port {port}' in line


def test_a_database_that_does_not_answer_is_one_line_after_the_connect_timeout(
    tmp_path: Path, saml_dir: Path, silent_port: int
) -> None:
    url = f"postgresql+psycopg://switchyard:{PASSWORD}@127.0.0.1:{silent_port}/switchyard"
    variables = {"GATEWAY_DATABASE_URL": url, "GATEWAY_DATABASE_CONNECT_TIMEOUT_SECONDS": "2"}
    # Without a connect timeout libpq waits for the server's first word for ever.
    line = gateway(tmp_path, saml_dir, variables, timeout=30)
    assert line.startswith("Error: GATEWAY_DATABASE_URL: ")
    assert "timeout" in line
