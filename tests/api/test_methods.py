"""An undeclared method on an /api/v1 path answers 405 problem+json with an Allow header
(RFC 9110 §15.5.6): a client learns what it may send instead of guessing."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/product-lines", {"GET"}),
        ("PATCH", "/api/v1/product-lines/NET", {"GET"}),
        ("GET", "/api/v1/product-lines/NET/state", {"POST"}),
        ("POST", "/api/v1/product-lines/NET/overrides/100001", {"PUT", "DELETE"}),
        ("PUT", "/api/v1/scheduled-changes", {"GET", "POST"}),
        ("POST", "/api/v1/me", {"GET"}),
        ("DELETE", "/api/v1/accounts/100001/entitlements", {"GET"}),
        ("POST", "/api/v1/openapi.json", {"GET"}),
    ],
)
def test_undeclared_method_answers_405_problem_with_allow(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    reply = client.open(path, method=method)
    assert reply.status_code == 405
    assert reply.mimetype == "application/problem+json"
    assert reply.get_json()["status"] == 405
    advertised = {m.strip() for m in reply.headers.get("Allow", "").split(",") if m.strip()}
    assert advertised - {"HEAD", "OPTIONS"} == allowed


def test_a_page_answers_405_with_allow_too(client: FlaskClient) -> None:
    reply = client.open("/healthz", method="DELETE")
    assert reply.status_code == 405 and "GET" in reply.headers.get("Allow", "")
