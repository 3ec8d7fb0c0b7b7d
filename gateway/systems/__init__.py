"""License-center systems: health probes and the maintenance switch, with its console
pages (/it/systems/...), its API (/api/v1/systems/...) and `gateway system ...`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the console pages and the API; probe the systems when the settings ask."""
    from gateway.core import jobs
    from gateway.core.extensions import csrf
    from gateway.systems import api, views
    from gateway.systems.probes import probe_round

    settings = app.extensions["settings"]
    app.register_blueprint(views.bp)
    csrf.exempt(api.bp)  # bearer tokens, as for every IT API route
    app.register_blueprint(api.bp)
    if settings.health_check_enabled and settings.system_health_urls:
        interval = settings.health_check_interval_seconds
        jobs.register(
            app, "rollout-health", interval, probe_round(app, settings.system_health_urls, interval)
        )
