"""What the renewal reminders' pages refuse."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class NotOrgAdmin(GatewayError):
    """Signed in, but not an admin of their organisation: reminders are for admins."""

    status = 403
    title = "Not allowed"
    event = "renewals.forbidden"
