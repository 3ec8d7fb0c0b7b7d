"""JSON Schemas of the /api/v1 request bodies and answers (OpenAPI 3.1 = JSON Schema 2020-12).

The request schemas are not only documentation: the API validates every JSON body
against them (gateway/rollout/api_input.py), so what the document promises and what
the server accepts cannot drift apart. No text field may hold NUL: PostgreSQL cannot
store it, so the schema and the server both refuse it.
"""

from __future__ import annotations

from typing import Any

from gateway.core.models.directory import ENTITLEMENT_KINDS, PRODUCT_LINE_STATES
from gateway.core.models.rollout import OVERRIDE_SYSTEMS, SCHEDULE_STATUSES
from gateway.routing.decision import SYSTEMS

# Product-line codes, account numbers and system keys: 1-64 characters, no spaces,
# no slash, no control characters (what the directory importer accepts, less "/").
IDENTIFIER_PATTERN = r"^[^\s/\x00-\x1f\x7f]{1,64}$"
IDENTIFIER: dict[str, Any] = {
    "type": "string",
    "pattern": IDENTIFIER_PATTERN,
    "description": "an identifier: 1-64 characters, no spaces, slashes or control characters",
}
TEXT: dict[str, Any] = {"type": "string", "pattern": r"^[^\x00]*$"}
# Product-line codes as the directory accepts them (gateway.core.models.directory).
CODE: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_.-]{1,64}$",
    "description": "a product-line code: 1-64 letters, digits, '_', '.' or '-'",
}
CONFIRM_BACK: dict[str, Any] = {
    "type": "boolean",
    "description": "confirms a change that sends accounts from new back to legacy; without "
    "it such a change is refused with 409 naming them",
}
CUSTOMER_MESSAGE: dict[str, Any] = {
    "type": "string",
    "maxLength": 500,
    "pattern": r"^[^\x00]*$",
    "description": "what customers read on the status page and notices (IT's reason is not "
    "shown to them)",
}
NULLABLE_TEXT: dict[str, Any] = {"type": ["string", "null"]}
REASON: dict[str, Any] = {
    "type": "string",
    "maxLength": 2000,
    "pattern": r"^[^\x00]*[^\s\x00][^\x00]*$",
    "description": "recorded in the audit log; a missing or blank reason is refused with 400",
}
STATE: dict[str, Any] = {"type": "string", "enum": list(PRODUCT_LINE_STATES)}
PERCENT: dict[str, Any] = {
    "type": ["number", "string", "null"],
    "minimum": 0,
    "maximum": 100,
    "pattern": r"^(100(\.00?)?|[0-9]{1,2}(\.[0-9]{1,2})?)%?$",
    "description": "a percentage from 0 to 100 with at most two decimals (more are refused "
    "with 422); needed for `rollout`, kept as it is for other states when left out",
}
PERCENT_TEXT: dict[str, Any] = {"type": "string", "pattern": r"^[0-9]{1,3}\.[0-9]{2}$"}
ACCOUNTS: dict[str, Any] = {"type": "array", "maxItems": 1000, "items": IDENTIFIER}
REVISION: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[^\x00]{0,128}$",
    "description": "the preview's `revision`: refused with 409 if the line changed since",
}
OVERRIDE_SYSTEM: dict[str, Any] = {"type": "string", "enum": list(OVERRIDE_SYSTEMS)}
# ISO 8601 as Python reads it; without a zone the time is read as UTC.
MOMENT: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?$",
    "description": "an ISO 8601 date and time, e.g. 2027-01-15T06:00:00Z (UTC when no zone)",
}
DATE_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
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


