"""Two real gunicorn instances sharing PostgreSQL and Redis behave as one gateway: a
sign-in may start on one and finish on the other, a response accepted by one is refused
by the other, and a session (and its end) is the same on both."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
import requests
from sqlalchemy.orm import Session

from gateway.core.models import Account
from gateway.devidp.keys import SigningKey
from gateway.devidp.saml_response import encode
from tests.devidp.test_gunicorn_smoke import ROOT, _free_port, _wait_until_healthy
from tests.forms import csrf_token
from tests.saml_idp import PortalIdP, authn_request_id

pytestmark = pytest.mark.shared_store
ACCOUNT = "MULTI-1"
EMAIL = "multi@example.com"


@dataclass(frozen=True)
class Instances:
    """Two gateway instances behind one public URL (A's address stands in for the LB)."""

    a: str
    b: str
    public_url: str


@pytest.fixture(scope="module")
def instances(
    database_url: str,
    redis_url: str | None,
    saml_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Instances]:
    if redis_url is None:
        pytest.skip("several instances need a shared Redis; set GATEWAY_TEST_REDIS_URL")
    ports = (_free_port(), _free_port())
    public_url = f"http://127.0.0.1:{ports[0]}"
    logs = tmp_path_factory.mktemp("instances")
    with ExitStack() as stack:
        servers = []
        for port in ports:
            log = stack.enter_context((logs / f"gunicorn-{port}.log").open("wb"))
            server = _start(port, public_url, database_url, redis_url, saml_dir, log)
            stack.callback(server.wait, timeout=30)
            stack.callback(server.terminate)
            servers.append(server)
        for server, port in zip(servers, ports, strict=True):
            _wait_until_healthy(f"http://127.0.0.1:{port}", server)
        yield Instances(f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", public_url)


def _start(
    port: int, public_url: str, database_url: str, redis_url: str, saml_dir: Path, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment.update(
        {
            "PORT": str(port),
            "GATEWAY_BIND_HOST": "127.0.0.1",
            "GATEWAY_WORKERS": "1",
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_REDIS_URL": redis_url,
            "GATEWAY_SAML_DIR": str(saml_dir),
            "GATEWAY_BASE_URL": public_url,
            "GATEWAY_SECRET_KEY": SHARED_SECRET,
            "GATEWAY_SIGNIN_RATE_LIMIT": "1000/minute",
            "GATEWAY_SCHEDULER_ENABLED": "false",
            "GATEWAY_HEALTH_CHECK_ENABLED": "false",
        }
    )
    return subprocess.Popen(  # noqa: S603 - our own interpreter and config
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


SHARED_SECRET = secrets.token_urlsafe(48)


@pytest.fixture
def account(dbs: Session) -> Account:
    row = Account(account_number=ACCOUNT, name="Multi")
    dbs.add(row)
    dbs.commit()
    return row


def _response_form(idp: PortalIdP, request_id: str) -> dict[str, str]:
    spec = idp.spec(email=EMAIL, account=ACCOUNT, in_response_to=request_id)
    return {"SAMLResponse": encode(idp.response_xml(spec))}


def _start_signin(browser: requests.Session, instance: str) -> str:
    start = browser.get(f"{instance}/saml/login", allow_redirects=False, timeout=10)
    assert start.status_code == 302
    return authn_request_id(start.headers["Location"])


def _post(browser: requests.Session, instance: str, form: dict[str, str]) -> requests.Response:
    return browser.post(f"{instance}/saml/acs", data=form, allow_redirects=False, timeout=10)


def _me(browser: requests.Session, instance: str) -> int:
    return browser.get(f"{instance}/api/v1/me", timeout=10).status_code


def test_signin_started_on_a_completes_on_b_and_replay_on_b_is_refused(
    instances: Instances, idp_key: SigningKey, account: Account
) -> None:
    idp = PortalIdP(idp_key, instances.public_url)
    with requests.Session() as browser, requests.Session() as attacker:
        form = _response_form(idp, _start_signin(browser, instances.a))
        assert _post(browser, instances.b, form).status_code == 302
        assert _me(browser, instances.b) == 200
        replayed = _post(attacker, instances.a, form)
        assert replayed.status_code == 400 and "already been used" in replayed.text
        assert _me(attacker, instances.b) == 401


def test_response_accepted_on_a_is_refused_on_b(
    instances: Instances, idp_key: SigningKey, account: Account
) -> None:
    idp = PortalIdP(idp_key, instances.public_url)
    with requests.Session() as browser, requests.Session() as attacker:
        form = _response_form(idp, _start_signin(browser, instances.a))
        assert _post(browser, instances.a, form).status_code == 302
        replayed = _post(attacker, instances.b, form)
        assert replayed.status_code == 400 and "already been used" in replayed.text


def test_session_from_a_is_valid_on_b_and_logout_on_b_ends_it_on_a(
    instances: Instances, idp_key: SigningKey, account: Account
) -> None:
    idp = PortalIdP(idp_key, instances.public_url)
    with requests.Session() as browser:
        form = _response_form(idp, _start_signin(browser, instances.a))
        assert _post(browser, instances.a, form).status_code == 302
        assert _me(browser, instances.a) == 200
        assert _me(browser, instances.b) == 200  # the cookie jar ignores ports, as browsers do
        page = browser.get(f"{instances.b}/logout", timeout=10).text
        token = csrf_token(page)
        browser.post(
            f"{instances.b}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10
        )
        assert _me(browser, instances.a) == 401
