"""What a customer holds: "Your entitlements" (/entitlements, its CSV, printable) for
every customer user allowed to see it, and the same rows as JSON at
/api/v1/me/entitlements; quantities in words and the reader's locale, terms ending
soon highlighted with their day count."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the page, its CSV and the JSON API, and link the page from every page."""
    from gateway.entitlements import api, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
