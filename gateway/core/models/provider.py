"""The OpenID Connect provider's durable state: registered clients (with machine
clients' account allow-lists) and signing keys.

Short-lived state (authorization codes, access tokens) lives in the shared store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.models.base import Base, Timestamped, UtcDateTime, utcnow
from gateway.core.models.directory import System

CLIENT_AUTH_METHODS = ("client_secret_basic", "private_key_jwt")
SIGNING_ALGORITHMS = ("RS256", "ES256")


class OAuthClient(Timestamped, Base):
    """A relying party: one per license center, plus machine clients (the portal)."""

    __tablename__ = "oauth_clients"
    __table_args__ = (
        CheckConstraint(
            f"token_endpoint_auth_method IN {CLIENT_AUTH_METHODS!r}", name="auth_method"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # HMAC-SHA256 of the secret under a key derived from GATEWAY_SECRET_KEY
    # ("hmac-sha256$…"; older rows: a werkzeug scrypt hash, replaced at next use).
    # The secret itself is shown once and never stored.
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    # The client's public keys for private_key_jwt (a JWK Set).
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    initiate_login_uri: Mapped[str | None] = mapped_column(String(2048))
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2048))
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="")
    # The license center this client signs users into, if any.
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("systems.id", ondelete="SET NULL"), unique=True
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A machine client with a restricted account list reads only the accounts in
    # oauth_client_accounts (none, when the list is empty); unrestricted reads all.
    accounts_restricted: Mapped[bool] = mapped_column(default=False, server_default=false())

    system: Mapped[System | None] = relationship(lazy="joined")


class OAuthClientAccount(Base):
    """One account on a machine client's allow-list."""

    __tablename__ = "oauth_client_accounts"

    client_pk: Mapped[int] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )


class ProviderKey(Base):
    """A signing key of ours. Private halves are encrypted with the secret key."""

    __tablename__ = "provider_keys"
    __table_args__ = (CheckConstraint(f"alg IN {SIGNING_ALGORITHMS!r}", name="alg"),)

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(8))
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set when a newer key takes over; the public key stays published for a while.
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
