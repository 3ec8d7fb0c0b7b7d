"""The development IdP and stand-in license centers, for `gateway demo` only.

create_app mounts it only when handed a DemoConfig, which only `gateway demo` and
the tests build: no setting or environment variable can switch it on.
"""

from __future__ import annotations

from flask import Flask

from gateway.devidp.idp import DemoConfig


def init_app(app: Flask, demo: DemoConfig) -> None:
    """Mount the development IdP under /dev-idp/ on the demo app."""
    from gateway.devidp import views

    app.extensions["devidp"] = demo
    app.register_blueprint(views.bp)
