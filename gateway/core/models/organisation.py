"""What org admins create besides users: invitations, and the mail that carries them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.models.base import Base, UtcDateTime, utcnow


class Invitation(Base):
    """An invitation to one email address, into one account, with chosen permissions.

    Its state is read from its timestamps: revoked, accepted, expired, else pending.
    The link's secret is shown (mailed) once and only its hash is kept.
    """

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_account_id", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # HMAC of the link's secret under a key derived from GATEWAY_SECRET_KEY.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # Lower-cased, as users' emails are.
    email: Mapped[str] = mapped_column(String(320))
    # Space-separated permission names, e.g. "portal downloads".
    permissions: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_count: Mapped[int] = mapped_column(default=0, server_default="0")
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.accepted_at is not None:
            return "accepted"
        if self.expires_at <= now:
            return "expired"
        return "pending"


class OutboundMail(Base):
    """One message waiting for, or past, delivery by the mail job (off the request path).

    Written in the transaction of the change it announces, so a rolled-back change
    sends nothing and a committed one is sent even if the process dies right after.
    """

    __tablename__ = "outbound_mail"
    __table_args__ = (Index("ix_outbound_mail_due", "sent_at", "failed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    text_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set when the retries are used up: the message is given up, and says why.
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
