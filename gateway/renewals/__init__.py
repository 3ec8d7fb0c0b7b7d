"""Renewal reminders: org admins are mailed when their organisation's maintenance or
subscriptions end within 90, 60 and 30 days (each once, across instances), and may
turn that off at /renewals/settings; `gateway report expiring` lists what ends soon
for account managers."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

from flask import Flask


def reminder_round(app: Flask) -> Callable[[], None]:
    """One run of the background job, from this process, for today (UTC)."""
    from gateway.core import db as database
    from gateway.core.models.base import utcnow
    from gateway.renewals.service import send_due_reminders

    def run() -> None:
        with closing(database.new_session(app)) as session:
            send_due_reminders(session, app.extensions["settings"], utcnow().date())

    return run


def init_app(app: Flask) -> None:
    """Mount the settings page; run the reminder job when GATEWAY_RENEWAL_REMINDERS_ENABLED."""
    from gateway.core import jobs
    from gateway.core.settings import Settings
    from gateway.renewals import views

    views.init_app(app)
    settings: Settings = app.extensions["settings"]
    if settings.renewal_reminders_enabled:
        jobs.register(
            app, "renewal-reminders", settings.renewal_interval_seconds, reminder_round(app)
        )
