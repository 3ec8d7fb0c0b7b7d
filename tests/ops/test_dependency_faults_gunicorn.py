"""Under real gunicorn (2 workers x 2 threads), a paused Redis holds no worker thread
for long: while it is stopped, a burst of requests that need it each get a 503 within
the deadline, and /healthz keeps answering."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import SECRET
from tests.ops.processes import BIN, Server, clean_env
from tests.ops.redis_server import RedisServer, running_redis

REDIS_TIMEOUT = 0.3
BURST = 12  # three times the threads of the two workers
SESSION_COOKIE = {"switchyard_session": "a-session-id-from-an-earlier-visit"}


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def gateway_url(
    tmp_path: Path, database_url: str, saml_dir: Path, own_redis: RedisServer
) -> Iterator[str]:
    env = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_REDIS_URL": own_redis.url,
        "GATEWAY_REDIS_TIMEOUT_SECONDS": str(REDIS_TIMEOUT),
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_SAML_DIR": str(saml_dir),
        "GATEWAY_SCHEDULER_ENABLED": "false",
        "GATEWAY_HEALTH_CHECK_ENABLED": "false",
        "GATEWAY_MAIL_DELIVERY_ENABLED": "false",
        "GATEWAY_RENEWAL_REMINDERS_ENABLED": "false",
        "GATEWAY_WORKERS": "2",
        "GATEWAY_THREADS": "2",
        "GATEWAY_BIND_HOST": "127.0.0.1",
        "PORT": "0",
    }
    command = [BIN / "gunicorn", "-c", "python:gateway.gunicorn_conf", "gateway.wsgi:app"]
    running = Server(command, tmp_path, clean_env(tmp_path, env))
    try:
        yield running.wait_listening(timeout=60)
    finally:
        assert running.stop() == 0


def get(url: str, *, cookies: dict[str, str] | None = None, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    reply = requests.get(
        url,
        cookies=cookies,
        headers={"Connection": "close"},
        timeout=timeout,
        allow_redirects=False,
    )
    return reply.status_code, time.monotonic() - started


def test_a_paused_redis_holds_no_thread_and_healthz_answers(
    gateway_url: str, own_redis: RedisServer
) -> None:
    for _ in range(8):  # both workers up, each with its connections to Redis
        assert get(f"{gateway_url}/login", timeout=10)[0] == 302
    with own_redis.paused(), ThreadPoolExecutor(max_workers=BURST + 1) as pool:
        # Sign-ins (their rate limit is counted in Redis) and returning visitors (their
        # session is read from Redis): every thread of both workers is asked to wait.
        burst = [
            pool.submit(get, f"{gateway_url}/login", timeout=10)
            if n % 2
            else pool.submit(get, f"{gateway_url}/", cookies=SESSION_COOKIE, timeout=10)
            for n in range(BURST)
        ]
        health = pool.submit(get, f"{gateway_url}/healthz", timeout=10).result()
        answers = [answer.result() for answer in burst]
    assert health[0] == 200
    assert health[1] < 3.0, f"/healthz took {health[1]:.1f} s"
    assert {status for status, _ in answers} == {503}
    slowest = max(took for _, took in answers)
    # Queued three deep behind the deadline: well under the 15 s a paused Redis held
    # them for before, and nothing tried again.
    assert slowest < 4.0, f"the slowest 503 took {slowest:.1f} s"
    assert get(f"{gateway_url}/readyz", timeout=10)[0] == 200  # let go, ready again
