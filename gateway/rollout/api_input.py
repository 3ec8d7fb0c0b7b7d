"""Reading IT API requests against the OpenAPI document's own schemas.

JSON bodies and query parameters are checked with the schemas /api/v1/openapi.json
publishes, so a request the document calls valid is read and one it calls invalid is
refused: 415 for a body that is not JSON, 400 for malformed JSON or a missing or
blank reason (as the console and the CLI answer), 422 for anything else that does
not fit (wrong types, unknown fields, values out of bounds).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from flask import request
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match
from werkzeug.exceptions import BadRequest

from gateway.core.audit import ReasonRequired
from gateway.core.errors import GatewayError, MalformedRequest, UnsupportedMediaType
from gateway.rollout.errors import InvalidChange
from gateway.rollout.openapi import API_OPERATIONS
from gateway.rollout.openapi_schemas import REQUEST_SCHEMAS

MAX_DETAIL = 300
INTEGER = re.compile(r"-?[0-9]{1,12}")


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(REQUEST_SCHEMAS[schema_name])


@cache
def _query_schemas(method: str, path: str) -> dict[str, dict[str, Any]]:
    """The documented operation's query parameters: name to schema."""
    (operation,) = (op for op in API_OPERATIONS if (op.method, op.path) == (method, path))
    return {parameter["name"]: parameter["schema"] for parameter in operation.query}


@cache
def _query_validator(method: str, path: str) -> Draft202012Validator:
    """The operation's query parameters as one object schema."""
    (operation,) = (op for op in API_OPERATIONS if (op.method, op.path) == (method, path))
    required = [parameter["name"] for parameter in operation.query if parameter["required"]]
    schema = {"type": "object", "properties": _query_schemas(method, path), "required": required}
    return Draft202012Validator(schema)


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
        raise ReasonRequired("Every change needs a reason; it goes into the audit log.")
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
        return InvalidChange(f"{where}: {error.instance!r} is not {described}"[:MAX_DETAIL])
    return InvalidChange(f"{where}: {error.message}"[:MAX_DETAIL])
