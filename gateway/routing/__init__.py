"""Routing: which license center a user goes to, and the hand-off that sends them.

Importing the package loads nothing: `decision` (the rule itself) stays importable
without flask or sqlalchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Keep a routing configuration cache per app, reloaded when the version moves."""
    from gateway.routing import config

    config.init_app(app)
