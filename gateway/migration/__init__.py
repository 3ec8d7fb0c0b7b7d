"""Product-line migration: states, pilots, overrides and scheduled changes, through one
service shared by the console (/it/lines/...), the API (/api/v1/product-lines,
/api/v1/scheduled-changes) and `gateway product-line ...`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the console pages and the API; run the scheduler when the settings ask."""
    from gateway.core import jobs
    from gateway.core.extensions import csrf
    from gateway.migration import api, views
    from gateway.migration.scheduler import due_round

    settings = app.extensions["settings"]
    app.register_blueprint(views.bp)
    # Bearer tokens are not ambient credentials, and session callers may only read.
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    if settings.scheduler_enabled:
        jobs.register(app, "rollout-scheduler", settings.scheduler_interval_seconds, due_round(app))
