"""IT's product-line migration control: states, pilots, overrides, schedules, dashboard."""

from __future__ import annotations

from flask import Flask

from gateway.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Mount the console and the API, count failures, and start the background work
    (scheduler, health probes) when the settings ask for it."""
    from gateway.extensions import csrf

    # api_systems, views_systems and views_support add routes to the API's and the
    # console's blueprints.
    from gateway.rollout import (  # noqa: F401
        api,
        api_systems,
        metrics,
        views,
        views_support,
        views_systems,
    )

    metrics.init_app(app)
    app.register_blueprint(views.bp)
    # Bearer tokens are not ambient credentials, and session callers may only read.
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    app.extensions["rollout_background"] = _start_background(app, settings)


def _start_background(app: Flask, settings: Settings) -> list[object]:
    from gateway.rollout.health import start_health_checker
    from gateway.rollout.scheduler import start_scheduler

    started: list[object] = []
    if settings.scheduler_enabled:
        started.append(start_scheduler(app, settings.scheduler_interval_seconds))
    if settings.health_check_enabled and settings.system_health_urls:
        started.append(
            start_health_checker(
                app, settings.system_health_urls, settings.health_check_interval_seconds
            )
        )
    return started


def stop_background(app: Flask) -> None:
    """Stop this app's background threads (the demo and tests call this)."""
    from gateway.rollout.scheduler import Repeating

    for worker in app.extensions.get("rollout_background", []):
        if isinstance(worker, Repeating):
            worker.stop()
