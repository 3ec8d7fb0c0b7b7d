"""Authorization codes and access tokens in the shared store.

Codes are consumed atomically (GETDEL): of two concurrent redemptions exactly one
gets the code. A code presented again revokes every token issued from it (RFC 6749
§4.1.2). Access tokens are opaque; the store keeps only their SHA-256.

A code, and every token issued from it, carries the session it was issued in: its
`sid` and the user's session generation then (gateway.core.session). Signing out of
that session marks its sid ended; ending all of a user's sessions bumps the
generation. Either way the session's codes can no longer be redeemed and its tokens
stop working, on every instance, checked in the one round trip that already looked
for a revoked code family.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from gateway.core.models.base import utcnow
from gateway.core.session import generation_key
from gateway.core.store import Store, set_once, take

log = logging.getLogger(__name__)

CODE = "oidc:code:"
CODE_USED = "oidc:code-used:"
FAMILY_REVOKED = "oidc:family-revoked:"
ACCESS_TOKEN = "oidc:at:"  # noqa: S105 - a key prefix, not a secret
SESSION_ENDED = "oidc:session-ended:"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class AuthorizationCode:
    """What a code stands for; authlib reads it through the getters."""

    code_hash: str
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: int
    expires_at: float
    session_sid: str | None = None
    # The user's session generation when the code was issued (0: none recorded yet).
    generation: int = 0

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


def save_code(store: Store, code: str, record: AuthorizationCode, lifetime: int) -> None:
    """Store a new code for `lifetime` seconds."""
    store.set(CODE + record.code_hash, json.dumps(asdict(record)), ex=lifetime)
    assert digest(code) == record.code_hash


def redeem_code(
    store: Store, code: str, client_id: str, *, family_ttl: int, now: datetime | None = None
) -> AuthorizationCode | None:
    """The code's record, exactly once; None when unknown, expired, reused or not
    this client's. A reuse revokes the tokens issued from the first redemption."""
    code_hash = digest(code)
    raw = take(store, CODE + code_hash)
    if raw is None:
        if store.exists(CODE_USED + code_hash):
            store.set(FAMILY_REVOKED + code_hash, "1", ex=family_ttl)
            log.warning(
                "authorization code reused; its tokens are revoked",
                extra={"event": "oidc.code_reused", "client_id": client_id},
            )
        return None
    set_once(store, CODE_USED + code_hash, "1", family_ttl)
    record = AuthorizationCode(**json.loads(raw))
    if record.client_id != client_id:
        log.warning(
            "code presented by another client",
            extra={"event": "oidc.code_wrong_client", "client_id": client_id},
        )
        return None
    if record.expires_at <= (now or utcnow()).timestamp():
        return None
    return record


@dataclass(frozen=True)
class AccessToken:
    """An issued access token as the resource endpoints see it."""

    client_id: str
    user_id: int | None
    scope: str
    family: str | None
    expires_at: float
    issued_at: float
    # The session the token was issued in (its code's), for a user's token.
    session_sid: str | None = None
    generation: int = 0

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - self.issued_at)

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow().timestamp()

    def is_revoked(self) -> bool:
        return False  # revoked tokens are never returned by find_access_token

    def check_client(self, client: object) -> bool:
        return getattr(client, "client_id", None) == self.client_id


def issue_access_token(store: Store, token: str, record: AccessToken) -> None:
    ttl = max(1, int(record.expires_at - record.issued_at))
    store.set(ACCESS_TOKEN + digest(token), json.dumps(asdict(record)), ex=ttl)


def find_access_token(store: Store, token: str) -> AccessToken | None:
    """A live token: known, not expired, not from a revoked code family, and (a user's
    token) from a session that has not ended since."""
    raw = store.get(ACCESS_TOKEN + digest(token))
    if raw is None:
        return None
    record = AccessToken(**json.loads(raw))
    if record.is_expired():
        return None
    if record.user_id is None:
        if record.family and store.exists(FAMILY_REVOKED + record.family):
            return None
        return record
    revoked_keys = [FAMILY_REVOKED + record.family] if record.family else []
    if session_ended(
        store, record.user_id, record.session_sid, record.generation, also=revoked_keys
    ):
        return None
    return record


def session_ended(
    store: Store,
    user_id: int,
    sid: str | None,
    generation: int,
    *,
    also: list[str] | None = None,
) -> bool:
    """Whether the session a code or token was issued in has ended: signed out (its sid
    marked), or all the user's sessions ended (a newer generation), or any of the keys
    `also` exists; one round trip."""
    marked = [*(also or []), *([SESSION_ENDED + sid] if sid else [])]
    pipe = store.pipeline(transaction=False)
    pipe.hget(generation_key(user_id), "generation")
    if marked:
        pipe.exists(*marked)
    current, *found = pipe.execute()
    return int(current or 0) != generation or any(found)


def end_session_tokens(store: Store, sid: str, lifetime: int) -> None:
    """Mark the session `sid` ended for `lifetime` seconds (as long as any code or token
    issued in it may live): its codes and tokens stop working at once."""
    store.set(SESSION_ENDED + sid, "1", ex=max(1, lifetime))


def revoke_access_token(store: Store, token: str) -> None:
    store.delete(ACCESS_TOKEN + digest(token))


def new_code() -> str:
    """An authorization code or access token: 256 random bits in one read of the
    system's generator (authlib's default draws each of its 42-48 characters with a
    read of its own: a third of a millisecond per token endpoint call, measured)."""
    return secrets.token_urlsafe(32)


def new_access_token(**_context: Any) -> str:
    """authlib's access-token generator (it passes the client, grant, user and scope)."""
    return new_code()
