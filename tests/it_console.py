"""What the tests of IT's console, API and CLI share (migration, systems, insights and
core access), on the shared `world`: signed-in IT staff, customer admins and plain users
(real signed SAML), API tokens, and a console form poster. The fixtures reach the test
directories through their conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core.api_tokens import create_token
from gateway.core.audit import Actor
from gateway.core.secret_keys import secret_keys
from tests.conftest import BASE_URL, https_client
from tests.forms import csrf_token
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

IT_GROUP = "switchyard-it"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
ACTOR = Actor("it@vendor.example", "req-test-0001")


@pytest.fixture
def it_client(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    """Vendor IT: signed in with the IT group, in the vendor's own account."""
    client = https_client(app)
    sign_in(client, idp, email="it@vendor.example", account="VENDOR-1", groups=(IT_GROUP,))
    return client


@pytest.fixture
def admin_client(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    """A customer org admin (permission `admin`), with no IT group."""
    client = https_client(app)
    sign_in(client, idp, email="ada@ready.example", account="100001", groups=("customer-admins",))
    return client


@pytest.fixture
def user_client(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    client = https_client(app)
    sign_in(client, idp, email="pat@ready.example", account="100001")
    return client


@pytest.fixture
def token_for(app: Flask, dbs: Session) -> Callable[..., str]:
    """Creates an API token with the given scopes and returns its secret."""
    created = iter(range(1000))

    def make(*scopes: str) -> str:
        name = f"test-{next(created)}"
        hash_key = secret_keys(app).api_token
        return create_token(dbs, name, list(scopes), actor=ACTOR, now=NOW, hash_key=hash_key).secret

    return make


def console_post(client: FlaskClient, path: str, data: dict[str, str]) -> TestResponse:
    """POST a console form as a browser does: with the page's CSRF token and Referer."""
    token = csrf_token(client.get("/it/").get_data(as_text=True))
    return client.post(
        path, data={"csrf_token": token, **data}, headers={"Referer": f"{BASE_URL}/it/"}
    )


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
