"""Where we may send a browser after sign-in: our own pages or a configured system.

Every `next`-like value (the `next` parameter, RelayState, deep links) passes here,
so no link can turn the gateway into an open redirect.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import select

from gateway.core.db import get_session
from gateway.core.errors import GatewayError
from gateway.core.models import System
from gateway.core.settings import current_settings

MAX_TARGET_LENGTH = 2048


class UnsafeRedirect(GatewayError):
    """A `next`, RelayState or deep link that points outside our origin and the systems'."""

    title = "That link points somewhere we do not send people"
    event = "signin.unsafe_redirect"


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def safe_target(value: str | None, base_url: str, system_urls: Iterable[str]) -> str | None:
    """`value` if it is a local path or an URL on our origin or a system's; else None.

    Empty input is None too; callers decide whether None means "refuse" or "default".
    """
    if not value or len(value) > MAX_TARGET_LENGTH:
        return None
    if any(ord(ch) < 0x21 or ch == "\\" for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://[::1" (an unbalanced bracket) is no URL at all
        return None
    if not parts.scheme and not parts.netloc:
        # A path: "/x" is ours; "//host" and "/\host" are other origins in browsers.
        return value if value.startswith("/") and not value.startswith("//") else None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if parts.username or parts.password:
        return None
    allowed = {origin(base_url), *(origin(url) for url in system_urls)}
    return value if origin(value) in allowed else None


def checked_target(value: str | None) -> str | None:
    """A `next` or RelayState value that is safe to follow; refuses the others loudly."""
    if not value:
        return None
    systems = get_session().scalars(select(System.entry_url)).all()
    target = safe_target(value, current_settings().base_url, systems)
    if target is None:
        raise UnsafeRedirect(
            "The link you followed asks to send you to a site we do not trust.", target=value[:200]
        )
    return target
