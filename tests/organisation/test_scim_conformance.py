"""/scim/v2 checked by an independent SCIM client, scim2-tester (with scim2-client),
which discovers the server from its own documents and then creates, reads, lists,
replaces, patches and deletes resources, checking each answer against RFC 7643/7644.

Every check passes except the departures we choose, listed here with why; a new
failure fails the test. (The tester's values are random: a check of emails may pass
when its random value happens to keep the address.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import check_server
from scim2_tester.utils import Status

from tests.world import World

# (resource type, check): why it is not a success.
DEPARTURES = {
    # Search across every resource type (POST /.search); /Users/.search is there.
    ("User", "search_with_attributes"),
    # DELETE deactivates: the user stays, with active false.
    ("User", "object_deletion"),
    # emails is the one address, userName: another email value is not kept apart.
    ("User", "check_add_attribute:emails"),
    ("User", "check_replace_attribute:emails"),
    ("User", "check_remove_attribute:emails"),
    # Removing active leaves it as it is (a user is active or not).
    ("User", "check_remove_attribute:active"),
}


class _FreshAddresses(list[str]):
    """Examples for userName that are each a new email address: the tester picks
    examples at random, and our userName must be an address, unique."""

    def __len__(self) -> int:
        return 1_000_000

    def __getitem__(self, index: Any) -> Any:
        return f"tester-{uuid.uuid4().hex}@example.com"


def _key(result: Any) -> tuple[str, str]:
    title = result.title
    reason = result.reason or ""
    for attribute in ("emails", "active"):
        if f"'{attribute}'" in reason:
            title = f"{title}:{attribute}"
    return (result.resource_type or "", title)


def test_scim2_tester_finds_only_the_documented_departures(
    app: Flask, world: World, scim_token: Callable[..., str]
) -> None:
    client = WSGISCIMClient(
        app,
        base_url="https://sso.test/scim/v2",
        headers={"Authorization": f"Bearer {scim_token(world.ready)}"},
    )
    client.discover()
    user_model = client.get_resource_model("User")
    assert user_model is not None
    user_model.model_fields["user_name"].examples = _FreshAddresses()

    results = check_server(client, resource_types=["User"])

    failed = {_key(r) for r in results if r.status not in (Status.SUCCESS, Status.SKIPPED)}
    passed = [r for r in results if r.status == Status.SUCCESS]
    assert failed <= DEPARTURES, [(r.title, r.reason) for r in results if _key(r) in failed]
    assert {("User", "search_with_attributes"), ("User", "object_deletion")} <= failed
    # Discovery, every method on the discovery endpoints, create, get, list, attributes,
    # replace and PATCH of the other attributes all ran and passed.
    titles = {r.title for r in passed}
    assert {
        "service_provider_config_endpoint",
        "query_all_resource_types",
        "query_all_schemas",
        "random_url",
        "object_creation",
        "object_query",
        "object_query_without_id",
        "object_list_with_attributes",
        "object_replacement",
        "check_add_attribute",
        "check_replace_attribute",
        "check_remove_attribute",
    } <= titles
    assert len(passed) >= 40


def test_scim2_tester_on_groups_sees_they_are_fixed(
    app: Flask, world: World, scim_token: Callable[..., str]
) -> None:
    """The tester creates groups to test them (with new users as members, whose
    userName is not an address): every such check is refused with a SCIM error saying
    why, never a crash; the discovery checks pass."""
    client = WSGISCIMClient(
        app,
        base_url="https://sso.test/scim/v2",
        headers={"Authorization": f"Bearer {scim_token(world.ready)}"},
    )

    results = check_server(client, resource_types=["Group"])

    group_results = [r for r in results if r.resource_type == "Group"]
    assert group_results
    assert all(r.status == Status.ERROR for r in group_results)
    reasons = {r.reason or "" for r in group_results}
    assert all("groups are fixed" in why or "valid email address" in why for why in reasons), (
        reasons
    )
    assert any("groups are fixed" in why for why in reasons)
    assert all(r.status == Status.SUCCESS for r in results if r.resource_type is None)
