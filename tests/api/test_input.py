"""How the JSON API reads what it is sent: NUL refused before the database sees it,
415 for a body that is not JSON, 400 for malformed JSON or no reason, 422 for
anything else the document calls invalid (unknown fields, types, bounds, enums)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent
from tests.it_console import bearer
from tests.world import World


@pytest.fixture
def auth(world: World, token_for: Callable[..., str]) -> dict[str, str]:
    return bearer(token_for("rollout:read", "rollout:write", "support:read"))


def audit_count(dbs: Session) -> int:
    dbs.expire_all()
    return int(dbs.scalar(select(func.count(AuditEvent.id))) or 0)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/route-trace?q=pat%00@ready.example",
        "/api/v1/product-lines/NET%00",
        "/api/v1/accounts/100001%00/entitlements",
        "/api/v1/audit-events?limit=5&x=%00",
    ],
)
def test_nul_in_the_address_is_a_400_not_a_database_failure(
    client: FlaskClient, auth: dict[str, str], path: str
) -> None:
    reply = client.get(path, headers=auth)
    assert reply.status_code == 400, reply.get_json()
    assert reply.mimetype == "application/problem+json"
    assert "NUL" in reply.get_json()["detail"]


def test_nul_in_a_body_is_refused_and_nothing_is_recorded(
    client: FlaskClient, dbs: Session, auth: dict[str, str]
) -> None:
    before = audit_count(dbs)
    reply = client.post(
        "/api/v1/product-lines/NET/rollback", json={"reason": "bad\x00reason"}, headers=auth
    )
    assert reply.status_code in (400, 422) and reply.mimetype == "application/problem+json"
    assert audit_count(dbs) == before


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"state": "new", "reason": "x", "expected_revison": "typo"}, 422, "expected_revison"),
        ({"state": "new", "reason": "x", "percent": True}, 422, "percent"),
        ({"state": "sideways", "reason": "x"}, 422, "state"),
        ({"state": "rollout", "percent": "+5", "reason": "x"}, 422, "percent"),
        ({"state": "new"}, 400, "reason"),
        ({"state": "new", "reason": "   "}, 400, "reason"),
        (["state", "new"], 422, "object"),
    ],
)
def test_a_body_the_document_calls_invalid_is_refused_and_changes_nothing(
    client: FlaskClient,
    dbs: Session,
    auth: dict[str, str],
    body: Any,
    status: int,
    words: str,
) -> None:
    before = audit_count(dbs)
    reply = client.post("/api/v1/product-lines/NET/state", json=body, headers=auth)
    assert reply.status_code == status, reply.get_json()
    assert words in reply.get_json()["detail"]
    assert audit_count(dbs) == before


def test_a_body_that_is_not_json_is_415_and_malformed_json_is_400(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    path = "/api/v1/product-lines/NET/rollback"
    form = client.post(path, data={"reason": "x"}, headers=auth)
    assert form.status_code == 415 and form.mimetype == "application/problem+json"
    broken = client.post(path, data="{", content_type="application/json", headers=auth)
    assert broken.status_code == 400 and broken.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/audit-events?limit=0",
        "/api/v1/audit-events?limit=1001",
        "/api/v1/audit-events?limit=x",
        "/api/v1/dashboard?by=week",
        "/api/v1/route-trace?q=%20",
        "/api/v1/route-trace",
    ],
)
def test_query_parameters_out_of_their_bounds_are_422(
    client: FlaskClient, auth: dict[str, str], query: str
) -> None:
    reply = client.get(query, headers=auth)
    assert reply.status_code == 422, reply.get_json()
    assert reply.mimetype == "application/problem+json"


def test_query_parameters_within_bounds_are_read(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    events = client.get("/api/v1/audit-events?limit=1", headers=auth).get_json()["events"]
    assert len(events) == 1  # the token's creation is audited
    assert client.get("/api/v1/dashboard?by=day", headers=auth).get_json()["granularity"] == "day"
    assert client.get("/api/v1/dashboard", headers=auth).get_json()["granularity"] == "hour"


def test_a_scheduled_change_id_beyond_the_column_is_404(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    reply = client.post(
        "/api/v1/scheduled-changes/99999999999/cancel", json={"reason": "x"}, headers=auth
    )
    assert reply.status_code == 404 and reply.mimetype == "application/problem+json"


def test_a_refused_value_is_explained_in_words_not_as_a_pattern(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    reply = client.post(
        "/api/v1/product-lines/NET/pilot-accounts/preview", json={"add": ["a b"]}, headers=auth
    )
    assert reply.status_code == 422
    assert reply.get_json()["detail"] == (
        "add/0: 'a b' is not an identifier: 1-64 characters, no spaces, slashes or control "
        "characters"
    )
