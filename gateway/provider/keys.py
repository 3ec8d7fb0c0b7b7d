"""Our signing keys: created, rotated, published in the JWKS, cached per worker.

The newest unretired key signs. A retired key stays published until every token it
signed has expired, so relying parties keep verifying across a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.core.audit import record
from gateway.core.derived_keys import derive_key
from gateway.core.models import ProviderKey
from gateway.core.models.base import utcnow
from gateway.core.secret_keys import SecretKeys
from gateway.core.store import Store

KEYS_VERSION = "provider:keys-version"
# Even with no rotation announced, re-read keys this often (another process may
# have rotated them while this one ran on the embedded store).
RELOAD_EVERY = timedelta(seconds=60)

SigningJwk = RSAKey | ECKey


@dataclass(frozen=True)
class KeyRing:
    """The key that signs now and every public key relying parties may still need."""

    signing: SigningJwk
    alg: str
    published: tuple[dict[str, Any], ...]


@lru_cache(maxsize=8)  # asked for on every token request; building it costs ~0.2 ms
def key_encryption(keys: SecretKeys) -> MultiFernet:
    """Encrypts private keys at rest: under GATEWAY_KEY_ENCRYPTION_KEY (its first entry)
    when set, else under the key-encryption key derived from GATEWAY_SECRET_KEY.

    It decrypts under every older key too: later entries of GATEWAY_KEY_ENCRYPTION_KEY,
    the derived key, and the SHA-256 of GATEWAY_SECRET_KEY that releases before per-purpose
    keys used. `reencrypt_keys` (`gateway keys rekey`) moves rows to the first.
    """
    chosen = [_fernet(derive_key(key, "key-encryption")) for key in keys.key_encryption_keys]
    derived = _fernet(derive_key(keys.secret, "key-encryption"))
    legacy = _fernet(hashlib.sha256(b"switchyard provider keys\0" + keys.secret.encode()).digest())
    return MultiFernet([*chosen, derived, legacy])


def _fernet(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key))


def reencrypt_keys(db: Session, fernet: MultiFernet) -> int:
    """Re-encrypt every stored private key under the current key (committed); how many.

    Run once every instance runs this release: an older instance cannot read the result.
    """
    rows = db.scalars(select(ProviderKey)).all()
    for row in rows:
        row.private_key_encrypted = fernet.rotate(row.private_key_encrypted.encode()).decode()
    db.commit()
    return len(rows)


def create_key(db: Session, fernet: MultiFernet, alg: str, actor: str = "system") -> ProviderKey:
    """Generate and store a new signing key (not committed)."""
    jwk: SigningJwk = (
        RSAKey.generate_key(2048, auto_kid=True)
        if alg == "RS256"
        else ECKey.generate_key("P-256", auto_kid=True)
    )
    public = {**jwk.as_dict(private=False), "alg": alg, "use": "sig"}
    row = ProviderKey(
        kid=jwk.kid,
        alg=alg,
        private_key_encrypted=fernet.encrypt(jwk.as_pem(private=True)).decode(),
        public_jwk=public,
    )
    db.add(row)
    record(
        db,
        actor,
        "provider.key_created",
        f"key:{jwk.kid}",
        after={"alg": alg},
        reason="signing key created",
    )
    return row


def rotate_key(
    db: Session,
    store: Store,
    fernet: MultiFernet,
    alg: str,
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> ProviderKey:
    """Retire the signing key(s) and create a new one; every worker reloads."""
    now = now or utcnow()
    retired = db.scalars(select(ProviderKey).where(ProviderKey.retired_at.is_(None))).all()
    for row in retired:
        row.retired_at = now
    new = create_key(db, fernet, alg, actor)
    record(
        db,
        actor,
        "provider.key_rotated",
        f"key:{new.kid}",
        before={"kids": [row.kid for row in retired]},
        after={"kid": new.kid},
        reason=reason,
    )
    db.commit()
    store.incr(KEYS_VERSION)
    return new


def load_keyring(
    db: Session,
    fernet: MultiFernet,
    *,
    alg: str,
    publish_for: timedelta,
    now: datetime | None = None,
) -> KeyRing:
    """Read keys from the database, creating the first one if there is none."""
    now = now or utcnow()
    rows = db.scalars(
        select(ProviderKey)
        .where(or_(ProviderKey.retired_at.is_(None), ProviderKey.retired_at > now - publish_for))
        .order_by(ProviderKey.created_at.desc())
    ).all()
    active = [row for row in rows if row.retired_at is None]
    if not active:
        active = [create_key(db, fernet, alg)]
        db.commit()
        rows = [*active, *rows]
    signing_row = active[0]
    pem = fernet.decrypt(signing_row.private_key_encrypted.encode())
    importer = RSAKey if signing_row.alg == "RS256" else ECKey
    signing = importer.import_key(pem, {"kid": signing_row.kid, "alg": signing_row.alg})
    return KeyRing(signing, signing_row.alg, tuple(row.public_jwk for row in rows))


class KeyCache:
    """Per-worker cache of the key ring, reloaded when a rotation is announced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._version: bytes | str | None = None
        self._loaded_at = datetime.min.replace(tzinfo=utcnow().tzinfo)

    def get(
        self, db: Session, store: Store, fernet: MultiFernet, *, alg: str, publish_for: timedelta
    ) -> KeyRing:
        version = store.get(KEYS_VERSION)
        now = utcnow()
        with self._lock:
            stale = version != self._version or now - self._loaded_at > RELOAD_EVERY
            if self._ring is None or stale:
                self._ring = load_keyring(db, fernet, alg=alg, publish_for=publish_for, now=now)
                self._version, self._loaded_at = version, now
            return self._ring
