"""One key per purpose, derived with HKDF (RFC 5869) from the operator's secret.

Cookie signing, CSRF tokens, encryption of private keys at rest and the keyed hashes
of bearer tokens, client secrets and invitation links each get their own key, so a key that leaks
through one use (a cookie forged offline, say) says nothing about the others.
"""

from __future__ import annotations

from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

Purpose = Literal[
    "cookie-signing", "csrf", "key-encryption", "api-token", "client-secret", "invitation"
]
PURPOSES: tuple[Purpose, ...] = (
    "cookie-signing",
    "csrf",
    "key-encryption",
    "api-token",
    "client-secret",
    "invitation",
)


def derive_key(secret: str, purpose: Purpose, *, length: int = 32) -> bytes:
    """The key for `purpose`: the same secret and purpose always give the same key."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}; known: {list(PURPOSES)}")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=None,
        info=b"switchyard/" + purpose.encode(),
    )
    return hkdf.derive(secret.encode())
