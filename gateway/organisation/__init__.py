"""Organisation administration: a customer's org admins (and the vendor's support,
read-only) manage who in their organisation may use the portal, licensing and
downloads, in the console (/org/), the JSON API (/api/v1/accounts/{account}/users),
SCIM 2.0 (/scim/v2) and invitations by email."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the console, the invitation pages, the JSON API and SCIM."""
    from gateway.organisation import api, invitation_views, scim, views

    views.init_app(app)
    invitation_views.init_app(app)
    api.init_app(app)
    scim.init_app(app)
