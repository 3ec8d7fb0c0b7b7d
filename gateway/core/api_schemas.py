"""JSON Schemas every /api/v1 description shares (OpenAPI 3.1 = JSON Schema 2020-12): the
building blocks (identifiers, reasons, moments), the problem document, the audit event
answer, and IT's security schemes. Capabilities add their own schemas next to their API.

No text field may hold NUL: PostgreSQL cannot store it, so the schema and the server
both refuse it.
"""

from __future__ import annotations

from typing import Any

from gateway.core.models import AuditEvent
from gateway.core.models.directory import PRODUCT_LINE_STATES

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

NULLABLE_TEXT: dict[str, Any] = {"type": ["string", "null"]}

REASON: dict[str, Any] = {
    "type": "string",
    "maxLength": 2000,
    "pattern": r"^[^\x00]*[^\s\x00][^\x00]*$",
    "description": "recorded in the audit log; a missing or blank reason is refused with 400",
}

STATE: dict[str, Any] = {"type": "string", "enum": list(PRODUCT_LINE_STATES)}

REVISION: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[^\x00]{0,128}$",
    "description": "the preview's `revision`: refused with 409 if the line changed since",
}
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


EVENT = answer(
    id={"type": "integer"},
    at=DATE_TIME,
    actor={"type": "string"},
    action={"type": "string"},
    target={"type": "string"},
    before={"type": ["object", "null"]},
    after={"type": ["object", "null"]},
    reason=NULLABLE_TEXT,
)
ACCOUNT = answer(number={"type": "string"}, name={"type": "string"})

CORE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Audited": answer(audit_event=EVENT),
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
    "accountToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token limited to one customer account, made by its org admin (or "
        "`gateway account-token create ACCOUNT --scope users|scim`); it expires.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "A signed-in browser session; for IT routes, an IT staff member's, "
        "and for GETs only.",
    },
}


def event_json(event: AuditEvent) -> dict[str, Any]:
    """An audit event as the `Audited` and `AuditEvents` answers carry it."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
    }
