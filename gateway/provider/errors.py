"""Provider failures that are not OAuth protocol errors (those authlib answers)."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class ClientRegistrationError(GatewayError):
    title = "Client registration refused"
    event = "provider.client_refused"


class LogoutRequestRejected(GatewayError):
    title = "We could not sign you out from there"
    event = "provider.logout_rejected"
