"""The gateway's keys, one per purpose, from GATEWAY_SECRET_KEY, and the strength test
that it and GATEWAY_KEY_ENCRYPTION_KEY must pass at start-up.

The raw secret itself signs nothing: cookies, CSRF tokens and the keyed hashes of IT
API tokens each use their own HKDF-derived key (gateway.core.derived_keys), so a key that
leaks through one use says nothing about the others. Private signing keys at rest
are encrypted under GATEWAY_KEY_ENCRYPTION_KEY when it is set, so that rotating or
leaking GATEWAY_SECRET_KEY never exposes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from flask import Flask, current_app
from zxcvbn import zxcvbn

from gateway.core.derived_keys import derive_key

# About 80 bits, beyond offline guessing. A random 32-character key scores about 10^32
# (secrets.token_hex(16) at worst about 10^28, when its digits look like dates); what
# people type (repeats, words, keyboard walks, years) stays far below.
MIN_GUESSES_LOG10 = 24
# zxcvbn's run time grows with the length; a prefix this long already tells a pattern.
ESTIMATED_PREFIX = 72
GENERATE_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


@lru_cache(maxsize=32)
def guesses_log10(secret: str) -> float:
    """zxcvbn's estimate of the guesses (log10) an attacker needs: repeats, sequences,
    keyboard walks and dictionary words count for little."""
    prefix = secret[:ESTIMATED_PREFIX]
    return float(zxcvbn(prefix, max_length=ESTIMATED_PREFIX)["guesses_log10"])


def check_strength(secret: str) -> None:
    """Raise ValueError (the settings validator's message) for a guessable secret."""
    if len(secret) < 32:
        raise ValueError(f"must be at least 32 characters; {GENERATE_HINT}")
    estimate = guesses_log10(secret)
    if estimate < MIN_GUESSES_LOG10:
        raise ValueError(
            f"too easy to guess (about {round(estimate * 3.32)} bits estimated, "
            f"{round(MIN_GUESSES_LOG10 * 3.32)} needed: no repeats, words or sequences); "
            f"{GENERATE_HINT}"
        )


@dataclass(frozen=True)
class SecretKeys:
    """The keys of one running gateway, derived once in create_app."""

    secret: str  # GATEWAY_SECRET_KEY: only derived from, or read data of older releases
    cookie_signing: bytes
    csrf: bytes
    api_token: bytes
    # The keyed hash of invitation links (only the hash is stored).
    invitation: bytes
    # GATEWAY_KEY_ENCRYPTION_KEY, newest first (None: derived from the secret).
    key_encryption_keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, secret: str, key_encryption_key: str | None = None) -> SecretKeys:
        return cls(
            secret=secret,
            cookie_signing=derive_key(secret, "cookie-signing"),
            csrf=derive_key(secret, "csrf"),
            api_token=derive_key(secret, "api-token"),
            invitation=derive_key(secret, "invitation"),
            key_encryption_keys=split_keys(key_encryption_key),
        )


def split_keys(value: str | None) -> tuple[str, ...]:
    """A comma-separated list, newest first: the first encrypts, every one decrypts."""
    return tuple(part.strip() for part in value.split(",")) if value else ()


def init_app(app: Flask, keys: SecretKeys) -> None:
    app.extensions["secret_keys"] = keys


def secret_keys(app: Flask | None = None) -> SecretKeys:
    keys: SecretKeys = (app or current_app).extensions["secret_keys"]
    return keys
