"""The floor for HTTP figures: a bare Flask app that answers 302, under the same gunicorn."""

from __future__ import annotations

from flask import Flask, redirect
from werkzeug.wrappers import Response


def create_floor_app() -> Flask:
    """One redirect and a health check; nothing else."""
    floor = Flask(__name__)

    @floor.get("/healthz")
    def healthz() -> str:
        return "ok"

    @floor.route("/floor", methods=["GET", "POST"])
    def floor_redirect() -> Response:
        return redirect("https://legacy.licenses.example/start")

    return floor


app = create_floor_app()
