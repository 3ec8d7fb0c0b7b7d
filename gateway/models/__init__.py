"""SQLAlchemy 2.0 typed models; Alembic migrations in gateway/migrations track them."""

from gateway.models.audit import AuditEvent
from gateway.models.base import Base
from gateway.models.directory import (
    Account,
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
    "Entitlement",
    "EntitlementHolding",
    "OAuthClient",
    "Permission",
    "ProductLine",
    "ProviderKey",
    "System",
    "User",
]
