"""The console's Salesforce pages: the sync runs (/it/salesforce/runs), the history,
newest first, with counts, cursors, notes, errors and the reasons records were rejected;
and the drift report (/it/salesforce/drift), filtered, with its CSV and JSON.

Under /it/, with the IT role check of every console page; read-only."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.console import it_console
from gateway.core.db import get_session
from gateway.core.models import DirectoryRevision, SalesforceSyncRun
from gateway.core.settings import current_settings
from gateway.core.store import get_store
from gateway.salesforce.drift import (
    DRIFT_KINDS,
    DriftRow,
    counts_by_kind,
    drift,
    drift_csv,
    drift_json,
)
from gateway.salesforce.service import cursors, has_synced, recent_runs

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


def _filtered_drift() -> tuple[list[DriftRow], dict[str, str]]:
    """The report for the page's filters (account, line, kind), and those filters."""
    filters = {name: request.args.get(name, "").strip() for name in ("account", "line", "kind")}
    rows = drift(
        get_session(), account_number=filters["account"] or None, line=filters["line"] or None
    )
    if filters["kind"] in DRIFT_KINDS:
        rows = [row for row in rows if row.kind == filters["kind"]]
    else:
        filters["kind"] = ""
    return rows, filters


@bp.get("/salesforce/drift")
def drift_page() -> ResponseReturnValue:
    """Where Salesforce and the license centers disagree, with filters and downloads."""
    rows, filters = _filtered_drift()
    return render_template(
        "salesforce/drift.html",
        synced=has_synced(get_session()),
        rows=rows,
        counts=counts_by_kind(rows),
        filters=filters,
        kinds=DRIFT_KINDS,
        query={name: value for name, value in filters.items() if value},
    )


@bp.get("/salesforce/drift.csv")
def drift_download_csv() -> Response:
    rows, _filters = _filtered_drift()
    return Response(
        drift_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="salesforce-drift.csv"'},
    )


@bp.get("/salesforce/drift.json")
def drift_download_json() -> Response:
    rows, _filters = _filtered_drift()
    return Response(drift_json(rows), mimetype="application/json")


def drift_panel() -> dict[str, Any]:
    """The dashboard's drift panel: the differences by kind (hooks.add_dashboard_panel).
    Before any sync has succeeded, every entitlement would count as missing in
    Salesforce: the panel says there is nothing to compare yet instead."""
    db = get_session()
    if not has_synced(db):
        return {"synced": False, "counts": {}, "total": 0}
    counts = _cached_counts(db)
    return {"synced": True, "counts": counts, "total": sum(counts.values())}


DRIFT_COUNTS_KEY = "salesforce:drift-counts:"


def _cached_counts(db: Session) -> dict[str, int]:
    """The drift counts, computed once per state of their two inputs: the last finished
    sync run (Salesforce's side changes only through runs) and the directory revision
    (which database triggers move on every write to the license centers' entitlements).
    The whole report reads every entitlement; the dashboard must not, on every view."""
    last_run = db.scalar(
        select(func.max(SalesforceSyncRun.id)).where(SalesforceSyncRun.finished_at.is_not(None))
    )
    revision = db.scalar(select(DirectoryRevision.revision))
    key = f"{DRIFT_COUNTS_KEY}{last_run}:{revision}"
    store = get_store()
    cached = store.get(key)
    if cached is not None:
        return dict(json.loads(cached))
    counts = counts_by_kind(drift(db))
    store.set(key, json.dumps(counts), ex=24 * 3600)
    return counts
