"""The OpenAPI 3.1 description of every /api/v1 route, assembled from what each
capability contributes, and served at /api/v1/openapi.json.

A capability describes its API blueprint once, next to its routes:

    describe(bp, ApiDescription(operations=(Operation("get", "/api/v1/x", ...),), schemas=...))

and registering the blueprint adds the description to the app's document. The request
schemas are not only documentation: gateway.core.api_input reads every JSON body and
query against them, so what the document promises and what the server accepts cannot
drift apart. tests/api/ checks the document and app.url_map agree both ways, validates
it with openapi-spec-validator and runs schemathesis against the live app with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.sansio.app import App as SansioApp
from flask.typing import ResponseReturnValue

from gateway.core.api_schemas import CORE_SCHEMAS, SECURITY_SCHEMES

# Who may call: IT reads take a token or an IT staff session; writes (and previews,
# which are POSTs) take a token only, since a cookie is an ambient credential.
IT_READ, IT_TOKEN, MACHINE, SIGNED_IN, PUBLIC = "it-read", "it-token", "machine", "me", "public"
# Routes about one customer account: an account token with the operation's scope for
# that account; reads also take IT's `support:read` (the vendor's support looking in).
ACCOUNT_READ, ACCOUNT_TOKEN = "account-read", "account-token"
SUPPORT_READ = "support:read"
DOCUMENT_PATH = "/api/v1/openapi.json"


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


@dataclass(frozen=True)
class ApiDescription:
    """What one capability adds to the document: its operations, the schemas they name
    (components), its path parameters and any security scheme of its own."""

    operations: tuple[Operation, ...]
    schemas: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    path_parameters: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    security_schemes: Mapping[str, dict[str, Any]] = field(default_factory=dict)


def query(name: str, schema: dict[str, Any], text: str, *, required: bool = False) -> Any:
    """A documented query parameter (the API reads it through api_input.query_arguments)."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": text,
    }


# The document itself, and what every description shares (Problem, Audited, ...).
CORE_API = ApiDescription(
    operations=(
        Operation("get", DOCUMENT_PATH, "This document", PUBLIC, answer="OpenApiDocument"),
    ),
    schemas=CORE_SCHEMAS,
    security_schemes=SECURITY_SCHEMES,
)


_TEXTS = {
    "400": "malformed JSON, NUL in the URL, or a missing or blank reason",
    "401": "no valid credentials",
    "403": "the credentials lack the scope (or the person is not IT staff)",
    "404": "no such product line, account, user, system or scheduled change (or an account "
    "other than the token's)",
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
        ACCOUNT_READ: [{"accountToken": scope}, {"itToken": [SUPPORT_READ]}, {"session": []}],
        ACCOUNT_TOKEN: [{"accountToken": scope}],
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


def _parameters(
    operation: Operation, path_parameters: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in operation.path.split("/") if part.startswith("{")]
    path = [
        {"name": name, "in": "path", "required": True, "schema": path_parameters[name]}
        for name in names
    ]
    return path + list(operation.query)


def _operation(
    operation: Operation, path_parameters: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
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
    if operation.access == ACCOUNT_READ:
        described["description"] = (
            f"Needs an account token with the `{operation.scope}` scope for this account, "
            f"or an IT token with `{SUPPORT_READ}` (or IT staff's session)."
        )
    elif operation.access == ACCOUNT_TOKEN:
        described["description"] = (
            f"Needs an account token with the `{operation.scope}` scope for this account."
        )
    elif operation.scope:
        described["description"] = f"Needs the `{operation.scope}` scope."
    if parameters := _parameters(operation, path_parameters):
        described["parameters"] = parameters
    if operation.body:
        schema = {"$ref": f"#/components/schemas/{operation.body}"}
        described["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return described


def openapi_document(descriptions: Iterable[ApiDescription]) -> dict[str, Any]:
    """The whole document from these contributions (the core's own always first)."""
    contributions = [CORE_API, *(d for d in descriptions if d is not CORE_API)]
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, dict[str, Any]] = {}
    security: dict[str, dict[str, Any]] = {}
    for description in contributions:
        for operation in description.operations:
            paths.setdefault(operation.path, {})[operation.method] = _operation(
                operation, description.path_parameters
            )
        schemas.update(description.schemas)
        security.update(description.security_schemes)
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
        "components": {"schemas": schemas, "securitySchemes": security},
    }


def it_operation_rows(
    descriptions: Iterable[ApiDescription],
) -> tuple[tuple[str, str, str | None, str, dict[str, Any] | None], ...]:
    """IT's API (and the public document) as (method, path, scope, summary, body schema)
    rows: the form the access tests walk to try every IT endpoint."""
    return tuple(
        (
            op.method,
            op.path,
            op.scope,
            op.summary,
            {"$ref": f"#/components/schemas/{op.body}"} if op.body else None,
        )
        for description in [CORE_API, *descriptions]
        for op in description.operations
        if op.access in (IT_READ, IT_TOKEN, PUBLIC)
    )


def add_operations(app: Flask | SansioApp, description: ApiDescription) -> None:
    """Add a capability's operations (and schemas) to the app's document."""
    registered: list[ApiDescription] = app.extensions.setdefault("openapi", [CORE_API])
    if description not in registered:
        registered.append(description)


def describe(bp: Blueprint, description: ApiDescription) -> None:
    """Describe `bp`'s routes: registering the blueprint adds them to the app's document."""
    bp.record_once(lambda state: add_operations(state.app, description))


def registered(app: Flask | None = None) -> list[ApiDescription]:
    """The app's contributions, the core's first."""
    found: list[ApiDescription] = (app or current_app).extensions.get("openapi", [CORE_API])
    return found


def find_operation(method: str, path: str) -> Operation:
    """The current app's documented operation `method` `path` (it must be documented)."""
    (operation,) = (
        op
        for description in registered()
        for op in description.operations
        if (op.method, op.path) == (method, path)
    )
    return operation


def find_schema(name: str) -> dict[str, Any]:
    """The current app's component schema `name`."""
    for description in reversed(registered()):
        if name in description.schemas:
            return dict(description.schemas[name])
    raise KeyError(name)


bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def serve_document() -> ResponseReturnValue:
    """The API's OpenAPI 3.1 description (public: it holds no data)."""
    return jsonify(openapi_document(registered()))


def init_app(app: Flask) -> None:
    app.extensions.setdefault("openapi", [CORE_API])
    app.register_blueprint(bp)
