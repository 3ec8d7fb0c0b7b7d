"""Shared short-lived state: Redis in production, an embedded store on a laptop.

Both speak the Redis API, so every caller (sessions, pending SAML requests, the
replay cache, rate limits) has one code path. The embedded store lives in this
process only, which is why start-up says so.
"""

from __future__ import annotations

import logging
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

import fakeredis
import redis
import redis.sentinel
from flask import Flask, current_app, g, has_request_context
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.core import deadline

log = logging.getLogger(__name__)

# Both the real client and the embedded store return bytes.
Store: TypeAlias = "redis.Redis"


class StoreUnavailable(Exception):
    """The shared store could not be reached; callers fail closed."""


# GATEWAY_REDIS_TIMEOUT_SECONDS' default: a healthy Redis answers in a millisecond.
DEFAULT_TIMEOUT_SECONDS = 0.5
SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


def client_options(timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The connection options of every Redis client the gateway makes (the store, the
    Sentinels, the rate limiter's storage): fail fast (a 503, fail closed) rather than
    hold a worker thread on a server that does not answer.

    redis-py would otherwise try each command four times with backoff, multiplying the
    wait. A timeout is never tried again; a refused or reset connection is, once and at
    once (what a connection the server closed since, after a restart, needs), which
    costs a refused connect and no wait."""
    return {
        "socket_timeout": timeout_seconds,
        "socket_connect_timeout": timeout_seconds,
        "health_check_interval": 30,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    }


# flask.g: this request already found the store failing (mark_failed).
FAILED_FLAG = "store_failed"


def mark_failed() -> None:
    """This request found the store failing: its later commands (an error counter in an
    after_request hook, say) fail at once instead of waiting out the deadline again."""
    if has_request_context():
        setattr(g, FAILED_FLAG, True)


def failed_in_this_request() -> bool:
    return has_request_context() and bool(g.get(FAILED_FLAG))


class StoreCommandTooSlow(deadline.RequestTooSlow, redis.TimeoutError):
    """A Redis command the request's deadline refused: to callers, a store that timed out."""


class _FailsFastInAFailedRequest:
    """A connection pool that hands a request no connection once it is marked failed,
    or once its deadline passed (gateway.core.deadline)."""

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if failed_in_this_request():
            raise redis.ConnectionError("the shared store already failed in this request")
        if deadline.passed():
            raise StoreCommandTooSlow("redis")
        return super().get_connection(*args, **kwargs)  # type: ignore[misc]


class StorePool(_FailsFastInAFailedRequest, redis.ConnectionPool):
    pass


class SentinelStorePool(_FailsFastInAFailedRequest, redis.sentinel.SentinelConnectionPool):
    pass


def make_store(url: str | None, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Store:
    """A Redis client for `url`, or an embedded in-process store when it is None.

    `redis://`, `rediss://` and `unix://` URLs name one server; a
    `redis+sentinel://[[user]:password@]host:port[,host:port…]/service` URL names the
    Sentinels watching a replicated Redis (the form flask-limiter's storage reads too).
    """
    if url is None:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    if urlsplit(url).scheme == SENTINEL_SCHEME:
        return sentinel_master(url, timeout_seconds)
    return redis.Redis(connection_pool=StorePool.from_url(url, **client_options(timeout_seconds)))


def sentinel_master(url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Store:
    """A client of the current master: it asks the Sentinels again whenever its
    connection fails, so a failover costs the requests in flight, not a restart."""
    parts = urlsplit(url)
    service = parts.path.strip("/")
    sentinels = [_host_port(location) for location in parts.netloc.rpartition("@")[2].split(",")]
    if not service or not all(host for host, _ in sentinels):
        raise ValueError(f"{SENTINEL_SCHEME}:// needs host:port[,host:port…]/service_name")
    auth = {
        key: unquote(value)
        for key, value in (("username", parts.username), ("password", parts.password))
        if value
    }
    # redis-py ships these two without annotations.
    options = client_options(timeout_seconds)
    sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        sentinels, sentinel_kwargs={**auth, **options}, **auth, **options
    )
    master: Store = sentinel.master_for(  # type: ignore[no-untyped-call]
        service, connection_pool_class=SentinelStorePool
    )
    return master


def _host_port(location: str) -> tuple[str, int]:
    host, _, port = location.partition(":")
    return host, int(port) if port else SENTINEL_PORT


def describe(url: str) -> str:
    """Where `url`'s Redis (or Sentinels) listen, for messages: host:port, no password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return parts.netloc.rpartition("@")[2] or "localhost:6379"


def init_app(app: Flask, url: str | None, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
    app.extensions["store"] = make_store(url, timeout_seconds)
    app.extensions["store_embedded"] = url is None
    if url is None:
        log.warning(
            "GATEWAY_REDIS_URL is not set: using the embedded store, which is "
            "single-instance only (one process; sessions and replay protection are not shared)",
            extra={"event": "store.embedded"},
        )


def get_store(app: Flask | None = None) -> Store:
    store: Store = (app or current_app).extensions["store"]
    return store


def set_once(store: Store, key: str, value: str, ttl_seconds: int) -> bool:
    """Store `key` only if absent; True the first time. Raises StoreUnavailable."""
    try:
        return bool(store.set(key, value, nx=True, ex=max(1, ttl_seconds)))
    except redis.RedisError as error:
        raise StoreUnavailable(str(error)) from error


def set_each_once(store: Store, keys: list[str], value: str, ttl_seconds: int) -> list[bool]:
    """set_once for several keys in one round trip: for each, True if it was new."""
    try:
        pipe = store.pipeline(transaction=False)
        for key in keys:
            pipe.set(key, value, nx=True, ex=max(1, ttl_seconds))
        return [bool(stored) for stored in pipe.execute()]
    except redis.RedisError as error:
        raise StoreUnavailable(str(error)) from error


def take(store: Store, key: str) -> str | None:
    """Read and delete `key` atomically, so only one caller ever gets it."""
    try:
        value = store.getdel(key)
    except redis.RedisError as error:
        raise StoreUnavailable(str(error)) from error
    return value.decode() if isinstance(value, bytes) else value
