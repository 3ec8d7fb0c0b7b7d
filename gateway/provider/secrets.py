"""Client secrets at rest: an HMAC-SHA256 under a key derived from GATEWAY_SECRET_KEY.

Generated secrets carry 256 random bits, so nothing is gained from a slow password
hash: guessing is hopeless either way, and a slow hash only hands whoever knows a
client id a way to burn about 100 ms of CPU per request. The keyed hash is compared
with hmac.compare_digest. Clients registered before this kept a scrypt hash; it is
still accepted, and replaced by the keyed hash the first time the secret verifies,
so each such client pays the scrypt cost once more and never again.
"""

from __future__ import annotations

import hmac
import logging
from functools import lru_cache

from sqlalchemy import update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from gateway.core.derived_keys import derive_key
from gateway.core.models import OAuthClient

log = logging.getLogger(__name__)

KEYED_HASH_PREFIX = "hmac-sha256$"


@lru_cache(maxsize=4)
def _hash_key(secret_key: str) -> bytes:
    return derive_key(secret_key, "client-secret")


def keyed_hash(client_secret: str, secret_key: str) -> str:
    """The stored form of a client secret: `hmac-sha256$<hex>`."""
    mac = hmac.new(_hash_key(secret_key), client_secret.encode(), "sha256").hexdigest()
    return KEYED_HASH_PREFIX + mac


def is_keyed_hash(stored: str) -> bool:
    return stored.startswith(KEYED_HASH_PREFIX)


def check_keyed_hash(stored: str, presented: str, secret_key: str) -> bool:
    """Whether `presented` is the secret behind `stored`, in constant time."""
    return hmac.compare_digest(keyed_hash(presented, secret_key).encode(), stored.encode())


def check_legacy_hash(stored: str, presented: str) -> bool:
    """A scrypt (werkzeug) hash from before keyed hashes; slow on purpose."""
    return check_password_hash(stored, presented)


def upgrade_secret_hash(
    db: Session, client_id: str, old_hash: str, verified_secret: str, secret_key: str
) -> None:
    """Replace a verified client's scrypt hash with the keyed hash (only if nobody
    changed it meanwhile: two concurrent first verifications write once)."""
    db.execute(
        update(OAuthClient)
        .where(OAuthClient.client_id == client_id, OAuthClient.secret_hash == old_hash)
        .values(secret_hash=keyed_hash(verified_secret, secret_key))
    )
    db.commit()
    log.info(
        "client secret moved to the keyed hash",
        extra={"event": "provider.client_secret_upgraded", "client_id": client_id},
    )
