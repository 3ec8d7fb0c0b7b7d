"""Fixtures for SAML tests: a known account, and checks that a refusal left no trace."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core.models import Account, User
from tests import factories

ACCOUNT = "ACME-1"
EMAIL = "pat@acme.example"


@pytest.fixture
def account(dbs: Session) -> Account:
    return factories.account(dbs, ACCOUNT, "Acme Corp")


def assert_refused(
    reply: TestResponse,
    client: FlaskClient,
    dbs: Session,
    caplog: pytest.LogCaptureFixture,
    *,
    reason: str | tuple[str, ...],
    status: int = 400,
    event: str = "saml.response_rejected",
) -> None:
    """A refusal: a 4xx page saying why, no session, no user, and a log event."""
    body = reply.get_data(as_text=True)
    assert reply.status_code == status, body
    reasons = (reason,) if isinstance(reason, str) else reason
    assert any(r in body for r in reasons), body
    assert "text/html" in reply.content_type
    assert "switchyard_session=" not in reply.headers.get("Set-Cookie", "")
    assert client.get("/api/v1/me").status_code == 401
    dbs.expire_all()
    assert dbs.scalar(select(func.count()).select_from(User)) == 0
    events = [getattr(r, "event", None) for r in caplog.records if r.levelno >= logging.WARNING]
    assert event in events, events


@pytest.fixture
def app_idp_initiated(settings, saml_dir) -> FlaskClient:  # type: ignore[no-untyped-def]
    """A client of an app that accepts IdP-initiated (unsolicited) responses."""
    from tests.conftest import _reset, https_client, make_app

    app = make_app(settings.model_copy(update={"saml_idp_initiated": True}))
    yield https_client(app)
    _reset(app)
