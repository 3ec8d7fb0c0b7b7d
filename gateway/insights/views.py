"""IT's console start page and support pages under /it/: the dashboard (every line, its
accounts on each side, logins over time), its CSV, who is affected (where people go now,
and why) and the audit log. The IT role is checked before every request."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.core import hooks
from gateway.core.console import it_actor, it_console, refused
from gateway.core.db import get_session
from gateway.core.errors import ChangeRefused
from gateway.core.models import AuditEvent
from gateway.core.models.base import utcnow
from gateway.core.settings import current_settings
from gateway.core.store import get_store
from gateway.insights.chart import bar_chart
from gateway.insights.dashboard import build_dashboard, counters_csv, load_buckets
from gateway.insights.service import clear_remembered_choice, who_is_affected
from gateway.routing.config import current_routing_config
from gateway.routing.schedules import pending_changes
from gateway.routing.service import today_utc

bp = it_console("insights_console", __name__)
bp.register_error_handler(ChangeRefused, refused)


@bp.get("/")
def dashboard() -> ResponseReturnValue:
    """Every line: state, accounts on each side, logins over time, waiting accounts."""
    db, settings = get_session(), current_settings()
    board = build_dashboard(
        db,
        get_store(),
        current_routing_config(db),
        granularity=request.args.get("by", "hour"),
        today=today_utc(),
        grace_days=settings.entitlement_grace_days,
        now=utcnow(),
    )
    return render_template(
        "insights/dashboard.html",
        board=board,
        chart=bar_chart,
        config=current_routing_config(db),
        pending=pending_changes(db),
        panels=hooks.dashboard_panels(),
    )


@bp.get("/dashboard.csv")
def dashboard_csv() -> Response:
    """The counters behind the chart, one row per hour (or day) and counter."""
    granularity = "day" if request.args.get("by") == "day" else "hour"
    body = counters_csv(load_buckets(get_store(), granularity, utcnow()), granularity)
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="switchyard-routing-{granularity}.csv"'
        },
    )


@bp.get("/who")
def who() -> ResponseReturnValue:
    """Support: where a person or account goes now, and why, line by line."""
    query = request.args.get("q", "").strip()
    people: list[Any] = []
    if query:
        db = get_session()
        people = who_is_affected(
            db,
            current_routing_config(db),
            query,
            current_settings(),
            today=today_utc(),
            now=utcnow(),
        )
    return render_template("insights/who.html", query=query, people=people)


@bp.post("/who/forget-choice")
def forget_choice() -> ResponseReturnValue:
    """Support: clear a person's remembered choice of license center (audited)."""
    email, reason = request.form.get("email", ""), request.form.get("reason")
    clear_remembered_choice(get_session(), email, reason=reason, actor=it_actor())
    flash(f"Remembered choice cleared: {email} is routed afresh at the next sign-in.", "info")
    return redirect(url_for("insights_console.who", q=request.form.get("q") or email))


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    events = get_session().scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(200))
    return render_template("insights/audit.html", events=list(events))
