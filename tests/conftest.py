"""Shared fixtures: the app on real PostgreSQL and Redis (or SQLite and the embedded
store), a test IdP with its own keys, and a clean database for every test.

GATEWAY_TEST_DATABASE_URL and GATEWAY_TEST_REDIS_URL pick the servers; `make test`
sets them. When set, they must be reachable: the suite stops rather than skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway import create_app
from gateway.core import db
from gateway.core.models import Base
from gateway.core.settings import Settings
from gateway.core.store import Store, get_store
from gateway.devidp.keys import SigningKey, generate_signing_key
from gateway.sso.config import write_saml_dir
from tests.mailserver import MailServer
from tests.saml_idp import IDP_ENTITY_ID, IDP_SLO_URL, IDP_SSO_URL, PortalIdP
from tests.world import World, build_world

BASE_URL = "https://sso.test"
SECRET = "test-secret-key-that-is-long-enough-0123456789"
DATABASE_URL = os.environ.get("GATEWAY_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")


def pytest_report_header() -> list[str]:
    return [
        f"database: {DATABASE_URL or 'SQLite (GATEWAY_TEST_DATABASE_URL unset)'}",
        f"shared store: {REDIS_URL or 'embedded (GATEWAY_TEST_REDIS_URL unset)'}",
    ]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests with the portal IdP are answered by pysaml2, which needs Debian's xmlsec1:
    scripts/test deselects them (and says so) where it is missing."""
    for item in items:
        if "idp" in getattr(item, "fixturenames", ()) or "/interop/" in item.nodeid:
            item.add_marker(pytest.mark.needs_xmlsec1)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrated once per run; a configured server that does not answer stops the run."""
    url = DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'gateway.db'}"
    if DATABASE_URL:
        engine = db.make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        except Exception as error:  # noqa: BLE001 - any failure to reach it is fatal
            pytest.exit(f"GATEWAY_TEST_DATABASE_URL is set but unusable: {error}", returncode=3)
        finally:
            engine.dispose()
    db.upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    if REDIS_URL:
        try:
            redis.Redis.from_url(REDIS_URL).ping()
        except redis.RedisError as error:
            pytest.exit(f"GATEWAY_TEST_REDIS_URL is set but unreachable: {error}", returncode=3)
    return REDIS_URL


@pytest.fixture(scope="session")
def idp_key() -> SigningKey:
    return generate_signing_key("portal.test test IdP")


@pytest.fixture(scope="session")
def saml_dir(tmp_path_factory: pytest.TempPathFactory, idp_key: SigningKey) -> Path:
    folder = tmp_path_factory.mktemp("saml")
    write_saml_dir(
        folder,
        idp_entity_id=IDP_ENTITY_ID,
        idp_sso_url=IDP_SSO_URL,
        idp_slo_url=IDP_SLO_URL,
        idp_cert_base64=idp_key.cert_base64,
    )
    return folder


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Tests override this to change one setting."""
    return {}


@pytest.fixture
def settings(
    database_url: str, redis_url: str | None, saml_dir: Path, settings_overrides: dict[str, object]
) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "saml_dir": saml_dir,
        "secret_key": SECRET,
        "base_url": BASE_URL,
        "signin_rate_limit": "1000/minute",
        "credential_failure_rate_limit": "1000/minute",
        # Tests drive the scheduler and the health probes themselves, with a fixed clock.
        "scheduler_enabled": False,
        "health_check_enabled": False,
        "mail_delivery_enabled": False,  # tests call deliver_due themselves
        "renewal_reminders_enabled": False,  # tests call send_due_reminders themselves
        # In-process tests run their own concurrency; tests/ops/test_admission.py and the
        # gunicorn-based tests check the shipped limit.
        "active_requests": 0,
    }
    values.update(settings_overrides)
    return Settings(**values)  # type: ignore[arg-type]


class HttpsClient(FlaskClient):
    """Speaks to the app as browsers do: over https at BASE_URL, so Secure cookies
    and Flask-WTF's https Referer check behave as in production."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("base_url", BASE_URL)
        return super().open(*args, **kwargs)


def make_app(settings: Settings, demo: Any = None) -> Flask:
    app = create_app(settings, demo=demo)
    app.config["TESTING"] = True
    app.test_client_class = HttpsClient
    return app


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = make_app(settings)
    yield app
    _reset(app)


def _reset(app: Flask) -> None:
    engine = db.engine_of(app)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    app.extensions["store"].flushdb()
    engine.dispose()


def https_client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return https_client(app)


@pytest.fixture
def dbs(app: Flask) -> Iterator[Session]:
    session = db.new_session(app)
    yield session
    session.close()


@pytest.fixture
def store(app: Flask) -> Store:
    return get_store(app)


@pytest.fixture
def world(dbs: Session) -> World:
    """The sample directory (tests/world.py); tests add what else they need with factories."""
    return build_world(dbs)


@pytest.fixture
def idp(idp_key: SigningKey) -> PortalIdP:
    return PortalIdP(idp_key, BASE_URL)


@pytest.fixture
def smtp_server() -> Iterator[MailServer]:
    """A real SMTP server on loopback (aiosmtpd): `.url` for GATEWAY_SMTP_URL, `.messages`."""
    with MailServer.running() as server:
        yield server
