"""IT's JSON API for what the console shows: the dashboard, the route trace (who goes
where, and why) and the audit log, under /api/v1/. Same services as the console."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.core.access import api_caller, limit_failed_credentials
from gateway.core.api_input import query_arguments
from gateway.core.api_schemas import event_json
from gateway.core.db import get_session
from gateway.core.models import AuditEvent
from gateway.core.models.base import utcnow
from gateway.core.openapi import describe
from gateway.core.settings import current_settings
from gateway.core.store import get_store
from gateway.insights.dashboard import build_dashboard
from gateway.insights.openapi import INSIGHTS_API
from gateway.insights.service import trace_dict, who_is_affected
from gateway.routing.config import current_routing_config
from gateway.routing.service import today_utc

bp = Blueprint("insights_api", __name__, url_prefix="/api/v1")
limit_failed_credentials(bp)
describe(bp, INSIGHTS_API)


@bp.get("/dashboard")
def dashboard() -> ResponseReturnValue:
    api_caller("rollout:read")
    db = get_session()
    board = build_dashboard(
        db,
        get_store(),
        current_routing_config(db),
        granularity=query_arguments("get", "/api/v1/dashboard")["by"],
        today=today_utc(),
        grace_days=current_settings().entitlement_grace_days,
        now=utcnow(),
    )
    return jsonify(
        granularity=board.granularity,
        periods=[b.start.isoformat() for b in board.buckets],
        logins=board.series("login"),
        choices=board.series("choice"),
        errors=board.errors,
        product_lines=[
            {
                "code": r.code,
                "state": r.state,
                "percent": r.percent,
                "accounts": r.sides.accounts,
                "entitlements": r.sides.entitlements,
                "waiting_for_data": list(r.sides.waiting_for_data),
                "routed": r.routed,
                "routed_series": board.series("line", r.code),
            }
            for r in board.rows
        ],
    )


@bp.get("/route-trace")
def route_trace() -> ResponseReturnValue:
    api_caller("support:read")
    db = get_session()
    people = who_is_affected(
        db,
        current_routing_config(db),
        query_arguments("get", "/api/v1/route-trace")["q"],
        current_settings(),
        today=today_utc(),
        now=utcnow(),
    )
    return jsonify(people=[trace_dict(person) for person in people])


@bp.get("/audit-events")
def audit_events() -> ResponseReturnValue:
    api_caller("rollout:read")
    limit = query_arguments("get", "/api/v1/audit-events")["limit"]
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    return jsonify(events=[event_json(e) for e in get_session().scalars(query)])
