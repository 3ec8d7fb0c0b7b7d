"""SCIM 2.0 under hostile input, with organisation 100001's real SCIM token: list and
search queries (filter, startIndex, count, sortBy, attributes), resource bodies of
every shape, PATCH operations with random ops, paths and values, and raw bodies that
are not JSON. Every refusal is SCIM's Error message and changes nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from gateway.core.models import User
from tests.badinput.harness import answered_safely, fuzz
from tests.badinput.strategies import (
    any_text,
    content_types,
    json_objects_with,
    json_values,
    query_params,
    raw_bodies,
    tricky_text,
    value_text,
)
from tests.world import World

SCIM_JSON = "application/scim+json"
# Creating or deleting a group is refused as not implemented (RFC 7644 §3.12).
NOT_IMPLEMENTED = frozenset({501})
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_PARAMS = [
    "filter",
    "startIndex",
    "count",
    "sortBy",
    "sortOrder",
    "attributes",
    "excludedAttributes",
]
ATTRIBUTES = [
    "userName",
    "name.givenName",
    "name.familyName",
    "emails",
    'emails[type eq "work"].value',
    "emails.value",
    "active",
    "externalId",
    "displayName",
    "members",
    "meta.lastModified",
    "roles",
    "id",
]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "and", "or", "not"]

numbers = st.one_of(
    st.integers(min_value=2**31 - 3, max_value=2**80).map(str),
    st.integers().map(str),
    st.integers(max_value=-(2**31) + 3).map(str),
    value_text,
)
filters = st.one_of(
    value_text,
    st.builds(
        lambda attribute, operator, value: f"{attribute} {operator} {value}",
        st.one_of(st.sampled_from(ATTRIBUTES), any_text),
        st.sampled_from(OPERATORS),
        st.one_of(
            any_text.map(json.dumps),
            tricky_text,
            st.integers().map(str),
            st.sampled_from(["true", "null", '"2026-01-01T00:00:00Z"']),
        ),
    ),
    st.lists(
        st.sampled_from(["(", ")", "[", "]", " and ", " or ", "not ", '"', 'userName eq "x"']),
        max_size=12,
    ).map("".join),
)


def list_queries() -> st.SearchStrategy[list[tuple[str, str]]]:
    attribute_lists = st.lists(st.sampled_from(ATTRIBUTES), max_size=3).map(",".join)
    known = st.fixed_dictionaries(
        {},
        optional={
            "filter": filters,
            "startIndex": numbers,
            "count": numbers,
            "sortBy": st.one_of(st.sampled_from(ATTRIBUTES), value_text),
            "sortOrder": st.one_of(st.sampled_from(["ascending", "descending"]), value_text),
            "attributes": st.one_of(attribute_lists, value_text),
            "excludedAttributes": st.one_of(attribute_lists, value_text),
        },
    )
    extra = st.one_of(st.just([]), query_params(LIST_PARAMS))
    return st.builds(lambda a, b: list(a.items()) + b, known, extra)


user_fields = {
    "schemas": st.one_of(st.just([USER_SCHEMA]), json_values),
    "userName": st.one_of(st.just("new.person@ready.example"), value_text, json_values),
    "name": json_objects_with({"givenName": json_values, "familyName": json_values}),
    "emails": st.lists(
        json_objects_with({"value": json_values, "primary": json_values, "type": json_values}),
        max_size=3,
    ),
    "active": json_values,
    "externalId": json_values,
    "displayName": json_values,
    "members": st.lists(json_objects_with({"value": json_values}), max_size=3),
    "roles": json_values,
    "id": json_values,
}
operations = st.lists(
    json_objects_with(
        {
            "op": st.one_of(
                st.sampled_from(["add", "replace", "remove", "Add", "move"]), json_values
            ),
            "path": st.one_of(st.sampled_from(ATTRIBUTES), filters, json_values),
            "value": st.one_of(json_objects_with(user_fields), json_values),
        }
    ),
    max_size=4,
)
patch_bodies = json_objects_with(
    {
        "schemas": st.one_of(st.just([PATCH_SCHEMA]), json_values),
        "Operations": st.one_of(operations, json_values),
    }
)


def scim(client: FlaskClient, token: str, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return lambda: client.open(f"/scim/v2{path}", method=method, headers=headers, **kwargs)


def pat_id(dbs: Session) -> str:
    return dbs.scalars(select(User.public_id).where(User.email == "pat@ready.example")).one()


def test_lists_and_searches_take_any_query(
    app: Flask, client: FlaskClient, scim_token: str, world: World
) -> None:
    @fuzz(examples=120)
    @given(path=st.sampled_from(["/Users", "/Groups", "/Users/.search"]), query=list_queries())
    def listing(path: str, query: list[tuple[str, str]]) -> None:
        if path.endswith(".search"):
            body = json.dumps(dict(query)).encode()
            send = scim(
                client, scim_token, "POST", path, data=body, headers={"Content-Type": SCIM_JSON}
            )
        else:
            send = scim(client, scim_token, "GET", path, query_string=MultiDict(query))
        answered_safely(app, send, deliberate=NOT_IMPLEMENTED)

    listing()


def test_paging_takes_any_numbers(
    app: Flask, client: FlaskClient, scim_token: str, world: World
) -> None:
    # Alone, so that no other parameter is refused first.
    @fuzz(examples=50)
    @given(
        path=st.sampled_from(["/Users", "/Groups"]),
        paging=st.fixed_dictionaries({}, optional={"startIndex": numbers, "count": numbers}),
    )
    def paging(path: str, paging: dict[str, str]) -> None:
        answered_safely(app, scim(client, scim_token, "GET", path, query_string=paging))

    paging()


def test_resource_bodies_of_any_shape_are_refused_cleanly(
    app: Flask, client: FlaskClient, dbs: Session, scim_token: str, world: World
) -> None:
    target = pat_id(dbs)

    @fuzz(examples=120)
    @given(
        call=st.sampled_from(
            [
                ("POST", "/Users"),
                ("PUT", f"/Users/{target}"),
                ("POST", "/Groups"),
                ("PUT", "/Groups/admin"),
                ("PUT", "/Groups/downloads"),
            ]
        ),
        body=json_objects_with(user_fields),
    )
    def write(call: tuple[str, str], body: Any) -> None:
        method, path = call
        data = json.dumps(body).encode()
        answered_safely(
            app,
            scim(client, scim_token, method, path, data=data, headers={"Content-Type": SCIM_JSON}),
            deliberate=NOT_IMPLEMENTED,
        )

    write()


def test_patches_of_any_shape_are_refused_cleanly(
    app: Flask, client: FlaskClient, dbs: Session, scim_token: str, world: World
) -> None:
    target = pat_id(dbs)

    @fuzz(examples=120)
    @given(
        path=st.sampled_from([f"/Users/{target}", "/Groups/admin", "/Groups/downloads"]),
        body=patch_bodies,
    )
    def patch(path: str, body: Any) -> None:
        data = json.dumps(body).encode()
        answered_safely(
            app,
            scim(client, scim_token, "PATCH", path, data=data, headers={"Content-Type": SCIM_JSON}),
            deliberate=NOT_IMPLEMENTED,
        )

    patch()


def test_raw_bodies_and_unknown_ids_are_refused_cleanly(
    app: Flask, client: FlaskClient, dbs: Session, scim_token: str, world: World
) -> None:
    target = pat_id(dbs)

    @fuzz(examples=100)
    @given(
        method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"]),
        resource=st.sampled_from(["Users", "Groups", "Schemas", "ResourceTypes"]),
        ident=st.one_of(st.none(), st.just(target), value_text),
        body=raw_bodies,
        content_type=content_types,
    )
    def raw(method: str, resource: str, ident: str | None, body: bytes, content_type: str) -> None:
        path = f"/{resource}" + (f"/{quote(ident, safe='')}" if ident is not None else "")
        answered_safely(
            app,
            scim(
                client, scim_token, method, path, data=body, headers={"Content-Type": content_type}
            ),
            deliberate=NOT_IMPLEMENTED,
        )

    raw()
