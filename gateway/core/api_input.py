"""Reading IT API requests against the OpenAPI document's own schemas.

JSON bodies and query parameters are checked with the schemas /api/v1/openapi.json
publishes, so a request the document calls valid is read and one it calls invalid is
refused: 415 for a body that is not JSON, 400 for malformed JSON or a missing or
blank reason (as the console and the CLI answer), 422 for anything else that does
not fit (wrong types, unknown fields, values out of bounds).
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, request
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match
from werkzeug.exceptions import BadRequest

from gateway.core.audit import NO_REASON, ReasonRequired
from gateway.core.errors import GatewayError, MalformedRequest, UnsupportedMediaType
from gateway.core.openapi import find_operation, find_schema

MAX_DETAIL = 300
INTEGER = re.compile(r"-?[0-9]{1,12}")


class InvalidRequest(GatewayError):
    """A body or query the document calls invalid (the same answer the IT API always gave)."""

    status = 422
    title = "That change was not made"
    event = "rollout.invalid"


def _cached(key: tuple[str, ...], build: Any) -> Draft202012Validator:
    """One validator per schema and app, built on first use."""
    validators: dict[tuple[str, ...], Draft202012Validator] = current_app.extensions.setdefault(
        "openapi_validators", {}
    )
    if key not in validators:
        validators[key] = build()
    return validators[key]


def _validator(schema_name: str) -> Draft202012Validator:
    return _cached(("body", schema_name), lambda: Draft202012Validator(find_schema(schema_name)))


def _query_schemas(method: str, path: str) -> dict[str, dict[str, Any]]:
    """The documented operation's query parameters: name to schema."""
    operation = find_operation(method, path)
    return {parameter["name"]: parameter["schema"] for parameter in operation.query}


def _query_validator(method: str, path: str) -> Draft202012Validator:
    """The operation's query parameters as one object schema."""

    def build() -> Draft202012Validator:
        operation = find_operation(method, path)
        required = [parameter["name"] for parameter in operation.query if parameter["required"]]
        properties = _query_schemas(method, path)
        return Draft202012Validator(
            {"type": "object", "properties": properties, "required": required}
        )

    return _cached(("query", method, path), build)


def json_body(schema_name: str) -> dict[str, Any]:
    """The request's JSON object, valid against the document's `schema_name`."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as JSON (Content-Type: application/json).")
    try:
        body = request.get_json()
    except (BadRequest, RecursionError):
        raise MalformedRequest("The body is not valid JSON.") from None
    _check(_validator(schema_name), body)
    assert isinstance(body, dict)  # the schemas are all objects
    return body


def query_arguments(method: str, path: str) -> dict[str, Any]:
    """The operation's query parameters (documented `path`), valid against the document;
    integers are read as integers, and absent optional ones take their default."""
    properties = _query_schemas(method, path)
    values = {
        name: _typed(request.args[name], properties[name])
        for name in properties
        if name in request.args
    }
    _check(_query_validator(method, path), values)
    defaults = {name: schema.get("default") for name, schema in properties.items()}
    return {**defaults, **values}


def _typed(text: str, schema: dict[str, Any]) -> object:
    if schema.get("type") == "integer" and INTEGER.fullmatch(text):
        return int(text)
    return text


def _check(validator: Draft202012Validator, instance: object) -> None:
    errors = list(validator.iter_errors(instance))
    if not errors:
        return
    others = [error for error in errors if not _about_reason(error)]
    if not others:
        raise ReasonRequired(NO_REASON)
    raise _refusal(best_match(others))


def _about_reason(error: ValidationError) -> bool:
    missing = error.validator == "required" and "'reason'" in error.message
    blank = list(error.absolute_path) == ["reason"] and error.validator == "pattern"
    return missing or blank


def _refusal(error: ValidationError) -> GatewayError:
    where = "/".join(str(part) for part in error.absolute_path) or "request"
    described = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "pattern" and described:
        # A regular expression helps nobody: say what the value should look like.
        return InvalidRequest(f"{where}: {error.instance!r} is not {described}"[:MAX_DETAIL])
    return InvalidRequest(f"{where}: {error.message}"[:MAX_DETAIL])
