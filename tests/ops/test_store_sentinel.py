"""GATEWAY_REDIS_URL may name Redis Sentinels: the gateway then talks to whichever
server they say is the master. A real Sentinel (redis-server --sentinel) watches the
test Redis here."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import redis
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import ValidationError

from gateway.app import rate_limit_storage_options
from gateway.core.settings import Settings
from gateway.core.store import make_store

pytestmark = pytest.mark.shared_store

SERVICE = "switchyard-test"


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def sentinel_url(redis_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if redis_url is None:
        pytest.skip("a Sentinel needs a Redis to watch; set GATEWAY_TEST_REDIS_URL")
    watched = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs
    port = _free_port()
    config = tmp_path_factory.mktemp("sentinel") / "sentinel.conf"
    # Never declares the master down during the test, so it never fails over.
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {config.parent}\n"
        f"sentinel monitor {SERVICE} {watched['host']} {watched['port']} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} 600000\n"
    )
    process = subprocess.Popen(  # noqa: S603 - the test machine's redis-server
        ["redis-server", str(config), "--sentinel"],  # noqa: S607
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_master(port)
        yield f"redis+sentinel://127.0.0.1:{port}/{SERVICE}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_master(port: int, deadline_seconds: float = 15.0) -> None:
    sentinel = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            if sentinel.sentinel_get_master_addr_by_name(SERVICE):
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)  # polling a starting process, bounded by the deadline
    pytest.fail(f"the Sentinel on port {port} did not start")


def test_the_store_finds_the_master_through_the_sentinel(sentinel_url: str, redis_url: str) -> None:
    store = make_store(sentinel_url)
    key = f"test:sentinel:{secrets.token_hex(8)}"
    try:
        assert store.set(key, "through the sentinel", ex=60, nx=True)
        # Written through the Sentinel's master, read straight from that server.
        direct = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/0")
        assert direct.get(key) == b"through the sentinel"
    finally:
        store.delete(key)


def test_the_rate_limiter_counts_on_the_master_through_the_sentinel(sentinel_url: str) -> None:
    """flask-limiter reads the same URL (create_app passes it through, replicas off,
    with the store's deadlines for the Sentinels and the master).

    Its storage is checked directly: the extension is process-global, so an app built
    here would leave later tests counting against this module's Sentinel.
    """
    settings = Settings(redis_url=sentinel_url, redis_timeout_seconds=0.5)
    storage = storage_from_string(sentinel_url, **rate_limit_storage_options(settings))
    limit = parse("2/minute")
    limiter = MovingWindowRateLimiter(storage)
    key = secrets.token_hex(8)
    try:
        assert [limiter.hit(limit, key) for _ in range(3)] == [True, True, False]
    finally:
        limiter.clear(limit, key)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1:26379",  # no service name
        "redis+sentinel:///mymaster",  # no sentinels
        "memcached://127.0.0.1:11211",
    ],
)
def test_a_bad_store_url_is_refused_with_its_variable_named(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="redis_url"):
        Settings(redis_url=url, secret_key="x" * 40, saml_dir=tmp_path)
