"""The JSON APIs under input schemathesis does not send (tests/api/test_contract.py
covers what the OpenAPI document describes): bodies that are not JSON or claim
another type, deep nesting, huge strings, NUL and any unicode, objects of the right
shape with values of every wrong type, unknown query parameters, and path values
that name nothing. Every documented operation, with real credentials for its scheme."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from gateway.api_document import openapi_document
from gateway.core.api_tokens import create_token
from gateway.core.models import User
from gateway.core.secret_keys import secret_keys
from tests.badinput.harness import answered_safely, fuzz
from tests.badinput.strategies import (
    content_types,
    deep_documents,
    json_objects_with,
    json_values,
    query_params,
    raw_bodies,
    value_text,
)
from tests.conftest import https_client
from tests.it_console import ACTOR, NOW
from tests.provider.test_machine_access import portal_token
from tests.world import World

OPERATIONS = sorted(
    (method.upper(), path, operation)
    for path, item in openapi_document()["paths"].items()
    for method, operation in item.items()
)
WRITES = [(method, path) for method, path, _ in OPERATIONS if method != "GET"]
READS = [
    (path, [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"])
    for method, path, operation in OPERATIONS
    if method == "GET"
]
# Members the write bodies name across the document, for objects of the right shape.
SCIM_JSON = "application/scim+json"
BODY_FIELDS = sorted(
    {
        name
        for schema in openapi_document()["components"]["schemas"].values()
        for name in schema.get("properties", {})
    }
)


class Callers:
    """Real credentials for each security scheme, made through the real code paths."""

    def __init__(self, app: Flask, dbs: Session, user_client: FlaskClient, users_token: str):
        hash_key = secret_keys(app).api_token
        scopes = ["rollout:read", "rollout:write", "support:read"]
        self.it = create_token(dbs, "badinput", scopes, actor=ACTOR, now=NOW, hash_key=hash_key)
        self.machine = portal_token(https_client(app), dbs)
        self.users_token = users_token
        self.user_client = user_client
        self.bearer_client = https_client(app)
        self.user_id = dbs.scalars(
            select(User.public_id).where(User.email == "pat@ready.example")
        ).one()

    def client_and_headers(self, path: str) -> tuple[FlaskClient, dict[str, str]]:
        if path.startswith("/api/v1/me"):
            return self.user_client, {}
        if "/users" in path or "/invitations" in path:
            token = self.users_token
        elif path.startswith("/api/v1/accounts/"):
            token = self.machine
        else:
            token = self.it.secret
        return self.bearer_client, {"Authorization": f"Bearer {token}"}

    def real_values(self) -> dict[str, str]:
        return {
            "code": "NET",
            "account": "100001",
            "account_number": "100001",
            "key": "legacy",
            "id": self.user_id,
        }


@pytest.fixture
def callers(
    app: Flask, dbs: Session, world: World, user_client: FlaskClient, users_token: str
) -> Callers:
    return Callers(app, dbs, user_client, users_token)


def filled(path: str, values: dict[str, str], junk: dict[str, str]) -> str:
    for name, value in {**values, **junk}.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


path_junk = st.dictionaries(
    st.sampled_from(["code", "account", "account_number", "key", "id"]), value_text, max_size=1
)


def send_to(callers: Callers, method: str, path: str, **kwargs: Any) -> Callable[[], Any]:
    client, headers = callers.client_and_headers(path)
    headers = {**headers, **kwargs.pop("headers", {})}
    return lambda: client.open(path, method=method, headers=headers, **kwargs)


def test_write_operations_refuse_bodies_that_are_not_what_they_read(
    app: Flask, callers: Callers
) -> None:
    @fuzz(examples=120)
    @given(
        operation=st.sampled_from(WRITES),
        body=raw_bodies,
        content_type=content_types,
        junk=st.one_of(st.just({}), path_junk),
    )
    def write(
        operation: tuple[str, str], body: bytes, content_type: str, junk: dict[str, str]
    ) -> None:
        method, template = operation
        path = filled(template, callers.real_values(), junk)
        answered_safely(
            app, send_to(callers, method, path, data=body, headers={"Content-Type": content_type})
        )

    write()


def test_write_operations_refuse_json_of_the_wrong_types(app: Flask, callers: Callers) -> None:
    fields = {name: json_values for name in BODY_FIELDS}

    @fuzz(examples=120)
    @given(operation=st.sampled_from(WRITES), document=json_objects_with(fields))
    def write(operation: tuple[str, str], document: Any) -> None:
        method, template = operation
        path = filled(template, callers.real_values(), {})
        body = json.dumps(document).encode()
        # A document that happens to be valid may be applied: that is not a refusal.
        answered_safely(
            app,
            send_to(callers, method, path, data=body, headers={"Content-Type": "application/json"}),
        )

    write()


def test_every_json_reader_refuses_a_document_nested_too_deeply(
    app: Flask, callers: Callers, scim_token: str
) -> None:
    scim_writes = [("POST", "/scim/v2/Users"), ("POST", "/scim/v2/Users/.search")]
    scim_writes += [(m, "/scim/v2/Users/{id}") for m in ("PUT", "PATCH")]
    scim_writes += [(m, "/scim/v2/Groups/admin") for m in ("PUT", "PATCH")]

    @fuzz(examples=40)
    @given(operation=st.sampled_from(WRITES + scim_writes), document=deep_documents)
    def deep(operation: tuple[str, str], document: str) -> None:
        method, template = operation
        path = filled(template, callers.real_values(), {})
        headers = {"Content-Type": "application/json"}
        if path.startswith("/scim/"):
            headers = {"Content-Type": SCIM_JSON, "Authorization": f"Bearer {scim_token}"}
        answered_safely(app, send_to(callers, method, path, data=document, headers=headers))

    deep()


def test_read_operations_take_any_query(app: Flask, callers: Callers) -> None:
    @fuzz(examples=120)
    @given(
        read=st.sampled_from(READS),
        data=st.data(),
        junk=st.one_of(st.just({}), path_junk),
    )
    def read(read: tuple[str, list[str]], data: st.DataObject, junk: dict[str, str]) -> None:
        template, names = read
        query = data.draw(query_params(names))
        path = filled(template, callers.real_values(), junk)
        answered_safely(app, send_to(callers, "GET", path, query_string=MultiDict(query)))

    read()