def strict(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these properties (unknown fields are refused)."""
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def answer(*required: str, **properties: dict[str, Any]) -> dict[str, Any]:
    """An object the server sends: these properties, all present."""
    return {"type": "object", "required": list(required or properties), "properties": properties}


REQUEST_SCHEMAS: dict[str, dict[str, Any]] = {
    "Setting": strict(["state"], state=STATE, percent=PERCENT),
    "Change": strict(
        ["state", "reason"],
        state=STATE,
        percent=PERCENT,
        reason=REASON,
        expected_state=STATE,
        expected_percent=PERCENT,
        expected_revision=REVISION,
        confirm_back_to_legacy=CONFIRM_BACK,
    ),
    "Reason": strict(["reason"], reason=REASON),
    "PilotEdit": strict([], add=ACCOUNTS, remove=ACCOUNTS),
    "Pilots": strict(
        ["reason"],
        add=ACCOUNTS,
        remove=ACCOUNTS,
        reason=REASON,
        expected_revision=REVISION,
        confirm_back_to_legacy=CONFIRM_BACK,
    ),
    "OverrideSetting": strict(["system"], system=OVERRIDE_SYSTEM, reason=TEXT, expires_at=MOMENT),
    "Override": strict(
        ["system", "reason"],
        system=OVERRIDE_SYSTEM,
        reason=REASON,
        expires_at=MOMENT,
        expected_revision=REVISION,
        confirm_back_to_legacy=CONFIRM_BACK,
    ),
    "Schedule": strict(
        ["product_line", "state", "run_at", "reason"],
        product_line=CODE,
        state=STATE,
        percent=PERCENT,
        run_at=MOMENT,
        reason=REASON,
        confirm_back_to_legacy=CONFIRM_BACK,
    ),
    "Maintenance": strict(
        ["down", "reason"],
        down={"type": "boolean"},
        reason=REASON,
        customer_message=CUSTOMER_MESSAGE,
        expected_maintenance={
            "type": "boolean",
            "description": "the preview's `maintenance_before`: refused with 409 if it changed",
        },
    ),
    "MaintenanceSwitch": strict(["down"], down={"type": "boolean"}),
}

_LINE = answer(
    code={"type": "string"},
    name={"type": "string"},
    state=STATE,
    percent=PERCENT_TEXT,
    pilot_accounts=STRINGS,
    overrides={
        "type": "object",
        "additionalProperties": answer(
            system=OVERRIDE_SYSTEM,
            reason={"type": "string"},
            expires_at={"type": ["string", "null"], "format": "date-time"},
        ),
    },
    revision={"type": "string"},
)
_EVENT = answer(
    id={"type": "integer"},
    at=DATE_TIME,
    actor={"type": "string"},
    action={"type": "string"},
    target={"type": "string"},
    before={"type": ["object", "null"]},
    after={"type": ["object", "null"]},
    reason=NULLABLE_TEXT,
)
_SCHEDULED = answer(
    id={"type": "integer"},
    product_line={"type": "string"},
    state=STATE,
    percent=PERCENT_TEXT,
    run_at=DATE_TIME,
    reason={"type": "string"},
    status={"type": "string", "enum": list(SCHEDULE_STATUSES)},
    created_by={"type": "string"},
)
_MOVEMENT = answer(
    source={"type": "string"},
    target={"type": "string"},
    accounts=COUNT,
    users=COUNT,
    entitlements=COUNT,
    account_numbers=STRINGS,
)
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
_ENTITLEMENT = answer(
    id={"type": "string"},
    product_line={"type": "string"},
    product={"type": "string"},
    unit_of_measure={"type": "string"},
    quantity={"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"},
    kind={"type": "string", "enum": list(ENTITLEMENT_KINDS)},
    status={"type": "string"},
    start_date={"type": ["string", "null"], "format": "date"},
    end_date={"type": ["string", "null"], "format": "date"},
    systems=STRINGS,
)
_ACCOUNT = answer(number={"type": "string"}, name={"type": "string"})
_GROUP = answer(accounts=COUNT, users=COUNT, account_numbers=STRINGS)
_BACK_TO_LEGACY = {
    "oneOf": [
        {"type": "null"},
        answer(
            accounts=COUNT,
            users=COUNT,
            entitlements=COUNT,
            account_numbers=STRINGS,
            warning={"type": "string"},
        ),
    ],
    "description": "accounts this change sends from new back to legacy (null: none)",
}

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "ProductLine": _LINE,
    "ProductLines": answer(product_lines={"type": "array", "items": _LINE}),
    "Preview": answer(
        product_line={"type": "string"},
        revision={"type": "string"},
        changes=STRINGS,
        before=_LINE,
        after=_LINE,
        summary={"type": "string"},
        movements={"type": "array", "items": _MOVEMENT},
        new_choice_count=COUNT,
        new_choice_accounts=STRINGS,
        waiting_for_data_count=COUNT,
        waiting_for_data=STRINGS,
        accounts=COUNT,
        elapsed_ms={"type": "number", "minimum": 0},
        back_to_legacy=_BACK_TO_LEGACY,
    ),
    "MaintenancePreview": answer(
        system={"type": "string"},
        maintenance_before={"type": "boolean"},
        maintenance_after={"type": "boolean"},
        summary={"type": "string"},
        rerouted=_GROUP,
        status_page=_GROUP,
        partly_unavailable=_GROUP,
        restored=_GROUP,
        accounts=COUNT,
        elapsed_ms={"type": "number", "minimum": 0},
    ),
    "Audited": answer(audit_event=_EVENT),
    "AuditEvents": answer(events={"type": "array", "items": _EVENT}),
    "ScheduledChange": _SCHEDULED,
    "ScheduledChanges": answer(
        pending={"type": "array", "items": _SCHEDULED},
        recent={"type": "array", "items": _SCHEDULED},
    ),
    "Dashboard": answer(
        granularity={"type": "string", "enum": ["hour", "day"]},
        periods={"type": "array", "items": DATE_TIME},
        logins=SERIES,
        choices=SERIES,
        errors=COUNT,
        product_lines={"type": "array", "items": _DASHBOARD_LINE},
    ),
    "RouteTrace": answer(people={"type": "array", "items": _PERSON}),
    "Me": answer(
        subject=NULLABLE_TEXT,
        email={"type": "string"},
        first_name={"type": "string"},
        last_name={"type": "string"},
        account=_ACCOUNT,
        permissions=STRINGS,
    ),
    "AccountEntitlements": answer(
        account=_ACCOUNT, entitlements={"type": "array", "items": _ENTITLEMENT}
    ),
    "OpenApiDocument": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "properties": {"openapi": {"type": "string", "pattern": r"^3\.1\."}},
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "request_id": NULLABLE_TEXT,
            "error": {"type": "string", "description": "the OAuth error code (machine API)"},
        },
    },
}

# The session cookie's name (gateway/app.py sets it; kept here so this stays plain data).
SESSION_COOKIE = "switchyard_session"
SECURITY_SCHEMES: dict[str, Any] = {
    "itToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An IT API token (`gateway api-token create --name NAME --scope ...`), with "
        "scopes rollout:read, rollout:write, support:read.",
    },
    "machineToken": {
        "type": "oauth2",
        "description": "An access token the portal's server gets with client_credentials.",
        "flows": {
            "clientCredentials": {
                "tokenUrl": "/oidc/token",
                "scopes": {"entitlements:read": "read accounts' entitlements"},
            }
        },
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "A signed-in browser session; for IT routes, an IT staff member's, "
        "and for GETs only.",
    },
}
