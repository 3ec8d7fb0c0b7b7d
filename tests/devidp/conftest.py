"""Fixtures for the development IdP: the demo app on the test database, with sample data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core import db
from gateway.core.settings import Settings
from gateway.devidp.idp import DemoConfig, prepare_saml_dir
from gateway.devidp.keys import SigningKey, generate_signing_key
from gateway.devidp.sample import load_sample_users, seed_sample
from tests.conftest import BASE_URL, _reset, make_app
from tests.forms import csrf_token

LEGACY_URL = "https://legacy.licenses.test"
NEW_URL = "https://new.licenses.test"


@pytest.fixture(scope="session")
def demo_key() -> SigningKey:
    return generate_signing_key("Switchyard development IdP (tests)")


@pytest.fixture(scope="session")
def saml_dir(tmp_path_factory: pytest.TempPathFactory, demo_key: SigningKey) -> Path:
    """Here the gateway trusts the development IdP instead of the tests' portal IdP."""
    folder = tmp_path_factory.mktemp("demo-saml")
    prepare_saml_dir(folder, BASE_URL, demo_key)
    return folder


@pytest.fixture
def demo_config(demo_key: SigningKey) -> DemoConfig:
    return DemoConfig(
        signing_key=demo_key, users=load_sample_users(), system_origins=(LEGACY_URL, NEW_URL)
    )


@pytest.fixture
def demo_app(settings: Settings, demo_config: DemoConfig) -> Iterator[Flask]:
    app = make_app(settings, demo=demo_config)
    yield app
    _reset(app)


@pytest.fixture
def demo_client(demo_app: Flask) -> FlaskClient:
    return demo_app.test_client()


@pytest.fixture
def demo_db(demo_app: Flask) -> Iterator[Session]:
    session = db.new_session(demo_app)
    yield session
    session.close()


@pytest.fixture
def seeded(demo_db: Session, tmp_path: Path) -> Session:
    """The sample directory imported, with the license centers at LEGACY_URL and NEW_URL."""
    seed_sample(demo_db, tmp_path / "sample", legacy_url=LEGACY_URL, new_url=NEW_URL)
    return demo_db


def hidden_field(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, page
    return match.group(1)


def sign_in_at_dev_idp(client: FlaskClient, email: str, next_target: str | None = None) -> str:
    """Start at /saml/login, pick `email` on the IdP page; the auto-post page's HTML."""
    query = {"next": next_target} if next_target else {}
    start = client.get("/saml/login", query_string=query)
    assert start.status_code == 302 and start.location.startswith(f"{BASE_URL}/dev-idp/sso?")
    page = client.get(start.location)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(html),
        "SAMLRequest": hidden_field(html, "SAMLRequest"),
        "RelayState": hidden_field(html, "RelayState"),
        "email": email,
    }
    answer = client.post("/dev-idp/sso", data=form, headers={"Referer": start.location})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def post_to_acs(client: FlaskClient, autopost_page: str) -> TestResponse:
    """What the browser does with the auto-submitting form."""
    action = re.search(r'<form method="post" action="([^"]+)" data-autosubmit', autopost_page)
    assert action, autopost_page
    form = {
        "SAMLResponse": hidden_field(autopost_page, "SAMLResponse"),
        "RelayState": hidden_field(autopost_page, "RelayState"),
    }
    return client.post(action.group(1), data=form)
