"""What IT sees: the console's start page (the migration dashboard), its CSV, who is
affected and the audit log, with their API routes (/api/v1/dashboard, route-trace,
audit-events) and `gateway product-line who`."""

from __future__ import annotations

from flask import Flask

from gateway.core import hooks


def init_app(app: Flask) -> None:
    """Mount the pages and the API, and make the dashboard IT's start page."""
    from gateway.core.extensions import csrf
    from gateway.insights import api, views

    app.register_blueprint(views.bp)
    csrf.exempt(api.bp)  # bearer tokens, as for every IT API route
    app.register_blueprint(api.bp)
    hooks.set_start_page(app, "it", "insights_console.dashboard")
