"""IT API bearer tokens: created with scopes (the secret shown once), checked, revoked."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.audit import Actor, record
from gateway.core.errors import InvalidChange, NotFound
from gateway.core.models import Account, ApiToken
from gateway.core.models.api_token import API_SCOPES

# Marks our tokens in logs and secret scanners; not a secret itself.
TOKEN_PREFIX = "sy_"  # noqa: S105


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: `secret` exists only in this object."""

    name: str
    scopes: tuple[str, ...]
    secret: str
    account_number: str | None = None


@dataclass(frozen=True)
class ActiveToken:
    """What a presented token grants: its scopes, and the one account it is limited to
    (None: every account, as IT's tokens are)."""

    name: str
    scopes: frozenset[str]
    account_number: str | None


def token_hash(secret: str, hash_key: bytes) -> str:
    """HMAC-SHA256 under the "api-token" key derived from GATEWAY_SECRET_KEY: a copy of
    the table alone cannot confirm a guessed token."""
    return hmac.new(hash_key, secret.encode(), hashlib.sha256).hexdigest()


def legacy_token_hash(secret: str) -> str:
    """The unkeyed hash of releases before per-purpose keys; re-hashed on first use."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    db: Session,
    name: str,
    scopes: list[str],
    *,
    actor: Actor,
    now: datetime,
    hash_key: bytes,
    account_number: str | None = None,
) -> NewToken:
    """A new named token with `scopes`, limited to one account when `account_number` is
    given; the secret is returned once and never stored."""
    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown or not scopes:
        raise InvalidChange(f"Scopes must be among {', '.join(API_SCOPES)}; got {unknown}.")
    if db.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise InvalidChange(f"A token named {name!r} exists; revoke it or pick another name.")
    account_id = None
    if account_number is not None:
        account_id = db.scalar(select(Account.id).where(Account.account_number == account_number))
        if account_id is None:
            raise InvalidChange(f"No account {account_number!r}: a token's account must exist.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ordered = tuple(sorted(set(scopes)))
    db.add(
        ApiToken(
            name=name,
            token_hash=token_hash(secret, hash_key),
            scopes=" ".join(ordered),
            created_by=actor.name,
            created_at=now,
            account_id=account_id,
        )
    )
    after: dict[str, object] = {"scopes": list(ordered)}
    if account_number is not None:
        after["account"] = account_number
    record(db, actor, "api_token.created", f"api_token:{name}", None, after, "token created")
    db.commit()
    return NewToken(name, ordered, secret, account_number)


def revoke_token(db: Session, name: str, *, actor: Actor, now: datetime) -> None:
    row = db.scalar(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)))
    if row is None:
        raise NotFound(f"No active token named {name!r}.")
    row.revoked_at = now
    record(
        db,
        actor,
        "api_token.revoked",
        f"api_token:{name}",
        {"scopes": row.scopes.split()},
        None,
        "token revoked",
    )
    db.commit()


def list_tokens(db: Session) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).order_by(ApiToken.name)))


def active_token(db: Session, secret: str, hash_key: bytes) -> ActiveToken | None:
    """The active token with this secret, or None.

    A token created before keyed hashes is found by its old hash and re-hashed (and
    committed) at once, so after its first use only the keyed hash exists.
    """
    if not secret.startswith(TOKEN_PREFIX):
        return None
    hashed, legacy = token_hash(secret, hash_key), legacy_token_hash(secret)
    row = db.scalar(
        select(ApiToken).where(
            ApiToken.token_hash.in_((hashed, legacy)), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    if row.token_hash == legacy:
        row.token_hash = hashed
        db.commit()
    account_number = (
        db.scalar(select(Account.account_number).where(Account.id == row.account_id))
        if row.account_id is not None
        else None
    )
    return ActiveToken(row.name, row.scope_set, account_number)
