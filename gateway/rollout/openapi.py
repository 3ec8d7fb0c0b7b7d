"""The OpenAPI 3.1 description of IT's API, built from one table of operations.

tests/rollout/test_api.py checks that this table and the blueprint's routes agree,
so the document cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

# (method, path, scope or None, summary, request body schema or None)
OPERATIONS: tuple[tuple[str, str, str | None, str, dict[str, Any] | None], ...] = (
    ("get", "/api/v1/openapi.json", None, "This document", None),
    ("get", "/api/v1/product-lines", "rollout:read", "Every line's routing settings", None),
    ("get", "/api/v1/product-lines/{code}", "rollout:read", "One line's settings", None),
    (
        "post",
        "/api/v1/product-lines/{code}/preview",
        "rollout:read",
        "What a state change would move (nothing changes); its `revision` goes back as "
        "`expected_revision`",
        {"$ref": "#/components/schemas/Setting"},
    ),
    (
        "post",
        "/api/v1/product-lines/{code}/state",
        "rollout:write",
        "Change a line's state (and percent); audited",
        {"$ref": "#/components/schemas/Change"},
    ),
    (
        "post",
        "/api/v1/product-lines/{code}/rollback",
        "rollout:write",
        "Back to legacy in one action; audited",
        {"$ref": "#/components/schemas/Reason"},
    ),
    (
        "post",
        "/api/v1/product-lines/{code}/pilot-accounts/preview",
        "rollout:read",
        "What adding or removing pilot accounts would move (nothing changes)",
        {"$ref": "#/components/schemas/PilotEdit"},
    ),
    (
        "post",
        "/api/v1/product-lines/{code}/pilot-accounts",
        "rollout:write",
        "Add or remove pilot accounts; audited",
        {"$ref": "#/components/schemas/Pilots"},
    ),
    (
        "post",
        "/api/v1/product-lines/{code}/overrides/{account}/preview",
        "rollout:read",
        "Where an override would send the account, or that it waits for data (nothing changes)",
        {"$ref": "#/components/schemas/OverrideSetting"},
    ),
    (
        "post",
        "/api/v1/product-lines/{code}/overrides/{account}/removal-preview",
        "rollout:read",
        "Where the account goes once its override is removed (nothing changes)",
        None,
    ),
    (
        "put",
        "/api/v1/product-lines/{code}/overrides/{account}",
        "rollout:write",
        "Force one account's line to a system, optionally until a time",
        {"$ref": "#/components/schemas/Override"},
    ),
    (
        "delete",
        "/api/v1/product-lines/{code}/overrides/{account}",
        "rollout:write",
        "Remove an override (`reason` and optional `expected_revision` as query parameters)",
        None,
    ),
    (
        "get",
        "/api/v1/scheduled-changes",
        "rollout:read",
        "Pending and recent scheduled changes",
        None,
    ),
    (
        "post",
        "/api/v1/scheduled-changes",
        "rollout:write",
        "Schedule a change",
        {"$ref": "#/components/schemas/Schedule"},
    ),
    (
        "post",
        "/api/v1/scheduled-changes/{id}/cancel",
        "rollout:write",
        "Cancel a pending change",
        {"$ref": "#/components/schemas/Reason"},
    ),
    (
        "post",
        "/api/v1/systems/{key}/maintenance/preview",
        "rollout:read",
        "Who a maintenance switch would send elsewhere or to the status page (nothing changes)",
        {"$ref": "#/components/schemas/Maintenance"},
    ),
    (
        "post",
        "/api/v1/systems/{key}/maintenance",
        "rollout:write",
        "Switch a system's maintenance mode",
        {"$ref": "#/components/schemas/Maintenance"},
    ),
    (
        "get",
        "/api/v1/dashboard",
        "rollout:read",
        "Per line accounts/entitlements per system, logins and picks per hour or day (?by=day)",
        None,
    ),
    (
        "get",
        "/api/v1/route-trace",
        "support:read",
        "Where a person (?q=email) or an account's people (?q=number) go now, and why",
        None,
    ),
    ("get", "/api/v1/audit-events", "rollout:read", "The latest audit events (?limit=)", None),
)

_STRING = {"type": "string"}
_REASON = {"type": "string", "minLength": 1, "description": "recorded in the audit log"}
_STATE = {"type": "string", "enum": ["legacy", "pilot", "rollout", "new"]}
_PERCENT = {"type": ["number", "string"], "description": "0-100, two decimals; for rollout"}
_ACCOUNTS = {"type": "array", "items": _STRING}
_REVISION = {
    "type": "string",
    "description": "the preview's `revision`: refused with 409 if the line changed since",
}
_OVERRIDE_SYSTEM = {"type": "string", "enum": ["legacy", "new"]}
_EXPIRES = {"type": "string", "format": "date-time"}
SCHEMAS: dict[str, Any] = {
    "Setting": {
        "type": "object",
        "required": ["state"],
        "properties": {"state": _STATE, "percent": _PERCENT},
    },
    "Change": {
        "type": "object",
        "required": ["state", "reason"],
        "properties": {
            "state": _STATE,
            "percent": _PERCENT,
            "reason": _REASON,
            "expected_state": _STATE,
            "expected_percent": _PERCENT,
            "expected_revision": _REVISION,
        },
    },
    "Reason": {"type": "object", "required": ["reason"], "properties": {"reason": _REASON}},
    "PilotEdit": {
        "type": "object",
        "properties": {"add": _ACCOUNTS, "remove": _ACCOUNTS},
    },
    "Pilots": {
        "type": "object",
        "required": ["reason"],
        "properties": {
            "add": _ACCOUNTS,
            "remove": _ACCOUNTS,
            "reason": _REASON,
            "expected_revision": _REVISION,
        },
    },
    "OverrideSetting": {
        "type": "object",
        "required": ["system"],
        "properties": {"system": _OVERRIDE_SYSTEM, "expires_at": _EXPIRES},
    },
    "Override": {
        "type": "object",
        "required": ["system", "reason"],
        "properties": {
            "system": _OVERRIDE_SYSTEM,
            "reason": _REASON,
            "expires_at": _EXPIRES,
            "expected_revision": _REVISION,
        },
    },
    "Schedule": {
        "type": "object",
        "required": ["product_line", "state", "run_at", "reason"],
        "properties": {
            "product_line": _STRING,
            "state": _STATE,
            "percent": _PERCENT,
            "run_at": {"type": "string", "format": "date-time"},
            "reason": _REASON,
        },
    },
    "Maintenance": {
        "type": "object",
        "required": ["down", "reason"],
        "properties": {"down": {"type": "boolean"}, "reason": _REASON},
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": _STRING,
            "title": _STRING,
            "status": {"type": "integer"},
            "detail": _STRING,
            "request_id": _STRING,
        },
    },
}


def _operation(scope: str | None, summary: str, body: dict[str, Any] | None) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": {"description": "OK"}},
    }
    if scope is not None:
        operation["security"] = [{"bearer": [scope]}]
        operation["description"] = f"Needs a token with scope `{scope}`."
        for status, text in (("401", "no valid token"), ("403", "token lacks the scope")):
            operation["responses"][status] = {"description": text, "content": problem}
        operation["responses"]["4XX"] = {"description": "refused", "content": problem}
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


def openapi_document() -> dict[str, Any]:
    """The whole document, as served at /api/v1/openapi.json."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, scope, summary, body in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(scope, summary, body)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchyard IT API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "gateway api-token create",
                }
            },
        },
    }
