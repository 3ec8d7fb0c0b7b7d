"""/scim/v2 speaks RFC 7644: its own examples (§3.3 create, §3.4.1 get, §3.4.2 list
with a filter, §3.5.1 replace, §3.5.2 PATCH), adapted to our attributes (userName is
the email address), round-trip; discovery documents say what we keep."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent, User
from tests.organisation.conftest import (
    GROUP_SCHEMA,
    SCIM_JSON,
    USER_SCHEMA,
    ScimClient,
    scim_error,
    scim_patch,
)
from tests.world import World

BASE = "https://sso.test/scim/v2"

# RFC 7644 §3.3, with an email address as userName.
BJENSEN = {
    "schemas": [USER_SCHEMA],
    "userName": "BJensen@Example.com",
    "externalId": "bjensen",
    "name": {
        "formatted": "Ms. Barbara J Jensen III",
        "familyName": "Jensen",
        "givenName": "Barbara",
    },
}


def _create(scim: ScimClient, body: dict[str, Any] = BJENSEN) -> dict[str, Any]:
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    created: dict[str, Any] = response.json
    return created


def test_create_answers_201_with_the_resource_its_location_and_version(
    scim_ready: ScimClient, dbs: Session, world: World
) -> None:
    response = scim_ready.post("/Users", BJENSEN)

    assert response.status_code == 201
    assert response.mimetype == SCIM_JSON
    body = response.json
    assert body["schemas"] == [USER_SCHEMA]
    assert body["userName"] == "bjensen@example.com"  # lower-cased: it is the address
    assert body["emails"] == [{"value": "bjensen@example.com", "type": "work", "primary": True}]
    assert body["name"] == {"familyName": "Jensen", "givenName": "Barbara"}
    assert body["externalId"] == "bjensen"
    assert body["active"] is True
    meta = body["meta"]
    assert meta["resourceType"] == "User"
    assert meta["location"] == f"{BASE}/Users/{body['id']}"
    assert meta["created"] == meta["lastModified"]
    assert response.headers["Location"] == meta["location"]
    assert response.headers["ETag"] == meta["version"]
    assert meta["version"].startswith('W/"')
    user = dbs.scalar(select(User).where(User.public_id == body["id"]))
    assert user is not None
    assert (user.account_id, user.added_via, user.external_id) == (
        world.ready.id,
        "scim",
        "bjensen",
    )
    # As a first sign-in would (GATEWAY_JIT_PERMISSIONS); groups change it.
    assert user.permission_names == {"portal", "licensing", "downloads"}
    assert [g["value"] for g in body["groups"]] == ["downloads", "licensing", "portal"]


def test_get_returns_what_create_returned(scim_ready: ScimClient) -> None:
    created = _create(scim_ready)

    response = scim_ready.get(f"/Users/{created['id']}")

    assert response.status_code == 200
    assert response.mimetype == SCIM_JSON
    assert response.json == created


def test_list_with_a_filter_and_attributes(scim_ready: ScimClient) -> None:
    created = _create(scim_ready)

    response = scim_ready.get(
        "/Users",
        query_string={"filter": 'userName Eq "bjensen@EXAMPLE.com"', "attributes": "userName"},
    )

    assert response.status_code == 200
    body = response.json
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    # attributes=userName: id and userName (id is always returned), nothing else.
    assert body["Resources"] == [
        {"schemas": [USER_SCHEMA], "id": created["id"], "userName": "bjensen@example.com"}
    ]


def test_a_filter_matching_nobody_is_an_empty_list(scim_ready: ScimClient) -> None:
    response = scim_ready.get("/Users", query_string={"filter": 'userName eq "nobody@x.example"'})

    assert response.status_code == 200
    assert response.json["totalResults"] == 0
    assert response.json["Resources"] == []


def test_put_replaces_the_user(scim_ready: ScimClient, dbs: Session) -> None:
    created = _create(scim_ready)
    # RFC 7644 §3.5.1: the client sends the whole resource back, changed.
    replacement = {
        "schemas": [USER_SCHEMA],
        "id": created["id"],
        "userName": "bjensen@example.com",
        "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen-Smith"},
        "roles": [],
        "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}],
    }

    response = scim_ready.put(f"/Users/{created['id']}", replacement)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["name"] == {"familyName": "Jensen-Smith"}  # givenName left out: cleared
    assert body["userName"] == "bjensen@example.com"
    assert body["externalId"] == "bjensen"
    assert body["active"] is True  # left out: kept
    assert body["meta"]["lastModified"] >= created["meta"]["lastModified"]
    user = dbs.scalar(select(User).where(User.public_id == created["id"]))
    assert user is not None
    assert (user.first_name, user.last_name) == ("", "Jensen-Smith")


def test_put_may_change_the_address(scim_ready: ScimClient) -> None:
    created = _create(scim_ready)

    response = scim_ready.put(
        f"/Users/{created['id']}", {**BJENSEN, "userName": "barbara@example.com"}
    )

    assert response.status_code == 200
    assert response.json["userName"] == "barbara@example.com"
    assert response.json["emails"][0]["value"] == "barbara@example.com"


def test_patch_examples_of_rfc_7644(scim_ready: ScimClient, dbs: Session) -> None:
    created = _create(scim_ready)
    path = f"/Users/{created['id']}"

    # §3.5.2.1: add without a path; nickName and a home address are not kept.
    added = scim_ready.patch(
        path,
        scim_patch(
            {
                "op": "add",
                "value": {
                    "emails": [{"value": "babs@jensen.org", "type": "home"}],
                    "nickName": "Babs",
                },
            }
        ),
    )
    assert added.status_code == 200, added.get_data(as_text=True)
    assert added.json["userName"] == "bjensen@example.com"
    assert "nickName" not in added.json

    # §3.5.2.3: replace a sub-attribute by its path.
    replaced = scim_ready.patch(
        path, scim_patch({"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"})
    )
    assert replaced.json["name"]["familyName"] == "Jensen-Smith"

    # §3.5.2.2: remove an attribute.
    removed = scim_ready.patch(path, scim_patch({"op": "remove", "path": "externalId"}))
    assert "externalId" not in removed.json

    # §3.5.2.3: replace without a path, several attributes in one value.
    both = scim_ready.patch(
        path,
        scim_patch(
            {
                "op": "replace",
                "value": {"name": {"givenName": "Babs", "familyName": "Jensen"}, "active": False},
            }
        ),
    )
    assert both.json["name"] == {"givenName": "Babs", "familyName": "Jensen"}
    assert both.json["active"] is False

    user = dbs.scalar(select(User).where(User.public_id == created["id"]))
    assert user is not None
    assert (user.first_name, user.last_name, user.status, user.external_id) == (
        "Babs",
        "Jensen",
        "disabled",
        None,
    )


def test_a_patch_of_several_operations_is_one_audited_change(
    scim_ready: ScimClient, dbs: Session, world: World
) -> None:
    created = _create(scim_ready)

    response = scim_ready.patch(
        f"/Users/{created['id']}",
        scim_patch(
            {"op": "replace", "path": "name.givenName", "value": "Babs"},
            {"op": "replace", "path": "externalId", "value": "b-42"},
        ),
    )

    assert response.status_code == 200
    entries = dbs.scalars(
        select(AuditEvent).where(AuditEvent.target == f"user:{created['id']}")
    ).all()
    assert [entry.action for entry in entries] == ["user.added", "user.changed"]
    change = entries[1]
    assert (change.actor, change.via, change.account_id) == ("scim:entra", "scim", world.ready.id)
    assert change.before == {"first_name": "Barbara", "external_id": "bjensen"}
    assert change.after == {"first_name": "Babs", "external_id": "b-42"}


def test_a_patch_that_fails_half_way_changes_nothing(scim_ready: ScimClient, dbs: Session) -> None:
    created = _create(scim_ready)

    response = scim_ready.patch(
        f"/Users/{created['id']}",
        scim_patch(
            {"op": "replace", "path": "name.givenName", "value": "Babs"},
            {"op": "replace", "path": "bogus", "value": "x"},
        ),
    )

    scim_error(response, 400, "invalidPath")
    user = dbs.scalar(select(User).where(User.public_id == created["id"]))
    assert user is not None
    assert user.first_name == "Barbara"


def test_delete_deactivates_and_keeps_the_user(scim_ready: ScimClient, dbs: Session) -> None:
    created = _create(scim_ready)

    response = scim_ready.delete(f"/Users/{created['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    again = scim_ready.get(f"/Users/{created['id']}")
    assert again.status_code == 200
    assert again.json["active"] is False
    entry = dbs.scalars(select(AuditEvent).where(AuditEvent.action == "user.deactivated")).one()
    assert (entry.target, entry.via) == (f"user:{created['id']}", "scim")


def test_the_same_address_twice_is_a_uniqueness_conflict(
    scim_ready: ScimClient, dbs: Session
) -> None:
    _create(scim_ready)
    before = dbs.scalars(select(User.id)).all()

    again = scim_ready.post("/Users", {**BJENSEN, "externalId": "other"})
    same_external_id = scim_ready.post("/Users", {**BJENSEN, "userName": "new@example.com"})
    # Another account's user's address: the same answer, without saying whose it is.
    elsewhere = scim_ready.post("/Users", {**BJENSEN, "userName": "oli@other.example"})

    for response in (again, same_external_id, elsewhere):
        scim_error(response, 409, "uniqueness")
    assert dbs.scalars(select(User.id)).all() == before


def test_create_needs_an_email_address_as_user_name(scim_ready: ScimClient) -> None:
    scim_error(scim_ready.post("/Users", {**BJENSEN, "userName": "bjensen"}), 400, "invalidValue")
    scim_error(scim_ready.post("/Users", {"schemas": [USER_SCHEMA]}), 400, "invalidValue")


def test_bodies_must_be_json(scim_ready: ScimClient) -> None:
    form = scim_ready.call(
        "POST", "/Users", data="userName=x", headers={"Content-Type": "text/plain"}
    )
    scim_error(form, 415)
    broken = scim_ready.call(
        "POST", "/Users", data="{not json", headers={"Content-Type": SCIM_JSON}
    )
    scim_error(broken, 400, "invalidSyntax")
    plain_json = scim_ready.call(
        "POST", "/Users", json=BJENSEN, headers={"Content-Type": "application/json"}
    )
    assert plain_json.status_code == 201


def test_paging_is_one_based_and_capped(scim_ready: ScimClient, dbs: Session, world: World) -> None:
    # ready has four users; page through them two at a time, by userName.
    first = scim_ready.get(
        "/Users", query_string={"startIndex": "1", "count": "2", "sortBy": "userName"}
    ).json
    second = scim_ready.get(
        "/Users", query_string={"startIndex": "3", "count": "2", "sortBy": "userName"}
    ).json
    names = [user["userName"] for user in first["Resources"] + second["Resources"]]

    assert names == sorted(
        ["ada@ready.example", "pat@ready.example", "portal@ready.example", "sam@ready.example"]
    )
    assert (first["totalResults"], first["itemsPerPage"], second["startIndex"]) == (4, 2, 3)
    descending = scim_ready.get(
        "/Users", query_string={"sortBy": "userName", "sortOrder": "descending", "count": "1"}
    ).json
    assert descending["Resources"][0]["userName"] == "sam@ready.example"
    # startIndex below 1 reads as 1; count 0 only counts; count above 200 is 200.
    assert scim_ready.get("/Users", query_string={"startIndex": "0"}).json["startIndex"] == 1
    only_count = scim_ready.get("/Users", query_string={"count": "0"}).json
    assert (only_count["totalResults"], only_count["Resources"]) == (4, [])
    scim_error(scim_ready.get("/Users", query_string={"count": "many"}), 400, "invalidValue")
    scim_error(scim_ready.get("/Users", query_string={"sortBy": "password"}), 400, "invalidValue")


def test_search_by_post(scim_ready: ScimClient) -> None:
    response = scim_ready.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "pat@"',
            "attributes": ["userName"],
            "startIndex": 1,
            "count": 10,
        },
    )

    assert response.status_code == 200
    assert [user["userName"] for user in response.json["Resources"]] == ["pat@ready.example"]


def test_discovery_says_what_is_kept(scim_ready: ScimClient) -> None:
    config = scim_ready.get("/ServiceProviderConfig").json
    assert config["patch"] == {"supported": True}
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"

    types = scim_ready.get("/ResourceTypes").json
    assert {(t["name"], t["endpoint"], t["schema"]) for t in types["Resources"]} == {
        ("User", "/Users", USER_SCHEMA),
        ("Group", "/Groups", GROUP_SCHEMA),
    }
    assert scim_ready.get("/ResourceTypes/User").json["id"] == "User"

    schemas = {s["id"]: s for s in scim_ready.get("/Schemas").json["Resources"]}
    assert set(schemas) == {USER_SCHEMA, GROUP_SCHEMA}
    user_attributes = {a["name"]: a for a in schemas[USER_SCHEMA]["attributes"]}
    assert set(user_attributes) == {"userName", "name", "displayName", "active", "emails", "groups"}
    assert user_attributes["displayName"]["mutability"] == "readOnly"
    assert {a["name"] for a in user_attributes["name"]["subAttributes"]} == {
        "givenName",
        "familyName",
    }
    one = scim_ready.get(f"/Schemas/{USER_SCHEMA}")
    assert one.status_code == 200
    assert one.json["id"] == USER_SCHEMA


def test_unknown_endpoints_and_methods_are_scim_errors(scim_ready: ScimClient) -> None:
    scim_error(scim_ready.get("/Bulk"), 404)
    scim_error(scim_ready.get("/ResourceTypes/Device"), 404)
    not_allowed = scim_ready.post("/ServiceProviderConfig", {"schemas": []})
    scim_error(not_allowed, 405)
    assert not_allowed.headers["Allow"] == "GET"
    scim_error(scim_ready.get("/Users/does-not-exist"), 404)


def test_patches_we_refuse_change_nothing(scim_ready: ScimClient, dbs: Session) -> None:
    created = _create(scim_ready)
    path = f"/Users/{created['id']}"

    scim_error(scim_ready.patch(path, scim_patch({"op": "remove"})), 400, "noTarget")
    scim_error(
        scim_ready.patch(path, scim_patch({"op": "replace", "path": "id", "value": "x"})),
        400,
        "mutability",
    )
    scim_error(
        scim_ready.patch(
            path, scim_patch({"op": "add", "path": "groups", "value": [{"value": "admin"}]})
        ),
        400,
        "mutability",
    )
    scim_error(
        scim_ready.patch(path, scim_patch({"op": "delete", "path": "x"})), 400, "invalidValue"
    )
    scim_error(scim_ready.patch(path, {"schemas": []}), 400, "invalidValue")
    scim_error(
        scim_ready.patch(path, scim_patch({"op": "remove", "path": "userName"})), 400, "mutability"
    )

    assert scim_ready.get(path).json == created
