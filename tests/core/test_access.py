"""Only vendor IT reaches the console and the API: customer org admins and plain users
get 403 everywhere, tokens need the endpoint's scope, and every console write needs
its CSRF token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.api_document import OPERATIONS
from gateway.core.api_tokens import revoke_token
from gateway.core.models import AuditEvent
from tests.conftest import BASE_URL, https_client
from tests.forms import csrf_token
from tests.it_console import ACTOR, NOW, bearer
from tests.world import World

CONSOLE_PAGES = [
    "/it/",
    "/it/?by=day",
    "/it/dashboard.csv",
    "/it/lines/NET",
    "/it/who?q=100001",
    "/it/audit",
]
CONSOLE_WRITES = [
    ("/it/lines/NET/preview", {"state": "new", "reason": "x"}),
    (
        "/it/lines/NET/apply",
        {"state": "new", "reason": "x", "expected_state": "legacy", "expected_percent": "0"},
    ),
    ("/it/lines/NET/pilots/preview", {"accounts": "100001", "reason": "x"}),
    ("/it/lines/NET/pilots", {"accounts": "100001", "reason": "x"}),
    ("/it/lines/NET/overrides/preview", {"account": "100001", "system": "new", "reason": "x"}),
    ("/it/lines/NET/overrides", {"account": "100001", "system": "new", "reason": "x"}),
    ("/it/lines/NET/overrides/100001/remove/preview", {"reason": "x"}),
    ("/it/lines/NET/overrides/100001/remove", {"reason": "x"}),
    ("/it/lines/NET/schedule", {"state": "new", "run_at": "2099-01-01T00:00", "reason": "x"}),
    ("/it/schedules/1/cancel", {"reason": "x"}),
    ("/it/systems/new/maintenance", {"down": "on", "reason": "x"}),
]
API_CALLS = [
    (
        method.upper(),
        path.replace("{code}", "NET")
        .replace("{account}", "100001")
        .replace("{id}", "1")
        .replace("{key}", "new"),
        scope,
    )
    for method, path, scope, _, _ in OPERATIONS
    if scope is not None
]
API_BODY = {
    "state": "new",
    "reason": "x",
    "down": True,
    "system": "new",
    "product_line": "NET",
    "run_at": "2099-01-01T00:00:00Z",
}


def call_api(client: FlaskClient, method: str, path: str, **kwargs: object) -> object:
    if method in ("GET",):
        return client.open(path, method=method, **kwargs)
    return client.open(path, method=method, json=API_BODY, **kwargs)


def audit_count(dbs: Session) -> int:
    dbs.expire_all()
    return dbs.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.mark.parametrize("who", ["admin_client", "user_client"])
def test_customers_get_403_on_every_console_page_and_write(
    request: pytest.FixtureRequest, who: str, dbs: Session
) -> None:
    client: FlaskClient = request.getfixturevalue(who)
    for path in CONSOLE_PAGES:
        assert client.get(path).status_code == 403, path
    page = client.get("/logout").get_data(as_text=True)  # a page of theirs with a CSRF token
    token = csrf_token(page)
    before = audit_count(dbs)
    for path, form in CONSOLE_WRITES:
        reply = client.post(
            path, data={"csrf_token": token, **form}, headers={"Referer": f"{BASE_URL}/logout"}
        )
        assert reply.status_code == 403, path
    assert audit_count(dbs) == before


@pytest.mark.parametrize("who", ["admin_client", "user_client"])
def test_customers_get_403_on_every_api_endpoint(
    request: pytest.FixtureRequest, who: str, dbs: Session
) -> None:
    client: FlaskClient = request.getfixturevalue(who)
    before = audit_count(dbs)
    for method, path, _ in API_CALLS:
        reply = call_api(client, method, path)
        assert reply.status_code == 403, (method, path)  # type: ignore[attr-defined]
        assert reply.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    assert audit_count(dbs) == before


def test_anonymous_console_visit_starts_a_sign_in_and_the_api_says_401(
    app: Flask, world: World
) -> None:
    client = https_client(app)
    reply = client.get("/it/lines/NET")
    assert reply.status_code == 302 and reply.location.startswith("/login?next=/it/lines/NET")
    for method, path, _ in API_CALLS:
        assert call_api(client, method, path).status_code == 401, path  # type: ignore[attr-defined]


def test_tokens_without_the_scope_get_403_and_with_it_get_through(
    app: Flask, world: World, token_for: Callable[..., str]
) -> None:
    client = https_client(app)
    for method, path, scope in API_CALLS:
        others = [s for s in ("rollout:read", "rollout:write", "support:read") if s != scope]
        wrong = call_api(client, method, path, headers=bearer(token_for(*others)))
        assert wrong.status_code == 403, (method, path)  # type: ignore[attr-defined]
        right = call_api(client, method, path, headers=bearer(token_for(scope)))
        assert right.status_code != 403, (method, path)  # type: ignore[attr-defined]


def test_unknown_and_revoked_tokens_get_401(
    app: Flask, dbs: Session, world: World, token_for: Callable[..., str]
) -> None:
    client = https_client(app)
    assert client.get("/api/v1/product-lines", headers=bearer("sy_made-up")).status_code == 401
    secret = token_for("rollout:read")
    assert client.get("/api/v1/product-lines", headers=bearer(secret)).status_code == 200
    revoke_token(dbs, "test-0", actor=ACTOR, now=NOW)
    reply = client.get("/api/v1/product-lines", headers=bearer(secret))
    assert reply.status_code == 401 and reply.mimetype == "application/problem+json"


def test_it_session_may_read_the_api_but_writes_need_a_token(
    it_client: FlaskClient, dbs: Session
) -> None:
    assert it_client.get("/api/v1/product-lines").status_code == 200
    before = audit_count(dbs)
    reply = it_client.post("/api/v1/product-lines/NET/state", json=API_BODY)
    assert reply.status_code == 403
    assert audit_count(dbs) == before


def test_every_console_write_without_a_csrf_token_is_refused(
    it_client: FlaskClient, dbs: Session
) -> None:
    before = audit_count(dbs)
    for path, form in CONSOLE_WRITES:
        reply = it_client.post(path, data=form, headers={"Referer": f"{BASE_URL}/it/"})
        assert reply.status_code == 400, path
        assert "CSRF" in reply.get_data(as_text=True), path
    assert audit_count(dbs) == before
