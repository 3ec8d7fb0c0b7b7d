"""Whether the sign-in behind an authorization request is fresh enough for it.

`prompt=login` asks for an authentication made for this very request; `max_age=N`
for one at most N seconds old (`max_age=0` is `prompt=login`, OIDC Core §3.1.2.1).
When the session's is not, the user is sent once to the portal for a fresh
authentication (`/login?fresh=1`), and the request comes back carrying a marker.
The marker is a random value naming a record in the shared store (when the fresh
sign-in was asked for, and by which client), used once: it cannot be forged, and a
copied one only says "a fresh sign-in was asked for at time T", which a session
authenticated before T does not satisfy. If the sign-in that came back is still not
fresh enough, the client hears login_required rather than the user looping.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from gateway.core.store import Store, take
from gateway.provider.tokens import digest

MARKER_PARAMETER = "fresh_login"
# Seconds as ASCII digits only (str.isdigit() also admits "²"), at most ten of them.
MAX_AGE = re.compile(r"[0-9]{1,10}")
MARKER_KEY = "oidc:fresh-login:"
# How long a user may take at the portal for the fresh sign-in.
MARKER_SECONDS = 900


class Verdict(Enum):
    FRESH_ENOUGH = "fresh enough"
    SIGN_IN_AGAIN = "sign in again"
    LOGIN_REQUIRED = "login_required"


class InvalidMaxAge(ValueError):
    """max_age that is not a non-negative integer."""


@dataclass(frozen=True)
class FreshnessRequest:
    """What an authorization request asks of the sign-in behind it."""

    prompts: frozenset[str]
    max_age: int | None

    @classmethod
    def of(cls, query: Mapping[str, str]) -> FreshnessRequest:
        prompts = frozenset((query.get("prompt") or "").split())
        raw = query.get("max_age")
        if raw is None or raw == "":
            return cls(prompts, None)
        if not MAX_AGE.fullmatch(raw):
            raise InvalidMaxAge("max_age must be a non-negative integer number of seconds.")
        max_age = int(raw)
        return cls(prompts | {"login"} if max_age == 0 else prompts, max_age)

    @property
    def asks_anything(self) -> bool:
        return "login" in self.prompts or self.max_age is not None


def session_auth_time(session: Mapping[str, Any]) -> int | None:
    """When the portal authenticated this session's user (None: unknown)."""
    value = session.get("auth_time")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def judge(
    wanted: FreshnessRequest,
    *,
    auth_time: int | None,
    now: int,
    asked_at: int | None,
    skew: int = 0,
) -> Verdict:
    """The verdict for a session authenticated at `auth_time` (None: no session or
    unknown); `asked_at` is when this request already asked for a fresh sign-in.
    `skew` is the clock difference tolerated with the portal, whose clock set
    auth_time: the sign-in step accepted a fresh authentication within it too."""
    too_old = auth_time is None or (wanted.max_age is not None and now - auth_time > wanted.max_age)
    login_outstanding = "login" in wanted.prompts and (
        asked_at is None or auth_time is None or auth_time + skew < asked_at
    )
    if not too_old and not login_outstanding:
        return Verdict.FRESH_ENOUGH
    if "none" in wanted.prompts or asked_at is not None:
        return Verdict.LOGIN_REQUIRED
    return Verdict.SIGN_IN_AGAIN


def issue_marker(store: Store, client_id: str, now: int) -> str:
    """A one-time marker saying this client's request asked for a fresh sign-in now."""
    marker = secrets.token_urlsafe(24)
    record = json.dumps({"client_id": client_id, "asked_at": now})
    store.set(MARKER_KEY + digest(marker), record, ex=MARKER_SECONDS)
    return marker


def redeem_marker(store: Store, marker: str | None, client_id: str) -> int | None:
    """When the fresh sign-in was asked for, once; None for no, a used, an expired or
    another client's marker."""
    if not marker:
        return None
    raw = take(store, MARKER_KEY + digest(marker))
    if raw is None:
        return None
    record = json.loads(raw)
    return int(record["asked_at"]) if record.get("client_id") == client_id else None
