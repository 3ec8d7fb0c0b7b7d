"""gunicorn settings for the gateway: `gunicorn -c gunicorn.conf.py wsgi:app`.

Read from the environment: PORT (8000), GATEWAY_BIND_HOST (0.0.0.0),
GATEWAY_WORKERS (2 x cores + 1; 1 without GATEWAY_REDIS_URL), GATEWAY_THREADS (2),
GATEWAY_TIMEOUT (30 s), GATEWAY_MAX_REQUESTS (5000; 0 never recycles a worker),
FORWARDED_ALLOW_IPS (127.0.0.1). Access logs are JSON lines on stdout.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

bind = f"{os.environ.get('GATEWAY_BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("GATEWAY_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
if not os.environ.get("GATEWAY_REDIS_URL"):
    # The embedded store lives in one process: a second worker would not see its
    # sessions, pending sign-ins or replay cache. Real concurrency needs Redis.
    workers = 1
worker_class = "gthread"
# Two threads overlap one request's database and Redis waits with another's Python
# work; more only add GIL hand-offs (measured: 4 threads gave 10 % fewer routing
# requests per second and a 30 % higher p99 than 2; see README, Performance).
threads = int(os.environ.get("GATEWAY_THREADS", "2"))
timeout = int(os.environ.get("GATEWAY_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Each worker builds its own app: python3-saml, lxml and xmlsec state and database
# pools must not be shared across fork.
preload_app = False
# Recycle workers now and then; GATEWAY_MAX_REQUESTS=0 turns it off (the memory benchmark).
max_requests = int(os.environ.get("GATEWAY_MAX_REQUESTS", "5000"))
max_requests_jitter = 500 if max_requests else 0
# Only these proxies may set X-Forwarded-Proto and friends for gunicorn itself;
# the app's GATEWAY_TRUSTED_PROXIES decides what Flask believes.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Heartbeat files in memory, not on a possibly slow container disk (gunicorn's advice).
if Path("/dev/shm").is_dir():  # noqa: S108 - gunicorn's own files, not ours
    worker_tmp_dir = "/dev/shm"  # noqa: S108

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info").lower()


class JsonAccessLogger(Logger):
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
