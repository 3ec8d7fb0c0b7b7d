"""Stand-in license centers for the demo: each shows who Switchyard handed over, and where to.

They play the legacy and the new license center just far enough to make the
hand-off visible (the `login_hint` and `target_link_uri` of the redirect).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request

HANDOFF_PARAMS = ("login_hint", "target_link_uri")
COLOURS = {"legacy": "#7a4a12", "new": "#0b5cad"}


def create_license_center(key: str, name: str) -> Flask:
    """A tiny app named `name` that displays each arrival; `key` is "legacy" or "new"."""
    app = Flask(__name__, template_folder="templates", static_folder=None)
    app.name = f"license-center-{key}"

    @app.get("/")
    @app.get("/start")
    def arrival() -> Any:
        args = request.args
        others = [(param, value) for param, value in args.items() if param not in HANDOFF_PARAMS]
        return render_template(
            "devidp/license_center.html",
            name=name,
            colour=COLOURS.get(key, "#333"),
            login_hint=args.get("login_hint"),
            target_link_uri=args.get("target_link_uri"),
            other_params=others,
        )

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok", system=key)

    return app
