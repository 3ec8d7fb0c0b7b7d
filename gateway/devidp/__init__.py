"""The development identity provider and stand-in license centers, for `gateway demo` only."""

from __future__ import annotations

from typing import Any

from flask import Flask


def init_app(app: Flask, demo: Any) -> None:
    """Mount the development IdP on the demo app."""
