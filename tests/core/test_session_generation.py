"""Ending a user's sessions reaches every instance at their next request.

Each session records the user's session generation at sign-in; deactivating the user
(or a sign-in that lost a role the other sessions hold) bumps it, and every instance
compares the two on every request. With Redis the tests run two app instances on one
database and store; on the embedded store, which is one process's own, one instance.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask, session
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.core import db
from gateway.core.audit import Actor
from gateway.core.db import get_session
from gateway.core.models import User
from gateway.core.session import has_role
from gateway.core.settings import Settings
from gateway.organisation.service import UserChange, change_user
from tests.conftest import https_client, make_app
from tests.it_console import IT_GROUP
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.sso.test_store_failures import closed_port
from tests.world import World

IT_EMAIL = "it@vendor.example"
ADMIN = Actor("ada@ready.example", via="console")


@pytest.fixture
def other_instance(app: Flask, settings: Settings, redis_url: str | None) -> Iterator[Flask]:
    """A second instance on the same database and Redis (the same one on the embedded
    store, which no second instance could share)."""
    if redis_url is None:
        yield app
        return
    other = make_app(settings)
    yield other
    db.engine_of(other).dispose()


def set_active(instance: Flask, email: str, active: bool) -> None:
    """An org admin's change, made through the organisation's rules on `instance`."""
    with instance.app_context():
        database = get_session()
        user = database.scalar(select(User).where(User.email == email))
        assert user is not None
        change_user(database, ADMIN, user, UserChange(active=active), now=datetime.now(UTC))


def signed_in_it(instance: Flask, idp: PortalIdP, *groups: str) -> FlaskClient:
    browser = https_client(instance)
    reply = sign_in(browser, idp, email=IT_EMAIL, account="VENDOR-1", groups=groups)
    assert reply.status_code == 302
    return browser


def test_deactivation_on_one_instance_ends_the_session_on_the_other_for_good(
    app: Flask,
    other_instance: Flask,
    idp: PortalIdP,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    browser = signed_in_it(other_instance, idp, IT_GROUP)
    assert browser.get("/it/").status_code == 200
    set_active(app, IT_EMAIL, False)
    with caplog.at_level(logging.INFO, logger="gateway.core.session"):
        assert browser.get("/api/v1/me").status_code == 401
    assert "session.ended_elsewhere" in [getattr(r, "event", "") for r in caplog.records]
    page = browser.get("/it/")
    assert page.status_code in (302, 401) and page.status_code != 200
    # Ended, not suspended: switching the user back on does not revive the session.
    set_active(app, IT_EMAIL, True)
    assert browser.get("/api/v1/me").status_code == 401
    assert browser.get("/it/").status_code != 200
    # They sign in again like anyone else, and that session lives.
    again = signed_in_it(other_instance, idp, IT_GROUP)
    assert again.get("/it/").status_code == 200


def test_losing_the_it_group_at_the_idp_ends_the_sessions_that_had_it(
    app: Flask, other_instance: Flask, idp: PortalIdP, world: World
) -> None:
    browser_a = signed_in_it(app, idp, IT_GROUP)
    assert browser_a.get("/it/").status_code == 200
    browser_b = signed_in_it(other_instance, idp)  # the IdP no longer has them in IT
    assert browser_a.get("/it/").status_code != 200
    assert browser_a.get("/api/v1/me").status_code == 401
    assert browser_b.get("/api/v1/me").status_code == 200
    assert browser_b.get("/it/").status_code == 403


def test_gaining_a_role_ends_nothing_and_is_remembered_for_the_next_loss(
    app: Flask, other_instance: Flask, idp: PortalIdP, world: World
) -> None:
    plain = signed_in_it(app, idp)
    with_it = signed_in_it(other_instance, idp, IT_GROUP)
    assert plain.get("/api/v1/me").status_code == 200  # a gain ends no session
    assert with_it.get("/it/").status_code == 200
    # The IT session above is one of this generation: losing IT again must end it.
    latest = signed_in_it(app, idp)
    assert with_it.get("/it/").status_code != 200
    assert with_it.get("/api/v1/me").status_code == 401
    assert latest.get("/api/v1/me").status_code == 200


def test_signing_in_again_with_the_same_roles_ends_nothing(
    app: Flask, other_instance: Flask, idp: PortalIdP, world: World
) -> None:
    first = signed_in_it(app, idp, IT_GROUP)
    second = signed_in_it(other_instance, idp, IT_GROUP)
    assert first.get("/it/").status_code == 200
    assert second.get("/it/").status_code == 200


def test_a_deactivated_user_keeps_no_role(app: Flask, idp: PortalIdP, world: World) -> None:
    signed_in_it(app, idp, IT_GROUP)
    with app.app_context():
        user_id = get_session().scalar(select(User.id).where(User.email == IT_EMAIL))
    planted = {"user_id": user_id, "account_id": world.vendor.id, "roles": ["it"]}
    with app.test_request_context("/"):
        session.update(planted)
        assert has_role("it")
    with app.app_context():
        database = get_session()
        user = database.get(User, user_id)
        assert user is not None
        user.status = "disabled"  # as a direct import would, without any hook
        database.commit()
    with app.test_request_context("/"):
        session.update(planted)
        assert not has_role("it")


def test_without_the_store_no_request_runs_as_the_user(
    app: Flask, idp: PortalIdP, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = signed_in_it(app, idp, IT_GROUP)
    assert browser.get("/api/v1/me").status_code == 200
    # The session was read a moment ago; the store fails before its generation is.
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=1)
    monkeypatch.setitem(app.extensions, "store", dead)
    reply = browser.get("/api/v1/me")
    assert reply.status_code == 503
    assert app.test_client().get("/healthz").status_code == 200
