"""/api/v1/openapi.json is a valid OpenAPI 3.1 document that describes every /api/v1
route of the app, and nothing else, with each path parameter declared."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from openapi_spec_validator import validate

from tests.conftest import https_client

IGNORED_METHODS = {"HEAD", "OPTIONS"}
# Flask rule converters name their parameter after the colon: <int:change_id>.
RULE_PARAMETER = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>")
# The document names Flask's `change_id` just `id`.
DOCUMENTED_AS = {"change_id": "id"}


def served_document(app: Flask) -> dict[str, Any]:
    reply = https_client(app).get("/api/v1/openapi.json")
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    document: dict[str, Any] = reply.get_json()
    return document


def as_openapi_path(rule: str) -> str:
    return RULE_PARAMETER.sub(lambda m: "{" + DOCUMENTED_AS.get(m[1], m[1]) + "}", rule)


def test_the_document_is_valid_openapi(app: Flask) -> None:
    document = served_document(app)
    assert document["openapi"].startswith("3.1.")
    validate(document)  # raises OpenAPIValidationError with the first problem found


def test_every_api_route_is_described_and_every_description_is_a_route(app: Flask) -> None:
    routes = {
        (method.lower(), as_openapi_path(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in (rule.methods or set()) - IGNORED_METHODS
    }
    paths = served_document(app)["paths"]
    described = {(method, path) for path, item in paths.items() for method in item}
    assert routes == described
    assert len(described) >= 21  # IT's API, the machine API and /api/v1/me


def test_every_path_parameter_is_declared_with_a_schema(app: Flask) -> None:
    for path, item in served_document(app)["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", path))
        for method, operation in item.items():
            declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
            assert set(declared) == names, (method, path)
            for parameter in declared.values():
                assert parameter["required"] is True and parameter["schema"], (method, path)


def test_every_operation_declares_security_and_problem_answers(app: Flask) -> None:
    document = served_document(app)
    schemes = set(document["components"]["securitySchemes"])
    assert schemes == {"accountToken", "itToken", "machineToken", "session"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            used = {name for option in operation["security"] for name in option}
            assert used <= schemes, (method, path)
            errors = {code: r for code, r in operation["responses"].items() if code >= "400"}
            assert "400" in errors, (method, path)
            for answer in errors.values():
                assert set(answer["content"]) == {"application/problem+json"}
            if path != "/api/v1/openapi.json":
                assert {"401", "503"} <= set(errors) and used, (method, path)
            if "requestBody" in operation:
                assert {"415", "422"} <= set(errors), (method, path)


def test_request_bodies_refuse_unknown_fields(app: Flask) -> None:
    schemas = served_document(app)["components"]["schemas"]
    for operation in (
        op for item in served_document(app)["paths"].values() for op in item.values()
    ):
        if "requestBody" in operation:
            name = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert schemas[name.rsplit("/", 1)[1]]["additionalProperties"] is False


def test_query_parameters_carry_their_bounds(app: Flask) -> None:
    paths = served_document(app)["paths"]
    (limit,) = paths["/api/v1/audit-events"]["get"]["parameters"]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)
    (by,) = paths["/api/v1/dashboard"]["get"]["parameters"]
    assert by["schema"]["enum"] == ["hour", "day"]
    (q,) = paths["/api/v1/route-trace"]["get"]["parameters"]
    assert q["required"] is True and q["schema"]["maxLength"] == 320
    delete = paths["/api/v1/product-lines/{code}/overrides/{account}"]["delete"]
    assert {p["name"]: p["required"] for p in delete["parameters"] if p["in"] == "query"} == {
        "reason": True,
        "expected_revision": False,
        "confirm_back_to_legacy": False,
    }


def test_the_session_scheme_names_the_cookie_the_app_sets(app: Flask) -> None:
    scheme = served_document(app)["components"]["securitySchemes"]["session"]
    assert (scheme["in"], scheme["name"]) == ("cookie", app.config["SESSION_COOKIE_NAME"])
