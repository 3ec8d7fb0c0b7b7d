"""Fixtures for rollout tests: a small migration landscape, signed-in IT staff, customer
admins and plain users (real signed SAML), API tokens, and a console form poster."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core.api_tokens import create_token
from gateway.core.models import Account, ProductLine, System
from gateway.core.secret_keys import secret_keys
from gateway.core.store import Store, get_store
from gateway.migration.service import Actor
from tests import factories
from tests.conftest import BASE_URL, https_client
from tests.forms import csrf_token
from tests.saml_idp import PortalIdP

IT_GROUP = "switchyard-it"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
ACTOR = Actor("it@vendor.example", "req-test-0001")


@dataclass
class World:
    """Systems legacy and new; line NET on legacy, line CAD on legacy; four accounts.

    - ready (100001): NET held by both systems (2 entitlements), 2 routable users + 1 portal-only
    - waiting (100002): NET held by legacy only (the new system has no data yet), 1 user
    - mixed (100003): NET held by both, CAD by legacy only, 1 user: moving NET offers a choice
    - other (100004): CAD only, 1 user
    """

    legacy: System
    new: System
    net: ProductLine
    cad: ProductLine
    ready: Account
    waiting: Account
    mixed: Account
    other: Account
    vendor: Account


def build_world(db: Session) -> World:
    legacy, new = factories.system(db, "legacy"), factories.system(db, "new")
    net, cad = factories.product_line(db, "NET"), factories.product_line(db, "CAD")
    ready, waiting = factories.account(db, "100001"), factories.account(db, "100002")
    mixed, other = factories.account(db, "100003"), factories.account(db, "100004")
    vendor = factories.account(db, "VENDOR-1", "Switchyard vendor")
    for _ in range(2):
        factories.entitlement(db, ready, net, [legacy, new])
    factories.entitlement(db, waiting, net, [legacy])
    factories.entitlement(db, mixed, net, [legacy, new])
    factories.entitlement(db, mixed, cad, [legacy])
    factories.entitlement(db, other, cad, [legacy])
    factories.user(db, ready, "pat@ready.example")
    factories.user(db, ready, "sam@ready.example")
    factories.user(db, ready, "portal@ready.example", permissions=("portal",))
    factories.user(db, waiting, "wes@waiting.example")
    factories.user(db, mixed, "max@mixed.example")
    factories.user(db, other, "oli@other.example")
    factories.user(db, ready, "ada@ready.example", permissions=("portal", "admin"))
    return World(legacy, new, net, cad, ready, waiting, mixed, other, vendor)


@pytest.fixture
def world(dbs: Session) -> World:
    return build_world(dbs)


@pytest.fixture
def store(app: Flask) -> Store:
    return get_store(app)


def sign_in(
    client: FlaskClient, idp: PortalIdP, email: str, account: str, groups: tuple[str, ...] = ()
) -> TestResponse:
    """A real signed SAML sign-in, with the IdP's `groups` attribute when given."""
    request_id = idp.start(client)
    spec = idp.spec(email=email, account=account, in_response_to=request_id)
    if groups:
        spec.attributes["groups"] = list(groups)
    return idp.post(client, idp.response_xml(spec))


@pytest.fixture
def it_client(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    """Vendor IT: signed in with the IT group, in the vendor's own account."""
    client = https_client(app)
    sign_in(client, idp, "it@vendor.example", "VENDOR-1", (IT_GROUP,))
    return client


@pytest.fixture
def admin_client(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    """A customer org admin (permission `admin`), with no IT group."""
    client = https_client(app)
    sign_in(client, idp, "ada@ready.example", "100001", ("customer-admins",))
    return client


@pytest.fixture
def user_client(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    client = https_client(app)
    sign_in(client, idp, "pat@ready.example", "100001")
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
