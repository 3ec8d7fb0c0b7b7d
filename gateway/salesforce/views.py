"""The console's page of Salesforce sync runs (/it/salesforce/runs): the history, newest
first, with counts, cursors, notes, errors and the reasons records were rejected.

Under /it/, with the IT role check of every console page; read-only."""

from __future__ import annotations

import json

from flask import render_template, request
from flask.typing import ResponseReturnValue

from gateway.core.console import it_console
from gateway.core.db import get_session
from gateway.core.settings import current_settings
from gateway.salesforce.service import cursors, recent_runs

bp = it_console("salesforce_console", __name__)
PAGE_SIZES = (20, 50, 200)


@bp.get("/salesforce/runs")
def runs() -> ResponseReturnValue:
    """Recent runs of the sync, and where each object's cursor stands."""
    limit = request.args.get("limit", type=int)
    limit = limit if limit in PAGE_SIZES else PAGE_SIZES[0]
    db = get_session()
    history = recent_runs(db, limit)
    settings = current_settings()
    return render_template(
        "salesforce/runs.html",
        runs=history,
        rejections={run.id: json.loads(run.rejections or "[]") for run in history},
        cursors=sorted(cursors(db).items()),
        configured=settings.salesforce_login_url is not None,
        interval=settings.salesforce_sync_interval_seconds,
        limit=limit,
        page_sizes=PAGE_SIZES,
    )
