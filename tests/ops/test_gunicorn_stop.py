"""A stopping gunicorn instance refuses new connections at once, while it still
finishes the requests in flight: a proxy then tries another instance, even for a POST,
where a connection taken into a listening socket nobody reads would be reset (a 502;
gateway/gunicorn_worker.py)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import SECRET
from tests.ops.processes import BIN, Server, clean_env, run


def test_a_stopping_instance_refuses_new_connections_while_it_finishes(
    tmp_path: Path, saml_dir: Path
) -> None:
    env = {
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_SAML_DIR": str(saml_dir),
        "GATEWAY_BIND_HOST": "127.0.0.1",
        "PORT": "0",
    }
    assert run([BIN / "gateway", "db", "upgrade"], tmp_path, env).returncode == 0
    command = [BIN / "gunicorn", "-c", "python:gateway.gunicorn_conf", "gateway.wsgi:app"]
    server = Server(command, tmp_path, clean_env(tmp_path, env))
    address = urlsplit(server.wait_listening(timeout=60))
    host, port = address.hostname or "127.0.0.1", address.port or 0
    in_flight = socket.create_connection((host, port), timeout=10)
    try:
        # A worker has booted and taken this connection: it answers on it (keep-alive).
        in_flight.sendall(b"GET /healthz HTTP/1.1\r\nHost: sso.test\r\n\r\n")
        answer = b""
        while b'"ok"}' not in answer:
            chunk = in_flight.recv(4096)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        # A sign-in whose body is still arriving: the worker holds it until it is done.
        in_flight.sendall(
            b"POST /saml/acs HTTP/1.1\r\nHost: sso.test\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 64\r\n\r\n"
            b"SAMLResponse="
        )
        server.process.send_signal(15)  # SIGTERM: gunicorn's graceful stop
        refused_while_running = False
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up and server.process.poll() is None:
            try:
                socket.create_connection((host, port), timeout=1).close()
            except ConnectionRefusedError:
                refused_while_running = server.process.poll() is None
                break
            except TimeoutError:
                pass  # a SYN that met the listener as it closed: ask again
            # A poll interval, not a wait for something: a flood would fill the backlog.
            time.sleep(0.05)
        assert refused_while_running, "new connections were taken until the instance exited"
    finally:
        in_flight.close()
    assert server.stop() == 0
