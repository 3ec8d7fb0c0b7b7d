"""The OpenAPI 3.1 description of every /api/v1 route, built from one table of operations.

Covers IT's API (this package), the machine API the portal's server reads
(gateway/provider/api.py) and /api/v1/me (gateway/directory/views.py). tests/api/
checks that the table and app.url_map agree both ways, validates the document with
openapi-spec-validator, and runs schemathesis against the live app with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.rollout.openapi_schemas import (
    CODE,
    CONFIRM_BACK,
    IDENTIFIER,
    REASON,
    REQUEST_SCHEMAS,
    RESPONSE_SCHEMAS,
    REVISION,
    SECURITY_SCHEMES,
)

MAX_AUDIT_EVENTS = 1000
DEFAULT_AUDIT_EVENTS = 100
DASHBOARD_GRANULARITIES = ("hour", "day")
MAX_QUERY = 320

# Who may call: IT reads take a token or an IT staff session; writes (and previews,
# which are POSTs) take a token only, since a cookie is an ambient credential.
IT_READ, IT_TOKEN, MACHINE, SIGNED_IN, PUBLIC = "it-read", "it-token", "machine", "me", "public"

PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "code": {**CODE, "description": "product-line code, e.g. NET"},
    "account": {**IDENTIFIER, "description": "account number"},
    "account_number": {**IDENTIFIER, "description": "account number"},
    "key": {**IDENTIFIER, "description": "system key (legacy or new)"},
    "id": {"type": "integer", "minimum": 0, "maximum": 2_147_483_647},
}


@dataclass(frozen=True)
class Operation:
    """One method on one path, with what it takes and every status it can answer."""

    method: str
    path: str
    summary: str
    access: str
    scope: str | None = None
    body: str | None = None
    answer: str | None = None
    success: str = "200"
    query: tuple[dict[str, Any], ...] = ()
    refusals: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _query(name: str, schema: dict[str, Any], text: str, *, required: bool = False) -> Any:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": text,
    }


_REASON_QUERY = _query("reason", REASON, "recorded in the audit log", required=True)
_REVISION_QUERY = _query("expected_revision", REVISION, "the removal preview's `revision`")
_CONFIRM_QUERY = _query(
    "confirm_back_to_legacy",
    {"type": "string", "enum": ["true", "false"]},
    CONFIRM_BACK["description"],
)
_LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_AUDIT_EVENTS}
_TRACE_QUERY = {
    "type": "string",
    "maxLength": MAX_QUERY,
    "pattern": REASON["pattern"],
    "description": "an email address or an account number",
}
_LINE = "/api/v1/product-lines/{code}"
_OVERRIDE = _LINE + "/overrides/{account}"

API_OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/api/v1/openapi.json", "This document", PUBLIC, answer="OpenApiDocument"),
    Operation(
        "get",
        "/api/v1/product-lines",
        "Every line's routing settings",
        IT_READ,
        "rollout:read",
        answer="ProductLines",
    ),
    Operation("get", _LINE, "One line's settings", IT_READ, "rollout:read", answer="ProductLine"),
    Operation(
        "post",
        _LINE + "/preview",
        "What a state change would move (nothing changes); its `revision` goes back as "
        "`expected_revision`",
        IT_TOKEN,
        "rollout:read",
        body="Setting",
        answer="Preview",
    ),
    Operation(
        "post",
        _LINE + "/state",
        "Change a line's state (and percent); audited",
        IT_TOKEN,
        "rollout:write",
        body="Change",
        answer="Audited",
        refusals=("409",),
    ),
    Operation(
        "post",
        _LINE + "/rollback",
        "Back to legacy in one action; audited",
        IT_TOKEN,
        "rollout:write",
        body="Reason",
        answer="Audited",
    ),
    Operation(
        "post",
        _LINE + "/pilot-accounts/preview",
        "What adding or removing pilot accounts would move (nothing changes)",
        IT_TOKEN,
        "rollout:read",
        body="PilotEdit",
        answer="Preview",
    ),
    Operation(
        "post",
        _LINE + "/pilot-accounts",
        "Add or remove pilot accounts; audited",
        IT_TOKEN,
        "rollout:write",
        body="Pilots",
        answer="Audited",
        refusals=("409",),
    ),
    Operation(
        "post",
        _OVERRIDE + "/preview",
        "Where an override would send the account, or that it waits for data (nothing changes)",
        IT_TOKEN,
        "rollout:read",
        body="OverrideSetting",
        answer="Preview",
    ),
    Operation(
        "post",
        _OVERRIDE + "/removal-preview",
        "Where the account goes once its override is removed (nothing changes)",
        IT_TOKEN,
        "rollout:read",
        answer="Preview",
    ),
    Operation(
        "put",
        _OVERRIDE,
        "Force one account's line to a system, optionally until a time",
        IT_TOKEN,
        "rollout:write",
        body="Override",
        answer="Audited",
        refusals=("409",),
    ),
    Operation(
        "delete",
        _OVERRIDE,
        "Remove an override; audited",
        IT_TOKEN,
        "rollout:write",
        answer="Audited",
        query=(_REASON_QUERY, _REVISION_QUERY, _CONFIRM_QUERY),
        refusals=("409",),
    ),
    Operation(
        "get",
        "/api/v1/scheduled-changes",
        "Pending and recent scheduled changes",
        IT_READ,
        "rollout:read",
        answer="ScheduledChanges",
    ),
    Operation(
        "post",
        "/api/v1/scheduled-changes",
        "Schedule a change (the time must be ahead)",
        IT_TOKEN,
        "rollout:write",
        body="Schedule",
        answer="ScheduledChange",
        success="201",
        refusals=("404",),
    ),
    Operation(
        "post",
        "/api/v1/scheduled-changes/{id}/cancel",
        "Cancel a pending change",
        IT_TOKEN,
        "rollout:write",
        body="Reason",
        answer="ScheduledChange",
        refusals=("409",),
    ),
    Operation(
        "post",
        "/api/v1/systems/{key}/maintenance/preview",
        "Who a maintenance switch would send elsewhere or to the status page (nothing changes)",
        IT_TOKEN,
        "rollout:read",
        body="MaintenanceSwitch",
        answer="MaintenancePreview",
    ),
    Operation(
        "post",
        "/api/v1/systems/{key}/maintenance",
        "Switch a system's maintenance mode, with IT's reason and a message for customers",
        IT_TOKEN,
        "rollout:write",
        body="Maintenance",
        answer="Audited",
        refusals=("409",),
    ),
    Operation(
        "get",
        "/api/v1/dashboard",
        "Per line accounts/entitlements per system, logins and picks per hour or day",
        IT_READ,
        "rollout:read",
        answer="Dashboard",
        query=(
            _query(
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
        query=(_query("q", _TRACE_QUERY, "an email address or an account number", required=True),),
        refusals=("404", "422"),
    ),
    Operation(
        "get",
        "/api/v1/audit-events",
        "The latest audit events, newest first",
        IT_READ,
        "rollout:read",
        answer="AuditEvents",
        query=(_query("limit", {**_LIMIT, "default": DEFAULT_AUDIT_EVENTS}, "how many events"),),
        refusals=("422",),
    ),
    Operation(
        "get",
        "/api/v1/accounts/{account_number}/entitlements",
        "An account's entitlements with units of measure and expiry dates (the portal's server)",
        MACHINE,
        "entitlements:read",
        answer="AccountEntitlements",
    ),
    Operation("get", "/api/v1/me", "The signed-in user", SIGNED_IN, answer="Me"),
)

# IT's API alone (this package's blueprint), as (method, path, scope, summary, body
# schema) rows: the form the access tests walk to try every IT endpoint.
OPERATIONS: tuple[tuple[str, str, str | None, str, dict[str, Any] | None], ...] = tuple(
    (
        op.method,
        op.path,
        op.scope,
        op.summary,
        {"$ref": f"#/components/schemas/{op.body}"} if op.body else None,
    )
    for op in API_OPERATIONS
    if op.access in (IT_READ, IT_TOKEN, PUBLIC)
)

_TEXTS = {
    "400": "malformed JSON, NUL in the URL, or a missing or blank reason",
    "401": "no valid credentials",
    "403": "the credentials lack the scope (or the person is not IT staff)",
    "404": "no such product line, account, system or scheduled change",
    "409": "the line or system changed since the preview, the change is no longer pending, "
    "or it sends accounts back to legacy without `confirm_back_to_legacy`",
    "415": "the body is not application/json",
    "422": "the request does not fit this description (a malformed product-line code, say), "
    "or the change is not possible",
    "503": "the database or the shared store is not answering",
}


def _security(operation: Operation) -> list[dict[str, list[str]]]:
    scope = [operation.scope] if operation.scope else []
    requirements: dict[str, list[dict[str, list[str]]]] = {
        IT_READ: [{"itToken": scope}, {"session": []}],
        IT_TOKEN: [{"itToken": scope}],
        MACHINE: [{"machineToken": scope}],
        SIGNED_IN: [{"session": []}],
        PUBLIC: [],
    }
    return requirements[operation.access]


def _refusal_codes(operation: Operation) -> list[str]:
    codes = {"400", *operation.refusals}
    if operation.access != PUBLIC:
        codes |= {"401", "503"} | ({"403"} if operation.access != SIGNED_IN else set())
    if "{" in operation.path:
        codes.add("404")
    if "{code}" in operation.path:
        codes.add("422")  # a malformed product-line code
    if operation.body or operation.query:
        codes |= {"415", "422"} if operation.body else {"422"}
    return sorted(codes)


def _responses(operation: Operation) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses: dict[str, Any] = {
        operation.success: {"description": "Created" if operation.success == "201" else "OK"}
    }
    if operation.answer:
        schema = {"$ref": f"#/components/schemas/{operation.answer}"}
        responses[operation.success]["content"] = {"application/json": {"schema": schema}}
    for code in _refusal_codes(operation):
        responses[code] = {"description": _TEXTS[code], "content": problem}
    if operation.access == MACHINE:
        responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return responses


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in operation.path.split("/") if part.startswith("{")]
    path = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
        for name in names
    ]
    return path + list(operation.query)


def _operation(operation: Operation) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": f"{operation.method}_{operation.path[len('/api/v1/') :]}".replace("/", "_")
        .replace("{", "")
        .replace("}", "")
        .replace(".", "_")
        .replace("-", "_"),
        "summary": operation.summary,
        "security": _security(operation),
        "responses": _responses(operation),
    }
    if operation.scope:
        described["description"] = f"Needs the `{operation.scope}` scope."
    if parameters := _parameters(operation):
        described["parameters"] = parameters
    if operation.body:
        schema = {"$ref": f"#/components/schemas/{operation.body}"}
        described["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return described


def openapi_document() -> dict[str, Any]:
    """The whole document, as served at /api/v1/openapi.json."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in API_OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Switchyard API",
            "version": "1",
            "description": "IT's product-line control, the portal's entitlement reads, and "
            "the signed-in user. Errors are RFC 9457 problem documents.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {**REQUEST_SCHEMAS, **RESPONSE_SCHEMAS},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
