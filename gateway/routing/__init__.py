"""The routing domain: which license center a user goes to, and why.

Importing the package loads nothing: `decision` (the rule itself) stays importable
without flask or sqlalchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Keep a routing configuration cache per app, reloaded when the version moves, and
    count routing's outcomes (failed sign-ins included) for the dashboard."""
    from gateway.routing import config, counters

    config.init_app(app)
    counters.init_app(app)
