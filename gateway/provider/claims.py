"""What we tell a relying party about a user, decided by the scopes it was granted.

`account` adds the organisation and the user's permissions; `entitlements` adds the
product lines that this client's license center serves for the user under the
current routing, so both centers honour one grant and one routing decision.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.core.models import User
from gateway.core.session import SignedInUser
from gateway.core.settings import Settings
from gateway.routing import service as routing

SCOPES_SUPPORTED = ("openid", "email", "profile", "account", "entitlements", "entitlements:read")
CLAIMS_SUPPORTED = (
    "sub",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "account_number",
    "account_name",
    "permissions",
    "product_lines",
)


def product_lines_served(
    db: Session, user: User, system_key: str | None, settings: Settings
) -> list[str]:
    """Codes of the product lines routing sends this user to `system_key` for."""
    if system_key is None:
        return []
    today = routing.today_utc()
    inputs = routing.load_route_summary(
        db, SignedInUser.of(user), today=today, grace_days=settings.entitlement_grace_days
    )
    decision = routing.decide_for(
        inputs, settings, today=today, deep_link_system=None, remembered_system=None
    )
    served = decision.by_system.get(system_key, ())
    return sorted({entitlement.product_line_code for entitlement in served})


def user_claims(
    db: Session, user: User, scope: str, *, system_key: str | None, settings: Settings
) -> dict[str, Any]:
    """The claims `scope` releases for `user`, for a client serving `system_key`."""
    scopes = set(scope.split())
    claims: dict[str, Any] = {"sub": user.public_id}
    if "email" in scopes:
        # The community portal verified the address; we only accept it from there.
        claims.update(email=user.email, email_verified=True)
    if "profile" in scopes:
        claims.update(
            name=user.display_name, given_name=user.first_name, family_name=user.last_name
        )
    if "account" in scopes:
        claims.update(
            account_number=user.account.account_number,
            account_name=user.account.name,
            permissions=sorted(user.permission_names),
        )
    if "entitlements" in scopes:
        claims["product_lines"] = product_lines_served(db, user, system_key, settings)
    return claims
