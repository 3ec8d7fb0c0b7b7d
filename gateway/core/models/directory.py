"""The entitlement directory: accounts, users, permissions, product lines, systems, entitlements."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from uuid import uuid4

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.models.base import Base, Timestamped, UtcDateTime

PRODUCT_LINE_STATES = ("legacy", "pilot", "rollout", "new")
# A product-line code: letters, digits, `_`, `.` and `-` only. Codes appear in URLs,
# audit targets, Redis keys and CSV exports; none of those characters is special there.
PRODUCT_LINE_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
PRODUCT_LINE_CODE_RULE = "1-64 letters, digits, '_', '.' or '-'"
ENTITLEMENT_KINDS = ("perpetual", "subscription", "maintenance")
ENTITLEMENT_STATUSES = ("active", "inactive", "expired", "cancelled")
USER_STATUSES = ("active", "disabled")
# How a user came to be in the directory, as the org console shows it.
USER_ORIGINS = ("import", "invitation", "scim", "sign-in")


class Account(Timestamped, Base):
    """A customer organisation; its number is the key the portal and Salesforce share."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))


class User(Timestamped, Base):
    """A person in one account, keyed at the IdP by issuer and subject (a SAML NameID
    or an OIDC `sub`), both set at first sign-in."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"status IN {USER_STATUSES!r}", name="status"),
        CheckConstraint(f"added_via IN {USER_ORIGINS!r}", name="added_via"),
        Index("ix_users_account_id", "account_id"),
        # Subjects are unique per issuer only: two IdPs may both have a user "42".
        UniqueConstraint("issuer", "subject", name="uq_users_issuer_subject"),
        # SCIM's externalId is the customer IdP's key, unique within the account.
        UniqueConstraint("account_id", "external_id", name="uq_users_account_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The OpenID Connect `sub` we issue: opaque and stable, never the email.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: uuid4().hex)
    # The IdP that vouched for `subject` ('' on users from before issuers were kept,
    # who are linked to the configured IdP's issuer at their next sign-in).
    issuer: Mapped[str] = mapped_column(String(1024), default="", server_default="")
    subject: Mapped[str | None] = mapped_column(String(255))
    # Stored lower-cased, so uniqueness is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str] = mapped_column(String(255), default="")
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    remembered_system: Mapped[str | None] = mapped_column(String(64))
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    added_via: Mapped[str] = mapped_column(String(16), default="sign-in", server_default="sign-in")
    # The customer's own IdP's id for this user, when provisioned through SCIM.
    external_id: Mapped[str | None] = mapped_column(String(255))
    # Whether this user, as an org admin, is mailed about renewals coming up.
    renewal_reminders: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    account: Mapped[Account] = relationship(lazy="joined")
    permissions: Mapped[list[Permission]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def permission_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.permissions)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


class Permission(Base):
    """One grant of portal, licensing, downloads or admin to one user."""

    __tablename__ = "permissions"
    __table_args__ = (
        CheckConstraint("name IN ('portal', 'licensing', 'downloads', 'admin')", name="name"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(16), primary_key=True)


class ProductLine(Timestamped, Base):
    """A product line and where it stands in the migration."""

    __tablename__ = "product_lines"
    __table_args__ = (
        CheckConstraint(f"state IN {PRODUCT_LINE_STATES!r}", name="state"),
        CheckConstraint("rollout_percent >= 0 AND rollout_percent <= 100", name="rollout_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="legacy")
    # Share of accounts (by rollout bucket) on the new system while in `rollout`.
    rollout_percent: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), default=Decimal(0), server_default="0"
    )
    # The readiness gate also waits until the account's entitlements of this line in the
    # new system agree with Salesforce (docs/migration.md, "Salesforce agreement").
    require_salesforce_agreement: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class System(Timestamped, Base):
    """A license center users can be sent to: `legacy` or `new`."""

    __tablename__ = "systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    entry_url: Mapped[str] = mapped_column(String(2048))
    # IT's "down for maintenance" switch: no one is sent here while it is on.
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    maintenance_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    # What customers read while it is down for maintenance; the note is IT's reason.
    customer_message: Mapped[str] = mapped_column(Text, default="", server_default="")


class Entitlement(Timestamped, Base):
    """One entitlement of an account, as exported by one or both license centers."""

    __tablename__ = "entitlements"
    __table_args__ = (
        CheckConstraint(f"kind IN {ENTITLEMENT_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {ENTITLEMENT_STATUSES!r}", name="status"),
        # The routing hot path reads an account's entitlements.
        Index("ix_entitlements_account_id", "account_id"),
        # Sign-in's grouped summary reads only these columns: an index-only scan.
        Index(
            "ix_entitlements_account_routing",
            "account_id",
            "status",
            "product_line_id",
            "end_date",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"))
    product: Mapped[str] = mapped_column(String(255))
    unit_of_measure: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    kind: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))

    product_line: Mapped[ProductLine] = relationship(lazy="joined")
    holdings: Mapped[list[EntitlementHolding]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class EntitlementHolding(Base):
    """Which license center's export contains an entitlement (both, while it migrates)."""

    __tablename__ = "entitlement_holdings"

    entitlement_id: Mapped[int] = mapped_column(
        ForeignKey("entitlements.id", ondelete="CASCADE"), primary_key=True
    )
    system_id: Mapped[int] = mapped_column(
        ForeignKey("systems.id", ondelete="CASCADE"), primary_key=True
    )
    system: Mapped[System] = relationship(lazy="joined")


class DirectoryRevision(Base):
    """One row counting the changes to what routing reads from the directory.

    Database triggers (migration 0005) bump it on every write to entitlements, their
    holdings, product lines and systems, whoever writes (importer, seed, console, a
    hand-run SQL fix), so routing can cache an account's entitlement summary under the
    revision it was read at and never serve one older than the data.
    """

    __tablename__ = "directory_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
