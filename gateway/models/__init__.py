"""SQLAlchemy 2.0 typed models; Alembic migrations in gateway/migrations track them."""

from gateway.models.audit import AuditEvent
from gateway.models.base import Base
from gateway.models.directory import (
    Account,
    DirectoryRevision,
    Entitlement,
    EntitlementHolding,
    Permission,
    ProductLine,
    System,
    User,
)
from gateway.models.provider import OAuthClient, ProviderKey

__all__ = [
    "Account",
    "AuditEvent",
    "Base",
    "DirectoryRevision",
    "Entitlement",
    "EntitlementHolding",
    "OAuthClient",
    "Permission",
    "ProductLine",
    "ProviderKey",
    "System",
    "User",
]

from gateway.models.api_token import ApiToken  # noqa: E402
from gateway.models.rollout import AccountOverride, PilotAccount, ScheduledChange  # noqa: E402

__all__ += ["AccountOverride", "ApiToken", "PilotAccount", "ScheduledChange"]
