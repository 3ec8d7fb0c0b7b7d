"""Real processes on loopback that a fault scenario may kill, pause and restart: its own
PostgreSQL cluster, its own redis-server, gateway instances under gunicorn with the
shipped settings, Debian's nginx in front, and a license center whose health URL
accepts connections and never answers.

Each process is started in its own process group, so `kill` ends it with its children
(gunicorn's workers, nginx's), and every class has an idempotent `close` a scenario
calls in a finally.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path

import psycopg
import redis
import requests

from tests.ops.processes import BIN

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 90.0
POSTGRES_USER = "postgres"
NGINX_TEMP_PREFIX = "/tmp/switchyard-nginx"  # noqa: S108 - the shipped config's, replaced


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition` until it holds (bounded); returns the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)  # polling interval, bounded by the deadline
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def end_process_group(process: subprocess.Popen[bytes], first: int, grace: float) -> None:
    """Signal the group, wait `grace`, then SIGKILL whatever is left of it."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, first)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind by a killed master
    if process.poll() is None:
        process.wait(timeout=30)


# Debian puts nginx in /usr/sbin, which is not on every user's PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
PROGRAMS = ("initdb", "postgres", "redis-server")


def missing_programs() -> list[str]:
    """The programs the scenarios start that are not installed."""
    return [name for name in PROGRAMS if shutil.which(name, path=SEARCH_PATH) is None]


def program(name: str) -> str:
    found = shutil.which(name, path=SEARCH_PATH)
    assert found, f"the resilience scenarios need {name} on PATH"
    return found


def postgres_account() -> int | None:
    """PostgreSQL refuses to run as root: the postgres account's uid when we are root."""
    return pwd.getpwnam(POSTGRES_USER).pw_uid if os.geteuid() == 0 else None


def postgres_group() -> int | None:
    return pwd.getpwnam(POSTGRES_USER).pw_gid if os.geteuid() == 0 else None


class Postgres:
    """A throwaway PostgreSQL cluster: initdb into a temp dir, trust auth, fsync off."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="switchyard-resil-pg-"))
        self.data = self.home / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = self.home / "postgres.log"
        if os.geteuid() == 0:
            account = pwd.getpwnam(POSTGRES_USER)
            os.chown(self.home, account.pw_uid, account.pw_gid)
        subprocess.run(  # noqa: S603 - PostgreSQL's own initdb
            [
                program("initdb"),
                "-D",
                str(self.data),
                "-U",
                POSTGRES_USER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            user=postgres_account(),
            group=postgres_group(),
            extra_groups=[] if os.geteuid() == 0 else None,
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        log = self._log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - PostgreSQL's own server
            [
                program("postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.home),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=postgres_account(),
            group=postgres_group(),
            extra_groups=[] if os.geteuid() == 0 else None,
        )
        log.close()
        wait_for(self.answers, STARTUP_SECONDS, f"PostgreSQL on port {self.port}")

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.dsn(), connect_timeout=2) as connection:
                connection.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are cut, committed work is kept."""
        if self.process is not None:
            end_process_group(self.process, signal.SIGINT, 60)
            self.process = None

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        with psycopg.connect(self.dsn(database), autocommit=True, connect_timeout=5) as connection:
            cursor = connection.execute(sql.encode())
            return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


class Redis:
    """A throwaway redis-server on a free port; `persistent` keeps data across a kill
    (an append-only file synced on every write), otherwise it restarts empty."""

    def __init__(self, work: Path, *, persistent: bool = False) -> None:
        self.work = work / f"redis-{id(self)}"
        self.work.mkdir()
        self.port = free_port()
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else []
        log = (self.work / "redis.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - Debian's redis-server
            [
                program("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *persistence,
                "--dir",
                str(self.work),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(self.answers, STARTUP_SECONDS, f"Redis on port {self.port}")

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=2).ping())
        except redis.RedisError:
            return False

    def info_clients(self) -> int:
        client = redis.Redis.from_url(self.url, socket_timeout=5)
        try:
            return int(client.info("clients")["connected_clients"])
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None:
            end_process_group(self.process, signal.SIGKILL, 10)
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def close(self) -> None:
        if self.process is not None:
            with suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)  # a paused server cannot exit
        self.kill()


