"""panva's oidc-provider (OpenID Certified) as the community portal, on loopback.

`run_provider` starts tests/interop/oidc-provider/server.mjs with Node.js and yields
its issuer; `PortalBrowser` is a person's browser there: it follows the provider's
redirects and fills in its login form, and hands back the redirect to our callback.
The packages come from the committed package-lock.json (`npm ci`, which scripts/test
runs when they are missing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from tests.sso.portal_op import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

PEER_DIR = Path(__file__).parent / "oidc-provider"
MISSING = (
    "The interop tests need Node.js and the provider's packages: "
    "run `npm ci --no-audit --no-fund` in tests/interop/oidc-provider (scripts/test does)."
)


@contextmanager
def run_provider(
    accounts: Mapping[str, Mapping[str, Any]],
    *,
    claims_parameter: bool = True,
    userinfo_subject: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run the provider until the block ends; its issuer URL."""
    node = shutil.which("node")
    if node is None or not (PEER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(MISSING)
    settings = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
        "accounts": accounts,
        "claims_parameter": claims_parameter,
        "userinfo_subject": dict(userinfo_subject or {}),
    }
    environment = {**os.environ, "INTEROP_PROVIDER_SETTINGS": json.dumps(settings)}
    process = subprocess.Popen(  # noqa: S603 - our own script, no shell
        [node, "server.mjs"],
        cwd=PEER_DIR,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        first_line = process.stdout.readline()
        if not first_line.startswith("listening "):
            pytest.fail(f"oidc-provider did not start: {first_line!r}")
        yield first_line.split(" ", 1)[1].strip()
    finally:
        process.stdin.close()  # the server exits when its standard input ends
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


class _FormParser(HTMLParser):
    """The first form on a page: its action and its hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = named.get("action", "")
        elif tag == "input" and named.get("type") == "hidden" and "name" in named:
            self.hidden[named["name"]] = named.get("value", "")


@dataclass
class PortalBrowser:
    """A person's browser at the portal (its cookies are the portal's session)."""

    http: requests.Session = field(default_factory=requests.Session)
    prompts: list[str] = field(default_factory=list)  # the pages the person was shown

    def authorize(self, url: str, login: str) -> str:
        """Follow the authorization request to the redirect back to us; sign in as
        `login` when the portal asks. The callback URL, not yet visited."""
        for _ in range(10):
            answer = self.http.get(url, allow_redirects=False, timeout=10)
            if answer.status_code == 200 and "<form" in answer.text:
                answer = self.submit(url, answer.text, login)
            assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
            url = urljoin(url, answer.headers["Location"])
            if url.startswith(REDIRECT_URI):
                return url
        raise AssertionError("the portal kept redirecting")

    def submit(self, page_url: str, page: str, login: str) -> requests.Response:
        form = _FormParser()
        form.feed(page)
        assert form.action, page[:500]
        prompt = form.hidden.get("prompt", "")
        self.prompts.append(prompt)
        fields = {**form.hidden, "login": login, "password": "any password"}
        target = urljoin(page_url, form.action)
        return self.http.post(target, data=fields, allow_redirects=False, timeout=10)
