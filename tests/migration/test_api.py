"""The JSON API: a whole migration with a token, and problem+json errors (the OpenAPI
document and its match with the routes are checked in tests/api/)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent
from tests.conftest import https_client
from tests.it_console import bearer
from tests.world import World


def test_a_whole_migration_through_the_api(
    app: Flask, dbs: Session, world: World, token_for: Callable[..., str]
) -> None:
    client = https_client(app)
    auth = bearer(token_for("rollout:read", "rollout:write", "support:read"))
    post = lambda path, body: client.post(path, json=body, headers=auth)  # noqa: E731
    pilots = post("/api/v1/product-lines/NET/pilot-accounts/preview", {"add": ["100001"]})
    assert pilots.get_json()["movements"] == []  # NET is still on legacy
    assert pilots.get_json()["changes"] == ["add 100001 to the pilot"]
    body = {"add": ["100001"], "reason": "pilot customer"}
    revision = pilots.get_json()["revision"]
    reply = post(
        "/api/v1/product-lines/NET/pilot-accounts", {**body, "expected_revision": revision}
    )
    assert reply.status_code == 200
    preview = post("/api/v1/product-lines/NET/preview", {"state": "pilot"}).get_json()
    assert preview["movements"] == [
        {
            "source": "legacy",
            "target": "new",
            "accounts": 1,
            "users": 2,
            "entitlements": 2,
            "account_numbers": ["100001"],
        }
    ]
    assert (preview["before"]["pilot_accounts"], preview["after"]["state"]) == (["100001"], "pilot")
    for body in ({"state": "pilot"}, {"state": "rollout", "percent": 25}, {"state": "new"}):
        reply = post("/api/v1/product-lines/NET/state", {**body, "reason": "step"})
        assert reply.status_code == 200, reply.get_json()
    line = client.get("/api/v1/product-lines/NET", headers=auth).get_json()
    assert (line["state"], line["percent"], line["pilot_accounts"]) == ("new", "25.00", ["100001"])
    trace = client.get("/api/v1/route-trace?q=pat@ready.example", headers=auth).get_json()
    assert trace["people"][0]["lines"][0]["system"] == "new"
    assert post("/api/v1/product-lines/NET/rollback", {"reason": "incident"}).status_code == 200
    actions = list(dbs.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-5:] == [
        "product_line.pilot",
        "product_line.change",
        "product_line.change",
        "product_line.change",
        "product_line.rollback",
    ]
    assert {e.actor for e in dbs.scalars(select(AuditEvent))} >= {"token:test-0"}


def test_errors_are_problem_documents(
    app: Flask, world: World, token_for: Callable[..., str]
) -> None:
    client = https_client(app)
    auth = bearer(token_for("rollout:write"))
    reply = client.post("/api/v1/product-lines/NET/state", json={"state": "new"}, headers=auth)
    body = reply.get_json()
    assert reply.status_code == 400 and reply.mimetype == "application/problem+json"
    assert body["title"] == "That change was not made" and "reason" in body["detail"]
    missing = client.post(
        "/api/v1/product-lines/NOPE/state", json={"state": "new", "reason": "x"}, headers=auth
    )
    assert missing.status_code == 404
    invalid = client.post(
        "/api/v1/product-lines/NET/state",
        json={"state": "rollout", "percent": 250, "reason": "x"},
        headers=auth,
    )
    assert invalid.status_code == 422


def test_schedule_override_and_maintenance_through_the_api(
    app: Flask, dbs: Session, world: World, token_for: Callable[..., str]
) -> None:
    client = https_client(app)
    auth = bearer(token_for("rollout:read", "rollout:write"))
    created = client.post(
        "/api/v1/scheduled-changes",
        headers=auth,
        json={
            "product_line": "NET",
            "state": "new",
            "run_at": "2099-01-15T06:00:00Z",
            "reason": "cut-over",
        },
    )
    assert created.status_code == 201 and created.get_json()["run_at"].startswith("2099-01-15T06")
    listed = client.get("/api/v1/scheduled-changes", headers=auth).get_json()
    assert [c["id"] for c in listed["pending"]] == [created.get_json()["id"]]
    cancel = client.post(
        f"/api/v1/scheduled-changes/{created.get_json()['id']}/cancel",
        json={"reason": "moved"},
        headers=auth,
    )
    assert cancel.get_json()["status"] == "cancelled"
    put = client.put(
        "/api/v1/product-lines/NET/overrides/100002",
        headers=auth,
        json={"system": "legacy", "reason": "contract"},
    )
    assert put.status_code == 200
    removed = client.delete("/api/v1/product-lines/NET/overrides/100002?reason=done", headers=auth)
    assert removed.status_code == 200
    down = client.post(
        "/api/v1/systems/new/maintenance", json={"down": True, "reason": "up"}, headers=auth
    )
    assert down.status_code == 200
    board = client.get("/api/v1/dashboard?by=day", headers=auth).get_json()
    assert board["granularity"] == "day" and len(board["periods"]) == 30
    assert {row["code"] for row in board["product_lines"]} == {"NET", "CAD"}


def test_override_previews_then_confirm_and_a_stale_preview_gets_409(
    app: Flask, dbs: Session, world: World, token_for: Callable[..., str]
) -> None:
    client = https_client(app)
    auth = bearer(token_for("rollout:read", "rollout:write"))
    waiting = client.post(
        "/api/v1/product-lines/NET/overrides/100002/preview", json={"system": "new"}, headers=auth
    ).get_json()
    assert (waiting["movements"], waiting["waiting_for_data"]) == ([], ["100002"])
    early = client.post(
        "/api/v1/product-lines/NET/overrides/100001/preview", json={"system": "new"}, headers=auth
    ).get_json()
    [move] = early["movements"]
    assert (move["account_numbers"], move["users"], move["entitlements"]) == (["100001"], 2, 2)
    put = client.put(
        "/api/v1/product-lines/NET/overrides/100001",
        json={"system": "new", "reason": "early", "expected_revision": early["revision"]},
        headers=auth,
    )
    assert put.status_code == 200
    stale = client.put(
        "/api/v1/product-lines/NET/overrides/100002",
        json={"system": "new", "reason": "early", "expected_revision": waiting["revision"]},
        headers=auth,
    )
    assert stale.status_code == 409 and stale.mimetype == "application/problem+json"
    assert "changed since your preview" in stale.get_json()["detail"]
    removal = client.post(
        "/api/v1/product-lines/NET/overrides/100001/removal-preview", headers=auth
    ).get_json()
    assert removal["changes"] == ["remove the override sending 100001 to new"]
    assert [(m["source"], m["target"]) for m in removal["movements"]] == [("new", "legacy")]
    path = "/api/v1/product-lines/NET/overrides/100001?reason=done&expected_revision="
    assert client.delete(path + "stale", headers=auth).status_code == 409
    unconfirmed = client.delete(path + removal["revision"], headers=auth)
    assert unconfirmed.status_code == 409 and unconfirmed.mimetype == "application/problem+json"
    assert unconfirmed.get_json()["back_to_legacy"]["accounts"] == 1
    confirmed = path + removal["revision"] + "&confirm_back_to_legacy=true"
    assert client.delete(confirmed, headers=auth).status_code == 200
    missing = client.post(
        "/api/v1/product-lines/NET/overrides/100001/removal-preview", headers=auth
    )
    assert missing.status_code == 404
    actions = list(dbs.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["product_line.override", "product_line.override_removed"]
    assert "product_line.override" not in actions[:-2]  # the stale one was not written
