"""The console's support pages: who is affected (where people go now, and why) and the
audit log. Routes on the console's blueprint (same /it/ prefix and IT role check)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.db import get_session
from gateway.models import AuditEvent
from gateway.models.base import utcnow
from gateway.rollout.support import who_is_affected
from gateway.rollout.views import bp
from gateway.routing.config import current_routing_config
from gateway.routing.service import today_utc
from gateway.settings import current_settings


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


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    events = get_session().scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(200))
    return render_template("rollout/audit.html", events=list(events))
