"""Server-to-server HTTP requests that cannot be led astray or hold a thread.

Every request the gateway makes on its own (back-channel logout, health probes,
upstream discovery, keys, tokens and userinfo) goes through here: redirects are
never followed (a 3xx is an error, so a peer cannot bounce us to an internal
address), the whole exchange, connect to last byte, has one deadline (a server
dripping a byte a second cannot hold a worker past it), and bodies are capped.
"""

from __future__ import annotations

import time
from typing import Any

import requests

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
        deadline = time.monotonic() + self.deadline_seconds
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        kwargs["timeout"] = (self.deadline_seconds, self.deadline_seconds)
        try:
            response = super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as error:
            raise OutboundError(f"{_name(url)}: {type(error).__name__}") from error
        try:
            body = _read_before(response, deadline, self.max_bytes, url)
        finally:
            response.close()
        if response.is_redirect or 300 <= response.status_code < 400:
            raise OutboundError(f"{_name(url)}: answered {response.status_code}, not followed")
        response._content = body  # noqa: SLF001 - what requests does after reading
        return response


def _read_before(response: requests.Response, deadline: float, max_bytes: int, url: Any) -> bytes:
    body = bytearray()
    try:
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise OutboundError(f"{_name(url)}: answer larger than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise OutboundError(f"{_name(url)}: no complete answer within the deadline")
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
