"""The OpenAPI description of the insights API (gateway.insights.api): the dashboard, the
route trace and the audit log. Queries are read against it (gateway.core.api_input)."""

from __future__ import annotations

from typing import Any

from gateway.core.api_schemas import (
    COUNT,
    DATE_TIME,
    EVENT,
    NULLABLE_TEXT,
    REASON,
    STATE,
    STRINGS,
    answer,
)
from gateway.core.openapi import IT_READ, ApiDescription, Operation, query
from gateway.routing.decision import SYSTEMS

MAX_AUDIT_EVENTS = 1000
DEFAULT_AUDIT_EVENTS = 100
DASHBOARD_GRANULARITIES = ("hour", "day")
MAX_QUERY = 320

PER_SYSTEM: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"enum": list(SYSTEMS)},
    "additionalProperties": COUNT,
}
SERIES: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"enum": list(SYSTEMS)},
    "additionalProperties": {"type": "array", "items": COUNT},
}
_TRACE_LINE = answer(
    line={"type": "string"},
    state={"type": "string"},
    system={"type": "string"},
    reason={"type": "string"},
    bucket={"type": ["integer", "null"]},
    override=NULLABLE_TEXT,
    gate={"type": ["string", "null"], "enum": ["readiness", "health", None]},
)
_PERSON = answer(
    email={"type": "string"},
    account_number={"type": "string"},
    decision={"type": "string", "enum": ["system", "choice", "none", "no_access", "unavailable"]},
    systems=STRINGS,
    reason={"type": "string"},
    remembered_system=NULLABLE_TEXT,
    down=STRINGS,
    lines={"type": "array", "items": _TRACE_LINE},
)
_DASHBOARD_LINE = answer(
    code={"type": "string"},
    state=STATE,
    percent={"type": "string"},
    accounts=PER_SYSTEM,
    entitlements=PER_SYSTEM,
    waiting_for_data=STRINGS,
    routed=PER_SYSTEM,
    routed_series=SERIES,
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "AuditEvents": answer(events={"type": "array", "items": EVENT}),
    "Dashboard": answer(
        granularity={"type": "string", "enum": ["hour", "day"]},
        periods={"type": "array", "items": DATE_TIME},
        logins=SERIES,
        choices=SERIES,
        errors=COUNT,
        product_lines={"type": "array", "items": _DASHBOARD_LINE},
    ),
    "RouteTrace": answer(people={"type": "array", "items": _PERSON}),
}

_LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_AUDIT_EVENTS}
_TRACE_QUERY = {
    "type": "string",
    "maxLength": MAX_QUERY,
    "pattern": REASON["pattern"],
    "description": "an email address or an account number",
}

INSIGHTS_API = ApiDescription(
    operations=(
        Operation(
            "get",
            "/api/v1/dashboard",
            "Per line accounts/entitlements per system, logins and picks per hour or day",
            IT_READ,
            "rollout:read",
            answer="Dashboard",
            query=(
                query(
                    "by",
                    {"type": "string", "enum": list(DASHBOARD_GRANULARITIES), "default": "hour"},
                    "48 hourly or 30 daily periods",
                ),
            ),
            refusals=("422",),
        ),
        Operation(
            "get",
            "/api/v1/route-trace",
            "Where a person (email) or an account's people (account number) go now, and why",
            IT_READ,
            "support:read",
            answer="RouteTrace",
            query=(
                query("q", _TRACE_QUERY, "an email address or an account number", required=True),
            ),
            refusals=("404", "422"),
        ),
        Operation(
            "get",
            "/api/v1/audit-events",
            "The latest audit events, newest first",
            IT_READ,
            "rollout:read",
            answer="AuditEvents",
            query=(query("limit", {**_LIMIT, "default": DEFAULT_AUDIT_EVENTS}, "how many events"),),
            refusals=("422",),
        ),
    ),
    schemas=SCHEMAS,
)
