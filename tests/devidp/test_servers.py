"""`gateway demo`'s servers: real sockets, started and stopped in-process, twice on one
instance folder (re-running the demo must work)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import requests
from sqlalchemy import select

from gateway.core import db
from gateway.core.models import OAuthClient
from gateway.devidp.servers import DemoPorts, RunningDemo, public_url, start_demo


def registered_login_uris(running: RunningDemo) -> list[str | None]:
    with closing(db.new_session(running.gateway_app)) as session:
        rows = session.scalars(select(OAuthClient).order_by(OAuthClient.initiate_login_uri))
        return [row.initiate_login_uri for row in rows]


def test_demo_starts_twice_on_the_same_instance(tmp_path: Path) -> None:
    kids: list[str] = []
    for run in range(3):
        if run == 2:  # an instance made before the demo kept its secret key
            (tmp_path / "demo" / "secret_key").unlink()
        running = start_demo(tmp_path / "demo", "127.0.0.1", DemoPorts(0, 0, 0))
        try:
            health = requests.get(f"{running.gateway_url}/healthz", timeout=5)
            assert health.json()["status"] == "ok"
            # The signing key is readable: the same one after a plain restart.
            jwks = requests.get(f"{running.gateway_url}/oidc/jwks", timeout=5)
            assert jwks.status_code == 200
            kids.append(jwks.json()["keys"][0]["kid"])
            start = requests.get(
                f"{running.gateway_url}/saml/login", allow_redirects=False, timeout=5
            )
            assert start.headers["Location"].startswith(f"{running.gateway_url}/dev-idp/sso?")
            page = requests.get(start.headers["Location"], timeout=5)
            assert "Community portal (development IdP)" in page.text
            legacy = requests.get(f"{running.legacy_url}/start", timeout=5)
            assert "Legacy license center" in legacy.text and "Nobody is signed in" in legacy.text
            assert "New license center" in requests.get(running.new_url, timeout=5).text
            # One client per center, replaced at each start (the ports may change).
            assert registered_login_uris(running) == sorted(
                [f"{running.legacy_url}/oidc/login", f"{running.new_url}/oidc/login"]
            )
        finally:
            running.stop()
    assert (tmp_path / "demo" / "gateway.db").is_file()
    assert kids[0] == kids[1] != kids[2]


def test_public_url_names_a_reachable_address() -> None:
    assert public_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"  # noqa: S104
    assert public_url("localhost", 8001) == "http://localhost:8001"
    assert public_url("::1", 8002) == "http://[::1]:8002"
