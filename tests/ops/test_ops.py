"""Operations baseline: probes, request ids in logs, security headers, problem documents."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.core import db
from gateway.core.logs import RequestIdFilter
from gateway.core.settings import Settings
from tests.conftest import make_app


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ok"}


def test_readiness_names_the_database_when_it_is_gone(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no-such-dir" / "gateway.db"
    app = make_app(settings.model_copy(update={"database_url": f"sqlite:///{missing}"}))
    reply = app.test_client().get("/readyz")
    assert reply.status_code == 503
    assert reply.get_json()["failing"] == {"database": "OperationalError"}
    db.engine_of(app).dispose()


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    for path in ("/healthz", "/logout", "/no-such-page"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert headers["X-Request-ID"]
        assert headers["Cache-Control"] == "no-store"
        assert all(len(headers.getlist(name)) == 1 for name in headers.keys())  # noqa: SIM118


def test_a_header_the_view_set_is_kept(client: FlaskClient) -> None:
    """The provider's discovery document may be cached: its own Cache-Control stays, and
    is not joined by the default no-store."""
    headers = client.get("/.well-known/openid-configuration").headers
    assert headers.getlist("Cache-Control") == ["public, max-age=300"]
    assert headers["X-Frame-Options"] == "DENY"


def test_request_id_is_echoed_only_when_safe(client: FlaskClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"}).headers["X-Request-ID"]
        == "lb-1234abcd"
    )
    forged = 'x" "level": "CRITICAL'
    assigned = client.get("/healthz", headers={"X-Request-ID": forged}).headers["X-Request-ID"]
    assert assigned != forged and len(assigned) == 32


def test_log_lines_are_json_with_the_request_id(
    app: Flask, client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.get(
        "/saml/login",
        query_string={"next": "https://evil.test/"},
        headers={"X-Request-ID": "req-abcdef12"},
    )
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    refused = [line for line in lines if line.get("event") == "signin.unsafe_redirect"]
    assert (
        refused and refused[0]["request_id"] == "req-abcdef12" and refused[0]["level"] == "WARNING"
    )


def test_request_id_filter_outside_a_request() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    assert RequestIdFilter().filter(record) and record.request_id is None


def test_unknown_api_path_is_a_problem_document(client: FlaskClient) -> None:
    reply = client.get("/api/v1/nothing-here")
    assert reply.status_code == 404 and reply.content_type == "application/problem+json"
    assert reply.get_json()["status"] == 404


def test_signin_is_rate_limited_per_client(settings: Settings) -> None:
    app = make_app(settings.model_copy(update={"signin_rate_limit": "3/minute"}))
    client = app.test_client()
    codes = [client.get("/saml/login").status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]
    app.extensions["store"].flushdb()
    db.engine_of(app).dispose()
