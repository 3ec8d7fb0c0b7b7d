"""gunicorn settings for the gateway: `gunicorn -c python:gateway.gunicorn_conf gateway.wsgi:app`.

Read from the environment (gateway.core.settings.ServerSettings names each): PORT (8000),
GATEWAY_BIND_HOST (0.0.0.0), GATEWAY_WORKERS (2 x cores + 1; 1 without
GATEWAY_REDIS_URL), GATEWAY_THREADS (8), GATEWAY_TIMEOUT (30 s), GATEWAY_MAX_REQUESTS
(5000; 0 never recycles a worker), FORWARDED_ALLOW_IPS (127.0.0.1). Access logs are
JSON lines on stdout.

The master checks every GATEWAY_* setting before it binds or forks: a bad one stops
it with one line and exit status 1. It also gives the workers one folder for their
Prometheus metrics (PROMETHEUS_MULTIPROC_DIR), so /metrics counts all of them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from gateway.core.settings import (
    ServerSettings,
    Settings,
    SettingsError,
    load_server_settings,
    load_settings,
    require_secret_key,
)

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def checked_settings() -> tuple[Settings, ServerSettings]:
    """The gateway's settings and gunicorn's; a bad one prints one line on stderr and
    exits with status 1, before anything binds or forks."""
    try:
        settings = load_settings()
        require_secret_key(settings)
        return settings, load_server_settings()
    except SettingsError as error:
        sys.exit(f"switchyard: cannot start: {error}")


def metrics_dir() -> tuple[Path, bool]:
    """The workers' shared metrics folder, emptied, and whether we made it: the
    operator's PROMETHEUS_MULTIPROC_DIR, else a fresh one (in /dev/shm when there is one)."""
    configured = os.environ.get(METRICS_DIR_VARIABLE)
    if configured:
        folder = Path(configured)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # counts of an earlier run would add up
            stale.unlink()
        return folder, False
    shm = Path("/dev/shm")  # noqa: S108 - a private folder made by mkdtemp
    folder = Path(tempfile.mkdtemp(prefix="switchyard-metrics-", dir=shm if shm.is_dir() else None))
    os.environ[METRICS_DIR_VARIABLE] = str(folder)  # the workers inherit it
    return folder, True


gateway_settings, server_settings = checked_settings()
# Before any worker imports prometheus_client, which reads the variable once.
prometheus_dir, made_prometheus_dir = metrics_dir()

bind = f"{server_settings.bind_host}:{server_settings.port}"
workers = server_settings.workers or multiprocessing.cpu_count() * 2 + 1
if not os.environ.get("GATEWAY_REDIS_URL"):
    # The embedded store lives in one process: a second worker would not see its
    # sessions, pending sign-ins or replay cache. Real concurrency needs Redis.
    workers = 1
# gthread, closing its listening socket as soon as it stops (gateway.gunicorn_worker).
worker_class = "gateway.gunicorn_worker.ThreadWorker"
# Two requests at once overlap one's database and Redis waits with the other's Python
# work; more only add GIL hand-offs (measured: 4 threads gave 10 % fewer routing
# requests per second and a 30 % higher p99 than 2; see docs/performance.md). So the
# app runs two at once (GATEWAY_ACTIVE_REQUESTS) and the other threads wait for a turn,
# a bounded time: a stuck dependency cannot take every thread, and the health checks,
# which never wait, always find one (gateway.core.admission).
threads = server_settings.threads
timeout = server_settings.timeout
graceful_timeout = 30
keepalive = 5
# Each worker builds its own app: python3-saml, lxml and xmlsec state and database
# pools must not be shared across fork.
preload_app = False
# Recycle workers now and then; GATEWAY_MAX_REQUESTS=0 turns it off (the memory benchmark).
max_requests = server_settings.max_requests
max_requests_jitter = 500 if max_requests else 0
# Only these proxies may set X-Forwarded-Proto and friends for gunicorn itself;
# the app's GATEWAY_TRUSTED_PROXIES decides what Flask believes.
forwarded_allow_ips = server_settings.forwarded_allow_ips
# Heartbeat files in memory, not on a possibly slow container disk (gunicorn's advice).
if Path("/dev/shm").is_dir():  # noqa: S108 - gunicorn's own files, not ours
    worker_tmp_dir = "/dev/shm"  # noqa: S108

accesslog = "-"
errorlog = "-"
loglevel = gateway_settings.log_level.lower()


def child_exit(_server: Any, worker: Any) -> None:
    """A worker is gone: drop its live gauges from the shared metrics folder."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(_server: Any) -> None:
    """Remove the metrics folder this configuration made (not an operator's)."""
    if made_prometheus_dir:
        shutil.rmtree(prometheus_dir, ignore_errors=True)


class JsonAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no types
    """One JSON object per request, so log pipelines need no format-specific parser."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.cfg.accesslog:
            return
        headers = dict(resp.headers) if resp.headers else {}
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": "http.access",
            "remote": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(str(resp.status).split()[0]),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "request_id": headers.get("X-Request-ID"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        self.access_log.info(json.dumps(record))


logger_class = JsonAccessLogger
