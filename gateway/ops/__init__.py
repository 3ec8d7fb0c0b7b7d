"""Operations: health and readiness endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the liveness and readiness probes."""
    from gateway.ops import health

    app.register_blueprint(health.bp)
