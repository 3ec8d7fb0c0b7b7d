"""API bearer tokens: created with scopes (the secret shown once), checked, revoked.

Two kinds: IT's tokens (IT scopes, every account, until revoked unless given an
expiry) and account tokens (an account scope, `users` or `scim`, limited to one
customer account, always expiring: 90 days unless told, at most a year). Account
tokens are named `<account number>/<name>`, so two customers can both call theirs
`okta` and neither learns of the other's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.core.audit import Actor, record
from gateway.core.errors import InvalidChange, NotFound
from gateway.core.models import Account, ApiToken
from gateway.core.models.api_token import ACCOUNT_SCOPES, API_SCOPES

# Marks our tokens in logs and secret scanners; not a secret itself.
TOKEN_PREFIX = "sy_"  # noqa: S105
# An account token expires: a secret pasted into a customer's IdP outlives the
# person who made it, so it must be renewed now and then.
ACCOUNT_TOKEN_DEFAULT_LIFETIME = timedelta(days=90)
ACCOUNT_TOKEN_MAX_LIFETIME = timedelta(days=365)
# The name an admin gives an account token (before the account number is put in front).
ACCOUNT_TOKEN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_RELATIVE_EXPIRY = re.compile(r"(\d{1,5})([dh])")


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: `secret` exists only in this object."""

    name: str
    scopes: tuple[str, ...]
    secret: str
    account_number: str | None = None
    expires_at: datetime | None = None


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
    expires_at: datetime | None = None,
) -> NewToken:
    """A new named token with `scopes`; the secret is returned once and never stored.

    IT scopes make an IT token (no `account_number`); account scopes make a token
    limited to `account_number`, which must then be given, with an `expires_at`
    at most ACCOUNT_TOKEN_MAX_LIFETIME away. `expires_at` None: until revoked."""
    allowed = API_SCOPES if account_number is None else ACCOUNT_SCOPES
    unknown = sorted(set(scopes) - set(allowed))
    if unknown or not scopes:
        kind = "an IT token's" if account_number is None else "an account token's"
        other = (
            " (account scopes need an account)"
            if account_number is None
            else " (IT scopes are for IT tokens, without an account)"
        )
        raise InvalidChange(
            f"Scopes must be among {kind}: {', '.join(allowed)}; got {unknown}{other}."
        )
    _check_expiry(expires_at, now, account_token=account_number is not None)
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
            expires_at=expires_at,
        )
    )
    after: dict[str, object] = {"scopes": list(ordered)}
    if account_number is not None:
        after["account"] = account_number
    if expires_at is not None:
        after["expires_at"] = expires_at.astimezone(UTC).isoformat()
    record(
        db,
        actor,
        "api_token.created",
        f"api_token:{name}",
        None,
        after,
        "token created",
        account_id=account_id,
    )
    db.commit()
    return NewToken(name, ordered, secret, account_number, expires_at)


def _check_expiry(expires_at: datetime | None, now: datetime, *, account_token: bool) -> None:
    if expires_at is None:
        if account_token:
            raise InvalidChange("An account token needs an expiry.")
        return
    if expires_at <= now:
        raise InvalidChange("A token's expiry must be in the future.")
    if account_token and expires_at > now + ACCOUNT_TOKEN_MAX_LIFETIME:
        raise InvalidChange(
            f"An account token lives at most {ACCOUNT_TOKEN_MAX_LIFETIME.days} days; "
            "make a new one when it expires."
        )


def parse_expiry(text: str, now: datetime) -> datetime:
    """`90d`, `12h`, an ISO date (its start, UTC) or an ISO time (UTC without a zone)."""
    value = text.strip()
    relative = _RELATIVE_EXPIRY.fullmatch(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidChange(
            f"Expiry {text!r}: give a number of days or hours (90d, 12h) or an ISO date "
            "(2027-03-01)."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def create_account_token(
    db: Session,
    account_number: str,
    scope: str,
    *,
    actor: Actor,
    now: datetime,
    hash_key: bytes,
    expires_at: datetime | None = None,
    name: str | None = None,
) -> NewToken:
    """A token for one account with one account scope (`users` or `scim`), called
    `<account number>/<name>`, expiring at `expires_at` (default: in 90 days).
    The secret is returned once and never stored."""
    if scope not in ACCOUNT_SCOPES:
        raise InvalidChange(f"An account token's scope is one of {', '.join(ACCOUNT_SCOPES)}.")
    short = name if name is not None else f"{scope}-{secrets.token_hex(3)}"
    if not ACCOUNT_TOKEN_NAME.fullmatch(short):
        raise InvalidChange("A token's name is 1-64 letters, digits, '_', '.' or '-'.")
    return create_token(
        db,
        f"{account_number}/{short}",
        [scope],
        actor=actor,
        now=now,
        hash_key=hash_key,
        account_number=account_number,
        expires_at=expires_at or now + ACCOUNT_TOKEN_DEFAULT_LIFETIME,
    )


def list_account_tokens(db: Session, account_id: int) -> list[ApiToken]:
    """The account's tokens, active, expired and revoked, newest first; never secrets."""
    return list(
        db.scalars(
            select(ApiToken)
            .where(ApiToken.account_id == account_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def all_account_tokens(db: Session) -> list[ApiToken]:
    """Every account's tokens, by name (the account number comes first)."""
    return list(
        db.scalars(select(ApiToken).where(ApiToken.account_id.is_not(None)).order_by(ApiToken.name))
    )


def revoke_account_token(
    db: Session, account_id: int | None, name: str, *, actor: Actor, now: datetime
) -> None:
    """Revoke the account's token called `name` at once; NotFound for a token of
    another account (or an IT token), as for one that does not exist. `account_id`
    None: any account's token (the operator's command)."""
    found = select(ApiToken).where(
        ApiToken.name == name, ApiToken.revoked_at.is_(None), ApiToken.account_id.is_not(None)
    )
    if account_id is not None:
        found = found.where(ApiToken.account_id == account_id)
    row = db.scalar(found)
    if row is None:
        raise NotFound(f"No active token named {name!r} in this account.")
    _revoke(db, row, actor, now)


def token_state(row: ApiToken, now: datetime) -> str:
    """`active`, `expired` or `revoked`, as lists show it."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def revoke_token(db: Session, name: str, *, actor: Actor, now: datetime) -> None:
    row = db.scalar(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)))
    if row is None:
        raise NotFound(f"No active token named {name!r}.")
    _revoke(db, row, actor, now)


def _revoke(db: Session, row: ApiToken, actor: Actor, now: datetime) -> None:
    row.revoked_at = now
    record(
        db,
        actor,
        "api_token.revoked",
        f"api_token:{row.name}",
        {"scopes": row.scopes.split()},
        None,
        "token revoked",
        account_id=row.account_id,
    )
    db.commit()


def list_tokens(db: Session) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).order_by(ApiToken.name)))


def active_token(
    db: Session, secret: str, hash_key: bytes, now: datetime | None = None
) -> ActiveToken | None:
    """The active token with this secret, or None (also for a revoked or expired one,
    which the caller cannot tell from an unknown one).

    A token created before keyed hashes is found by its old hash and re-hashed (and
    committed) at once, so after its first use only the keyed hash exists.
    """
    if not secret.startswith(TOKEN_PREFIX):
        return None
    hashed, legacy = token_hash(secret, hash_key), legacy_token_hash(secret)
    row = db.scalar(
        select(ApiToken).where(
            ApiToken.token_hash.in_((hashed, legacy)),
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > (now or datetime.now(UTC))),
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
