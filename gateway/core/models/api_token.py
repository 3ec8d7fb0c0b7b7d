"""Bearer tokens for the JSON API: stored as hashes, each with its scopes and, for a
token limited to one customer account, that account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models.base import Base, UtcDateTime, utcnow

API_SCOPES = ("rollout:read", "rollout:write", "support:read")
# Scopes of tokens limited to one customer account, made by its admin or an operator:
# its users through the JSON API, or provisioning through SCIM.
ACCOUNT_SCOPES = ("users", "scim")


class ApiToken(Base):
    """One named token; the secret itself is shown once and never stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # sha256 of the token: tokens are 256 random bits, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # None: until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # None: the vendor's own (IT) token, for every account; else only this account.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())
