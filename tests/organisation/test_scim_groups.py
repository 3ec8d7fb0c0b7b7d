"""The four fixed groups, one per permission: their members are the users holding it,
membership changes go through the organisation's rules (audited, last admin kept),
and groups cannot be created, renamed or deleted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent, User
from tests.organisation.conftest import GROUP_SCHEMA, ScimClient, scim_error, scim_patch
from tests.world import World


def _user(dbs: Session, email: str) -> User:
    dbs.expire_all()
    user = dbs.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def _members(group: dict[str, Any]) -> set[str]:
    return {member["display"] for member in group.get("members", [])}


def test_the_groups_are_the_permissions(scim_ready: ScimClient) -> None:
    listing = scim_ready.get("/Groups").json

    assert [(g["id"], g["displayName"]) for g in listing["Resources"]] == [
        ("portal", "portal"),
        ("licensing", "licensing"),
        ("downloads", "downloads"),
        ("admin", "admin"),
    ]
    groups = {g["id"]: g for g in listing["Resources"]}
    assert _members(groups["admin"]) == {"ada@ready.example"}
    assert _members(groups["licensing"]) == {"pat@ready.example", "sam@ready.example"}
    one = scim_ready.get("/Groups/admin")
    assert one.status_code == 200
    assert one.json["schemas"] == [GROUP_SCHEMA]
    assert one.json["members"][0]["$ref"].startswith("https://sso.test/scim/v2/Users/")
    scim_error(scim_ready.get("/Groups/engineering"), 404)


def test_groups_cannot_be_created_renamed_or_deleted(scim_ready: ScimClient) -> None:
    scim_error(scim_ready.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "x"}), 501)
    scim_error(scim_ready.delete("/Groups/admin"), 501)
    renamed = scim_ready.patch(
        "/Groups/admin", scim_patch({"op": "replace", "path": "displayName", "value": "root"})
    )
    scim_error(renamed, 400, "mutability")
    assert scim_ready.get("/Groups/admin").json["displayName"] == "admin"


def test_put_replaces_the_members_and_audits_each_user(
    scim_ready: ScimClient, dbs: Session, world: World
) -> None:
    pat, sam = _user(dbs, "pat@ready.example"), _user(dbs, "sam@ready.example")

    response = scim_ready.put(
        "/Groups/licensing",
        {
            "schemas": [GROUP_SCHEMA],
            "id": "licensing",
            "displayName": "licensing",
            "members": [
                {"value": pat.public_id},
                {"value": _user(dbs, "ada@ready.example").public_id},
            ],
        },
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert _members(response.json) == {"pat@ready.example", "ada@ready.example"}
    assert "licensing" not in _user(dbs, "sam@ready.example").permission_names
    assert "licensing" in _user(dbs, "ada@ready.example").permission_names
    entries = dbs.scalars(select(AuditEvent).where(AuditEvent.via == "scim")).all()
    assert {(e.action, e.target, e.actor, e.account_id) for e in entries} == {
        (
            "user.permissions_changed",
            f"user:{_user(dbs, 'ada@ready.example').public_id}",
            "scim:entra",
            world.ready.id,
        ),
        ("user.permissions_changed", f"user:{sam.public_id}", "scim:entra", world.ready.id),
    }


def test_unknown_members_change_nothing(scim_ready: ScimClient, dbs: Session) -> None:
    pat = _user(dbs, "pat@ready.example")

    response = scim_ready.patch(
        "/Groups/admin",
        scim_patch(
            {
                "op": "add",
                "path": "members",
                "value": [{"value": pat.public_id}, {"value": "nobody"}],
            }
        ),
    )

    scim_error(response, 400, "invalidValue")
    assert "admin" not in _user(dbs, "pat@ready.example").permission_names


def test_the_last_admin_cannot_be_removed_from_the_admin_group(
    scim_ready: ScimClient, dbs: Session
) -> None:
    ada = _user(dbs, "ada@ready.example")

    by_path = scim_ready.patch(
        "/Groups/admin",
        scim_patch({"op": "remove", "path": f'members[value eq "{ada.public_id}"]'}),
    )
    all_members = scim_ready.patch("/Groups/admin", scim_patch({"op": "remove", "path": "members"}))
    by_put = scim_ready.put("/Groups/admin", {"schemas": [GROUP_SCHEMA], "displayName": "admin"})

    for response in (by_path, all_members, by_put):
        scim_error(response, 400, "mutability")
    assert "admin" in _user(dbs, "ada@ready.example").permission_names
    assert dbs.scalars(select(AuditEvent)).all() == []


def test_the_last_admin_cannot_be_deactivated(scim_ready: ScimClient, dbs: Session) -> None:
    ada = _user(dbs, "ada@ready.example")
    path = f"/Users/{ada.public_id}"

    answers = [
        scim_ready.delete(path),
        scim_ready.patch(path, scim_patch({"op": "Replace", "path": "active", "value": "False"})),
        scim_ready.patch(path, scim_patch({"op": "replace", "value": {"active": False}})),
        scim_ready.put(path, {"userName": "ada@ready.example", "active": False}),
    ]

    for answer in answers:
        body = scim_error(answer, 400, "mutability")
        assert "last active admin" in body["detail"]
    assert _user(dbs, "ada@ready.example").status == "active"
    assert dbs.scalars(select(AuditEvent)).all() == []


def test_one_admin_replaced_by_another_in_one_request(scim_ready: ScimClient, dbs: Session) -> None:
    pat = _user(dbs, "pat@ready.example")

    response = scim_ready.put(
        "/Groups/admin",
        {"schemas": [GROUP_SCHEMA], "displayName": "admin", "members": [{"value": pat.public_id}]},
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert _members(response.json) == {"pat@ready.example"}
    assert "admin" not in _user(dbs, "ada@ready.example").permission_names
    # Now ada may go: pat is an admin.
    assert (
        scim_ready.delete(f"/Users/{_user(dbs, 'ada@ready.example').public_id}").status_code == 204
    )
