"""Who may use /scim/v2: a token with scope scim limited to one account, seeing that
account only. The attacks first: no token, a wrong one, a revoked one, a token of
another scope, IT's token, and account A's token reaching for account B's users."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import ApiToken, AuditEvent, User
from gateway.core.models.base import utcnow
from tests import factories
from tests.organisation.conftest import ScimClient, scim_error, scim_patch
from tests.world import World

ENDPOINTS = ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Users", "/Groups"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_no_token_is_401_with_a_bearer_challenge(
    scim_client: Callable[[str | None], ScimClient], world: World, path: str
) -> None:
    response = scim_client(None).get(path)

    scim_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_or_revoked_token_is_401(
    scim_client: Callable[[str | None], ScimClient],
    scim_token: Callable[..., str],
    world: World,
    dbs: Session,
) -> None:
    scim_error(scim_client("sy_not-a-token").get("/Users"), 401)
    scim_error(scim_client(None).get("/Users", headers={"Authorization": "Basic eDp5"}), 401)
    secret = scim_token(world.ready, name="revoked")
    row = dbs.scalar(select(ApiToken).where(ApiToken.name == "revoked"))
    assert row is not None
    row.revoked_at = utcnow()
    dbs.commit()

    response = scim_client(secret).get("/Users")

    scim_error(response, 401)
    assert "invalid_token" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("scopes", "limited"),
    [("users", True), ("rollout:read rollout:write support:read", False), ("scim", False)],
    ids=["users-scope", "it-token", "scim-without-account"],
)
def test_other_tokens_cannot_use_scim(
    scim_client: Callable[[str | None], ScimClient],
    scim_token: Callable[..., str],
    world: World,
    dbs: Session,
    scopes: str,
    limited: bool,
) -> None:
    scim = scim_client(scim_token(world.ready if limited else None, scopes))
    pat = dbs.scalar(select(User).where(User.email == "pat@ready.example"))
    assert pat is not None

    listing = scim.get("/Users")
    deletion = scim.delete(f"/Users/{pat.public_id}")

    scim_error(listing, 403)
    assert 'scope="scim"' in listing.headers["WWW-Authenticate"]
    scim_error(deletion, 403)
    dbs.refresh(pat)
    assert pat.status == "active"


def test_a_token_sees_only_its_own_account(
    scim_ready: ScimClient, world: World, dbs: Session
) -> None:
    listing = scim_ready.get("/Users").json
    everybody = scim_ready.get("/Users", query_string={"filter": "userName pr"}).json
    by_address = scim_ready.get(
        "/Users", query_string={"filter": 'userName eq "oli@other.example"'}
    ).json

    ready = {"ada@ready.example", "pat@ready.example", "portal@ready.example", "sam@ready.example"}
    assert {user["userName"] for user in listing["Resources"]} == ready
    assert {user["userName"] for user in everybody["Resources"]} == ready
    assert by_address["totalResults"] == 0
    # The groups' members are the account's own too.
    portal = scim_ready.get("/Groups/portal").json
    assert {m["display"] for m in portal["members"]} <= ready


def test_another_accounts_user_is_not_found_and_unchanged(
    scim_ready: ScimClient, world: World, dbs: Session
) -> None:
    oli = dbs.scalar(select(User).where(User.email == "oli@other.example"))
    assert oli is not None
    path = f"/Users/{oli.public_id}"

    answers = [
        scim_ready.get(path),
        scim_ready.patch(path, scim_patch({"op": "replace", "path": "active", "value": False})),
        scim_ready.put(path, {"userName": "stolen@ready.example"}),
        scim_ready.delete(path),
    ]

    for answer in answers:
        scim_error(answer, 404)
    dbs.refresh(oli)
    assert (oli.status, oli.email) == ("active", "oli@other.example")
    assert dbs.scalars(select(AuditEvent).where(AuditEvent.via == "scim")).all() == []


def test_another_accounts_user_cannot_be_added_to_a_group(
    scim_ready: ScimClient, world: World, dbs: Session
) -> None:
    oli = dbs.scalar(select(User).where(User.email == "oli@other.example"))
    assert oli is not None

    response = scim_ready.patch(
        "/Groups/admin",
        scim_patch({"op": "add", "path": "members", "value": [{"value": oli.public_id}]}),
    )

    scim_error(response, 400, "invalidValue")
    dbs.refresh(oli)
    assert "admin" not in oli.permission_names


def test_users_are_created_in_the_tokens_account(
    scim_ready: ScimClient, world: World, dbs: Session
) -> None:
    other = factories.account(dbs, "200001")

    created = scim_ready.post("/Users", {"userName": "new@ready.example"}).json

    user = dbs.scalar(select(User).where(User.public_id == created["id"]))
    assert user is not None
    assert user.account_id == world.ready.id != other.id
