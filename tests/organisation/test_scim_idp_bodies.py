"""What Microsoft Entra ID and Okta really send, as their SCIM documentation shows it
(capitalised `op`, booleans as strings, values without a path, the enterprise
extension, a password on create, members removed with a value list)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import User
from tests.organisation.conftest import USER_SCHEMA, ScimClient, scim_patch
from tests.world import World

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _user(dbs: Session, public_id: str) -> User:
    dbs.expire_all()
    user = dbs.scalar(select(User).where(User.public_id == public_id))
    assert user is not None
    return user


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


def test_entra_id_provisioning_cycle(scim_ready: ScimClient, dbs: Session) -> None:
    # Entra first looks the user up by its matching attribute...
    lookup = scim_ready.get(
        "/Users", query_string={"filter": 'userName eq "Test_User_1@contoso.example"'}
    )
    assert _ok(lookup)["totalResults"] == 0
    # ...then creates them, with the enterprise extension and its default mapping.
    created = scim_ready.post(
        "/Users",
        {
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_1@contoso.example",
            "active": True,
            "emails": [{"primary": True, "type": "work", "value": "Test_User_1@contoso.example"}],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": "givenName familyName",
                "familyName": "Family",
                "givenName": "Given",
            },
            "roles": [],
            "title": "Engineer",
            "preferredLanguage": "en-US",
            ENTERPRISE: {"department": "R&D", "employeeNumber": "42"},
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    public_id = created.json["id"]
    assert (
        _ok(
            scim_ready.get(
                "/Users", query_string={"filter": 'userName eq "test_user_1@contoso.example"'}
            )
        )["Resources"][0]["id"]
        == public_id
    )

    # Update a multi-valued attribute by its value filter, and a name, capitalised ops.
    changed = _ok(
        scim_ready.patch(
            f"/Users/{public_id}",
            scim_patch(
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "Updated.Email@contoso.example",
                },
                {"op": "Replace", "path": "name.familyName", "value": "UpdatedFamily"},
                {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": {"value": "boss"}},
            ),
        )
    )
    assert changed["userName"] == "updated.email@contoso.example"
    assert changed["name"]["familyName"] == "UpdatedFamily"
    assert _user(dbs, public_id).email == "updated.email@contoso.example"

    # A single-valued attribute.
    renamed = _ok(
        scim_ready.patch(
            f"/Users/{public_id}",
            scim_patch({"op": "Replace", "path": "userName", "value": "renamed@contoso.example"}),
        )
    )
    assert renamed["emails"][0]["value"] == "renamed@contoso.example"

    # Disable, with the boolean as a string (without Entra's aadOptscim062020 flag).
    disabled = _ok(
        scim_ready.patch(
            f"/Users/{public_id}",
            {
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            },
        )
    )
    assert disabled["active"] is False
    assert _user(dbs, public_id).status == "disabled"
    # Entra's validator checks the disabled user is still found, with active false.
    found = _ok(
        scim_ready.get("/Users", query_string={"filter": 'userName eq "renamed@contoso.example"'})
    )
    assert found["Resources"][0]["active"] is False

    enabled = _ok(
        scim_ready.patch(
            f"/Users/{public_id}", scim_patch({"op": "Replace", "path": "active", "value": "True"})
        )
    )
    assert enabled["active"] is True

    # Entra's DELETE after unassignment: deactivated, still there.
    assert scim_ready.delete(f"/Users/{public_id}").status_code == 204
    assert _user(dbs, public_id).status == "disabled"


def test_entra_id_looks_users_up_by_external_id(scim_ready: ScimClient) -> None:
    created = scim_ready.post(
        "/Users", {"userName": "e@contoso.example", "externalId": "58342554-38d6-4ec8-948c"}
    ).json

    found = _ok(
        scim_ready.get("/Users", query_string={"filter": 'externalId eq "58342554-38d6-4ec8-948c"'})
    )

    assert [user["id"] for user in found["Resources"]] == [created["id"]]


def test_entra_id_group_membership(scim_ready: ScimClient, dbs: Session, world: World) -> None:
    pat = dbs.scalar(select(User).where(User.email == "pat@ready.example"))
    assert pat is not None
    # Entra finds the group by name without its members, then PATCHes members.
    looked_up = _ok(
        scim_ready.get(
            "/Groups",
            query_string={"excludedAttributes": "members", "filter": 'displayName eq "admin"'},
        )
    )
    assert looked_up["Resources"] == [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "admin",
            "displayName": "admin",
            "meta": {"resourceType": "Group", "location": "https://sso.test/scim/v2/Groups/admin"},
        }
    ]

    added = scim_ready.patch(
        "/Groups/admin",
        scim_patch(
            {"op": "Add", "path": "members", "value": [{"$ref": None, "value": pat.public_id}]}
        ),
    )
    assert added.status_code == 200, added.get_data(as_text=True)
    assert "admin" in _user(dbs, pat.public_id).permission_names

    # Entra removes members with the path "members" and the members as the value.
    removed = scim_ready.patch(
        "/Groups/admin",
        scim_patch(
            {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": pat.public_id}]}
        ),
    )
    assert removed.status_code == 200, removed.get_data(as_text=True)
    assert "admin" not in _user(dbs, pat.public_id).permission_names


def test_okta_provisioning_cycle(scim_ready: ScimClient, dbs: Session) -> None:
    lookup = scim_ready.get(
        "/Users",
        query_string={
            "filter": 'userName eq "test.user@okta.example"',
            "startIndex": "1",
            "count": "100",
        },
    )
    assert _ok(lookup)["totalResults"] == 0
    created = scim_ready.post(
        "/Users",
        {
            "schemas": [USER_SCHEMA],
            "userName": "test.user@okta.example",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": True, "value": "test.user@okta.example", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": True,
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    user = created.json
    assert "password" not in user

    # Okta updates a profile with PUT, sending the whole user back.
    replaced = _ok(
        scim_ready.put(
            f"/Users/{user['id']}",
            {
                "schemas": [USER_SCHEMA],
                "id": user["id"],
                "userName": "test.user@okta.example",
                "name": {"givenName": "Tess", "familyName": "User"},
                "emails": [{"primary": True, "value": "test.user@okta.example", "type": "work"}],
                "displayName": "Tess User",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "active": True,
                "meta": user["meta"],
            },
        )
    )
    assert replaced["name"]["givenName"] == "Tess"

    # Okta deactivates with a value object and no path.
    deactivated = _ok(
        scim_ready.patch(
            f"/Users/{user['id']}", scim_patch({"op": "replace", "value": {"active": False}})
        )
    )
    assert deactivated["active"] is False
    assert _user(dbs, user["id"]).status == "disabled"
    reactivated = _ok(
        scim_ready.patch(
            f"/Users/{user['id']}", scim_patch({"op": "replace", "value": {"active": True}})
        )
    )
    assert reactivated["active"] is True


def test_okta_group_membership(scim_ready: ScimClient, dbs: Session) -> None:
    sam = dbs.scalar(select(User).where(User.email == "sam@ready.example"))
    assert sam is not None

    added = scim_ready.patch(
        "/Groups/admin",
        scim_patch(
            {
                "op": "add",
                "path": "members",
                "value": [{"value": sam.public_id, "display": sam.email}],
            }
        ),
    )
    assert sam.public_id in {m["value"] for m in _ok(added)["members"]}
    # Okta renames (here: keeps the name of) the group with a value object.
    same_name = scim_ready.patch(
        "/Groups/admin",
        scim_patch({"op": "replace", "value": {"id": "admin", "displayName": "admin"}}),
    )
    assert same_name.status_code == 200

    removed = scim_ready.patch(
        "/Groups/admin",
        scim_patch({"op": "remove", "path": f'members[value eq "{sam.public_id}"]'}),
    )
    assert sam.public_id not in {m["value"] for m in _ok(removed).get("members", [])}
    assert "admin" not in _user(dbs, sam.public_id).permission_names