class Gateway:
    """One gateway instance: gunicorn with the shipped configuration on a fixed port."""

    LISTENING = re.compile(r"Listening at: (http://[0-9.]+:[0-9]+)")

    def __init__(self, name: str, work: Path, env: dict[str, str]) -> None:
        self.name = name
        self.work = work / name
        self.work.mkdir(exist_ok=True)
        self.port = free_port()
        self.env = {**env, "PORT": str(self.port)}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = (self.work / f"gunicorn-{self.starts}.log").open("ab")
        command: list[str | Path] = [
            BIN / "gunicorn",
            "-c",
            "python:gateway.gunicorn_conf",
            "gateway.wsgi:app",
        ]
        self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn
            command,
            cwd=self.work,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        """Every worker booted and /readyz 200 (so both workers have their app)."""

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log_tail()}")
            if len(self.worker_pids()) < int(self.env.get("GATEWAY_WORKERS", "1")):
                return False
            try:
                return requests.get(f"{self.url}/readyz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(ready, timeout, f"{self.name} to be ready")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def log_tail(self, chars: int = 4000) -> str:
        logs = sorted(self.work.glob("gunicorn-*.log"))
        return logs[-1].read_text(errors="replace")[-chars:] if logs else ""

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.work.glob("*.log")))

    def stop(self) -> int | None:
        """gunicorn's graceful shutdown (SIGTERM to the master): in-flight requests end."""
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=60)
        end_process_group(self.process, signal.SIGKILL, 5)
        self.process = None
        return status

    def kill(self) -> None:
        """SIGKILL to the master and its workers at once, as when the host dies."""
        if self.process is not None:
            end_process_group(self.process, signal.SIGKILL, 10)
            self.process = None

    def close(self) -> None:
        if self.process is not None:
            end_process_group(self.process, signal.SIGTERM, 30)
            self.process = None


def nginx_binary() -> str | None:
    """Debian's nginx, installed with apt-get when missing and we are root."""
    found = shutil.which("nginx", path=SEARCH_PATH)
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("resilience: installing Debian's nginx-light with apt-get", file=sys.stderr)
    subprocess.run(  # noqa: S603
        ["apt-get", "install", "-y", "-qq", "nginx-light"],  # noqa: S607
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        check=False,
        timeout=600,
    )
    return shutil.which("nginx", path=SEARCH_PATH)


class Nginx:
    """deploy/nginx.conf with our two instances as its upstream, in a temp dir."""

    def __init__(self, binary: str, work: Path, upstreams: list[int]) -> None:
        self.binary = binary
        self.work = work / "nginx"
        self.work.mkdir()
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        conf = (ROOT / "deploy" / "nginx.conf").read_text()
        shipped = re.search(r"server gateway:8000([^;]*);", conf)
        assert shipped is not None, "deploy/nginx.conf names no upstream server"
        # RESILIENCE_NGINX_SERVER_OPTIONS (e.g. "max_fails=1") tries other upstream
        # options than the shipped ones, to see what a change to deploy/nginx.conf does.
        options = os.environ.get("RESILIENCE_NGINX_SERVER_OPTIONS", shipped.group(1)).strip()
        servers = "".join(
            f"server 127.0.0.1:{port}{' ' + options if options else ''};\n        "
            for port in upstreams
        )
        conf = conf.replace(shipped.group(0), servers.rstrip())
        conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{self.port};")
        conf = conf.replace(NGINX_TEMP_PREFIX, str(self.work / "nginx"))
        assert str(self.work) in conf and f"127.0.0.1:{upstreams[0]}" in conf
        self.conf = self.work / "nginx.conf"
        self.conf.write_text(conf)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.work / "nginx.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - Debian's nginx
            [self.binary, "-c", str(self.conf), "-p", str(self.work), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def answers() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError((self.work / "nginx.log").read_text())
            try:
                return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answers, 30, "nginx")

    def close(self) -> None:
        if self.process is not None:
            end_process_group(self.process, signal.SIGQUIT, 15)
            self.process = None


class SilentServer:
    """A license center's health URL that accepts connections and never answers, until
    `answer()`: then it replies 200 to every request (the fault has ended)."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self.held: list[socket.socket] = []
        self.answering = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def answer(self) -> None:
        self.answering.set()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            if not self.answering.is_set():
                self.held.append(connection)  # accepted, read nothing, answer never
                continue
            with connection:
                connection.settimeout(2)
                try:
                    connection.recv(65536)
                    body = json.dumps({"status": "ok"}).encode()
                    connection.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Connection: close\r\nContent-Length: "
                        + str(len(body)).encode()
                        + b"\r\n\r\n"
                        + body
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        for connection in self.held:
            connection.close()
        self._socket.close()
