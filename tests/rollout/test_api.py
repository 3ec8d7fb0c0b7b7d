"""The JSON API: a whole migration with a token, problem+json errors, and an OpenAPI
document that matches the routes."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AuditEvent
from gateway.rollout.openapi import OPERATIONS
from tests.conftest import https_client
from tests.rollout.conftest import World, bearer


def test_openapi_document_lists_exactly_the_api_routes(app: Flask) -> None:
    document = https_client(app).get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    routes = {
        (
            method.lower(),
            rule.rule.replace("<code>", "{code}")
            .replace("<account>", "{account}")
            .replace("<int:change_id>", "{id}")
            .replace("<key>", "{key}"),
        )
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("rollout_api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(method, path) for method, path, *_ in OPERATIONS}
    assert routes == documented
    assert set(document["paths"]) == {path for _, path in documented}


def test_a_whole_migration_through_the_api(
    app: Flask, dbs: Session, world: World, token_for: Callable[..., str]
) -> None:
    client = https_client(app)
    auth = bearer(token_for("rollout:read", "rollout:write", "support:read"))
    post = lambda path, body: client.post(path, json=body, headers=auth)  # noqa: E731
    assert (
        post(
            "/api/v1/product-lines/NET/pilot-accounts",
            {"add": ["100001"], "reason": "pilot customer"},
        ).status_code
        == 200
    )
    preview = post("/api/v1/product-lines/NET/preview", {"state": "pilot"}).get_json()
    assert preview["movements"] == [
        {"source": "legacy", "target": "new", "accounts": 1, "users": 2, "entitlements": 2}
    ]
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
