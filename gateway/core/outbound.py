"""Server-to-server HTTP requests that cannot be led astray or hold a thread.

Every request the gateway makes on its own (back-channel logout, health probes,
upstream discovery, keys, tokens and userinfo) goes through here: redirects are
never followed (a 3xx is an error, so a peer cannot bounce us to an internal
address), the whole exchange, connect to last byte, has one deadline (a server
dripping a byte a second cannot hold a worker past it), and bodies are capped.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import requests

from gateway.core import deadline

DEFAULT_DEADLINE_SECONDS = 5.0
DEFAULT_MAX_BYTES = 1024 * 1024
_CHUNK = 16 * 1024


class OutboundError(Exception):
    """A request that failed, was redirected, ran past its deadline or was too large."""


class OutboundSession(requests.Session):
    """A requests.Session (so authlib's OAuth2Session can mix it in) that never
    follows redirects and gives every request one overall deadline and a size cap."""

    def __init__(
        self,
        *,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deadline_seconds = deadline_seconds
        self.max_bytes = max_bytes
        self.trust_env = False  # no proxies or netrc from the environment

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """The whole exchange runs on a helper thread that this one waits for until the
        deadline: per-read socket timeouts restart with every byte, so only a wait on
        the whole exchange bounds a peer that drips its headers or its body. At the
        deadline the connection is shut, which ends the helper's read too."""
        # Within a request, never past the request's own deadline (gateway.core.deadline).
        wait_seconds = deadline.capped(self.deadline_seconds)
        if wait_seconds <= 0:
            raise OutboundError(f"{_name(url)}: not asked, the request's deadline passed")
        exchange = _Exchange(self, method, url, args, kwargs)
        helper = threading.Thread(target=exchange.run, name="outbound", daemon=True)
        helper.start()
        if not exchange.done.wait(wait_seconds):
            exchange.abandon()
            raise OutboundError(f"{_name(url)}: no complete answer within the deadline")
        if exchange.error is not None:
            raise exchange.error
        assert exchange.response is not None
        return exchange.response

    def _exchange(self, method: str | bytes, url: str | bytes, exchange: _Exchange) -> None:
        kwargs = dict(exchange.kwargs)
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        kwargs["timeout"] = (self.deadline_seconds, self.deadline_seconds)
        try:
            response = super().request(method, url, *exchange.args, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as error:
            raise OutboundError(f"{_name(url)}: {type(error).__name__}") from error
        exchange.streaming = response
        try:
            body = _read_capped(response, self.max_bytes, url)
        finally:
            response.close()
        if response.is_redirect or 300 <= response.status_code < 400:
            raise OutboundError(f"{_name(url)}: answered {response.status_code}, not followed")
        response._content = body  # noqa: SLF001 - what requests does after reading
        exchange.response = response


class _Exchange:
    """One request on its helper thread: its outcome, and how to cut it off."""

    def __init__(
        self,
        session: OutboundSession,
        method: str | bytes,
        url: str | bytes,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.session, self.method, self.url = session, method, url
        self.args, self.kwargs = args, kwargs
        self.done = threading.Event()
        self.response: requests.Response | None = None
        self.streaming: requests.Response | None = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.session._exchange(self.method, self.url, self)  # noqa: SLF001
        except Exception as error:  # noqa: BLE001 - handed to the waiting thread
            self.error = error
        finally:
            self.done.set()

    def abandon(self) -> None:
        """Shut the socket of an answer still arriving, so the helper stops reading."""
        streaming = self.streaming
        connection = getattr(getattr(streaming, "raw", None), "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _read_capped(response: requests.Response, max_bytes: int, url: Any) -> bytes:
    body = bytearray()
    try:
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise OutboundError(f"{_name(url)}: answer larger than {max_bytes} bytes")
    except requests.RequestException as error:
        raise OutboundError(f"{_name(url)}: {type(error).__name__}") from error
    return bytes(body)


def _name(url: str | bytes) -> str:
    text = url.decode() if isinstance(url, bytes) else url
    return text.split("?", 1)[0]


def outbound_session(
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS, max_bytes: int = DEFAULT_MAX_BYTES
) -> OutboundSession:
    """A new session with these limits (sessions are cheap; one per job is fine)."""
    return OutboundSession(deadline_seconds=deadline_seconds, max_bytes=max_bytes)
