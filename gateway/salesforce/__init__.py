"""The Salesforce sync: Account, Asset and Entitlement records from the vendor's order
management and support system, with `gateway sync salesforce` and `gateway sync runs`
(docs/salesforce.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing

from flask import Flask

from gateway.core import hooks

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Mount the console's pages, the drift panel of IT's dashboard and the support
    eligibility API; when Salesforce is configured, tell the customer's pages about
    support, and schedule the sync if an interval is set."""
    from gateway.core import jobs
    from gateway.salesforce import api, drift, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    hooks.add_dashboard_panel(app, "salesforce/_drift_panel.html", views.drift_panel)
    # Always: without Salesforce's records nothing agrees, so lines that require
    # agreement wait, as they should, until a sync has brought them.
    hooks.set_agreement_check(app, drift.accounts_in_agreement)
    settings = app.extensions["settings"]
    if settings.salesforce_login_url:
        hooks.set_support_eligibility(app, support_coverage(app))
    if settings.salesforce_login_url and settings.salesforce_sync_interval_seconds:
        jobs.register(
            app, "salesforce-sync", settings.salesforce_sync_interval_seconds, sync_round(app)
        )


def sync_round(app: Flask) -> Callable[[], None]:
    """One round of the scheduled sync from this process: the current slot's incremental
    run, unless another instance has claimed that slot."""
    from gateway.core import db as database
    from gateway.core.models.base import utcnow
    from gateway.salesforce.service import scheduled_sync

    def run() -> None:
        with closing(database.new_session(app)) as session:
            summary = scheduled_sync(session, app.extensions["settings"], utcnow())
        if summary is not None:
            log.info(
                summary.lines()[0],
                extra={"event": f"salesforce.sync_{summary.state}", "error": summary.error},
            )

    return run


def support_coverage(app: Flask) -> hooks.SupportEligibilityProvider:
    """The customer's pages' view of support eligibility, for the lines they show."""
    from gateway.core.db import get_session
    from gateway.core.models.base import utcnow
    from gateway.salesforce.eligibility import eligibility_by_line

    def coverage(account_number: str, line_codes: list[str]) -> dict[str, hooks.SupportCoverage]:
        found = eligibility_by_line(
            get_session(),
            account_number,
            line_codes,
            now=utcnow(),
            settings=app.extensions["settings"],
        )
        return {
            code: hooks.SupportCoverage(
                e.eligible, e.reason, e.entitlement.end_date if e.entitlement else None
            )
            for code, e in found.items()
        }

    return coverage
