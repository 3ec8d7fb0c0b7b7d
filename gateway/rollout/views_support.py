"""The console's support pages: who is affected (where people go now, and why) and the
audit log. Routes on the console's blueprint (same /it/ prefix and IT role check)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.core.db import get_session
from gateway.core.models import AuditEvent
from gateway.core.models.base import utcnow
from gateway.core.settings import current_settings
from gateway.rollout.support import clear_remembered_choice, who_is_affected
from gateway.rollout.views import bp, it_actor
from gateway.routing.config import current_routing_config
from gateway.routing.service import today_utc


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
    return render_template("rollout/who.html", query=query, people=people)


@bp.post("/who/forget-choice")
def forget_choice() -> ResponseReturnValue:
    """Support: clear a person's remembered choice of license center (audited)."""
    email, reason = request.form.get("email", ""), request.form.get("reason")
    clear_remembered_choice(get_session(), email, reason=reason, actor=it_actor())
    flash(f"Remembered choice cleared: {email} is routed afresh at the next sign-in.", "info")
    return redirect(url_for("rollout_console.who", q=request.form.get("q") or email))


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    events = get_session().scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(200))
    return render_template("rollout/audit.html", events=list(events))
