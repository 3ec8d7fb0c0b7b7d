"""IT's product-line migration control: states, pilots, overrides, schedules, dashboard."""

from __future__ import annotations

from flask import Flask

from gateway.core import hooks
from gateway.core.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Mount the console and the API, count failures, and start the background work
    (scheduler, health probes) when the settings ask for it."""
    from gateway.core.extensions import csrf

    # api_systems, views_systems and views_support add routes to the API's and the
    # console's blueprints.
    from gateway.rollout import (  # noqa: F401
        api,
        api_systems,
        views,
        views_support,
        views_systems,
    )
    from gateway.routing import counters

    counters.init_app(app)
    app.register_blueprint(views.bp)
    # Bearer tokens are not ambient credentials, and session callers may only read.
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    hooks.set_start_page(app, "it", "rollout_console.dashboard")
    _register_jobs(app, settings)


def _register_jobs(app: Flask, settings: Settings) -> None:
    from gateway.core import jobs
    from gateway.rollout.health import probe_round
    from gateway.rollout.scheduler import due_round

    if settings.scheduler_enabled:
        jobs.register(app, "rollout-scheduler", settings.scheduler_interval_seconds, due_round(app))
    if settings.health_check_enabled and settings.system_health_urls:
        interval = settings.health_check_interval_seconds
        jobs.register(
            app, "rollout-health", interval, probe_round(app, settings.system_health_urls, interval)
        )
