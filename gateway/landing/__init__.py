"""Where a signed-in customer lands: sent straight to their license center, offered a
choice, warned that a system is down, or told plainly why they have no access."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the pages and answer every completed sign-in with the routing decision."""
    from gateway.core import hooks
    from gateway.landing import views

    app.register_blueprint(views.bp)
    hooks.after_sign_in(app, views.route_response)
