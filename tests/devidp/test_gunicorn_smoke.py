"""gunicorn with our config serves a real signed SAML sign-in.

This is the check that lxml and xmlsec share one libxml2 inside a gunicorn worker
(mismatched builds only fail at run time), and that gunicorn.conf.py starts.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import requests

from gateway.core import db
from gateway.core.models import Account
from gateway.devidp.keys import SigningKey
from gateway.devidp.saml_response import encode
from gateway.sso.config import write_saml_dir
from tests.saml_idp import IDP_ENTITY_ID, IDP_SLO_URL, IDP_SSO_URL, PortalIdP, authn_request_id

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_healthy(base_url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode} before answering")
        try:
            if requests.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or the worker still booting
            time.sleep(0.1)  # polling interval, bounded by the deadline
    pytest.fail(f"gunicorn did not answer /healthz within {STARTUP_SECONDS}s")


@pytest.fixture
def gunicorn(tmp_path: Path, idp_key: SigningKey) -> Iterator[tuple[str, Path]]:
    """A one-worker gunicorn on a free loopback port, on a fresh SQLite file."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    saml_dir = tmp_path / "saml"
    write_saml_dir(
        saml_dir,
        idp_entity_id=IDP_ENTITY_ID,
        idp_sso_url=IDP_SSO_URL,
        idp_slo_url=IDP_SLO_URL,
        idp_cert_base64=idp_key.cert_base64,
    )
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            Account.__table__.insert().values(account_number="SMOKE-1", name="Smoke")
        )
    engine.dispose()
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")
    }
    environment.update(
        {
            "PORT": str(port),
            "GATEWAY_BIND_HOST": "127.0.0.1",
            "GATEWAY_WORKERS": "1",
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_SAML_DIR": str(saml_dir),
            "GATEWAY_BASE_URL": base_url,
            "GATEWAY_SECRET_KEY": secrets.token_urlsafe(48),
        }
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and config
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_healthy(base_url, server)
            yield base_url, log_path
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_signed_signin_under_gunicorn(gunicorn: tuple[str, Path], idp_key: SigningKey) -> None:
    gunicorn_url, log_path = gunicorn
    idp = PortalIdP(idp_key, gunicorn_url)
    with requests.Session() as browser:
        start = browser.get(f"{gunicorn_url}/saml/login", allow_redirects=False, timeout=10)
        assert start.status_code == 302
        request_id = authn_request_id(start.headers["Location"])
        spec = idp.spec(email="smoke@example.com", account="SMOKE-1", in_response_to=request_id)
        form = {"SAMLResponse": encode(idp.response_xml(spec))}
        reply = browser.post(
            f"{gunicorn_url}/saml/acs", data=form, allow_redirects=False, timeout=10
        )
        assert reply.status_code == 302, reply.text
        assert "switchyard_session" in browser.cookies
        me = browser.get(f"{gunicorn_url}/api/v1/me", timeout=10).json()
        assert me["email"] == "smoke@example.com"
    access = [
        json.loads(line) for line in log_path.read_text().splitlines() if '"http.access"' in line
    ]
    assert {(entry["path"], entry["status"]) for entry in access} >= {
        ("/healthz", 200),
        ("/saml/login", 302),
        ("/saml/acs", 302),
    }
