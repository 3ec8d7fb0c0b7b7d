"""Switchyard: the SSO routing gateway and identity service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """`create_app`, imported on first use: gunicorn's master imports
    gateway.gunicorn_conf and must not load the app (nor prometheus_client, whose
    multiprocess mode is chosen by an environment variable that config sets)."""
    if name == "create_app":
        from gateway.app import create_app

        return create_app
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")
