"""The entitlement directory: accounts, users, permissions, product lines, entitlements."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the directory's endpoints."""
    from gateway.directory import views

    app.register_blueprint(views.bp)
