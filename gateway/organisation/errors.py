"""What organisation administration refuses, beyond core's refused changes."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class NotOrgAdmin(GatewayError):
    """Signed in, but not an admin of their organisation (nor vendor support)."""

    status = 403
    title = "Not allowed"
    event = "org.forbidden"
