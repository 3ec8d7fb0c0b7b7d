"""Routing failures: each maps to one page that says what happened."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class RoutingError(GatewayError):
    status = 400
    title = "We could not send you there"
    event = "routing.refused"


class SystemNotOffered(RoutingError):
    """The posted choice is not one of the systems holding the user's entitlements."""

    event = "routing.system_not_offered"


class SystemNotConfigured(RoutingError):
    """The decision names a system that has no row (and so no entry URL) here."""

    status = 503
    title = "That license center is not available"
    event = "routing.system_missing"
