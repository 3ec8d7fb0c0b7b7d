"""Routing pages (placeholder until the routing capability lands)."""

from __future__ import annotations

from flask import Blueprint, Response, redirect

from gateway.models import User

bp = Blueprint("routing", __name__)


def route_response(user: User, target: str | None) -> Response:
    """Send a freshly signed-in user where the routing decision says."""
    return redirect(target or "/")  # type: ignore[return-value]
