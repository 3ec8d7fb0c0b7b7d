"""Refusals of the entitlements capability."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class EntitlementsNotShown(GatewayError):
    """A portal-only user asked for entitlements: their organisation's admins decide."""

    status = 403
    title = "Not allowed"
    event = "entitlements.not_shown"
