"""SQLAlchemy 2.0 typed models; Alembic migrations in gateway/core/migrations track them."""

from gateway.core.models.audit import AuditEvent
from gateway.core.models.base import Base
from gateway.core.models.directory import (
    Account,
    DirectoryRevision,
    Entitlement,
    EntitlementHolding,
    Permission,
    ProductLine,
    System,
    User,
)
from gateway.core.models.provider import OAuthClient, ProviderKey

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

from gateway.core.models.api_token import ApiToken  # noqa: E402
from gateway.core.models.rollout import AccountOverride, PilotAccount, ScheduledChange  # noqa: E402

__all__ += ["AccountOverride", "ApiToken", "PilotAccount", "ScheduledChange"]
from gateway.core.models.organisation import Invitation, OutboundMail  # noqa: E402

__all__ += ["Invitation", "OutboundMail"]
from gateway.core.models.renewals import RenewalReminder  # noqa: E402

__all__ += ["RenewalReminder"]
from gateway.core.models.salesforce import (  # noqa: E402
    SalesforceAccount,
    SalesforceAsset,
    SalesforceCursor,
    SalesforceEntitlement,
    SalesforceSyncRun,
)

__all__ += [
    "SalesforceAccount",
    "SalesforceAsset",
    "SalesforceCursor",
    "SalesforceEntitlement",
    "SalesforceSyncRun",
]
