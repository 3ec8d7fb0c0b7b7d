"""When Redis is unreachable the gateway refuses sign-in with a 503: it fails closed."""

from __future__ import annotations

import socket

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core import db
from gateway.core.models import Account, User
from gateway.core.settings import Settings
from tests.conftest import make_app
from tests.saml_idp import PortalIdP
from tests.sso.conftest import ACCOUNT, EMAIL


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def app_without_redis(settings: Settings) -> Flask:
    unreachable = f"redis://127.0.0.1:{closed_port()}/0"
    app = make_app(settings.model_copy(update={"redis_url": unreachable}))
    yield app
    db.engine_of(app).dispose()


def test_acs_fails_closed_when_the_replay_cache_is_unreachable(
    app_without_redis: Flask, idp: PortalIdP, dbs: Session, account: Account
) -> None:
    client = app_without_redis.test_client()
    xml = idp.response_xml(idp.spec(email=EMAIL, account=ACCOUNT, in_response_to="ONELOGIN_x"))
    reply = idp.post(client, xml)
    assert reply.status_code == 503
    assert "temporarily unavailable" in reply.get_data(as_text=True)
    assert dbs.scalar(select(func.count()).select_from(User)) == 0


def test_login_fails_closed_when_redis_is_unreachable(app_without_redis: Flask) -> None:
    reply = app_without_redis.test_client().get("/saml/login")
    assert reply.status_code == 503


def test_readiness_names_the_failing_part(app_without_redis: Flask) -> None:
    reply = app_without_redis.test_client().get("/readyz")
    assert reply.status_code == 503
    assert reply.get_json() == {"status": "unavailable", "failing": {"redis": "ConnectionError"}}
    assert app_without_redis.test_client().get("/healthz").status_code == 200
