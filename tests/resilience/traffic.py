"""Light, mixed traffic from threads, every request timed and its answer kept.

What users do: sign in (a real signed SAML response, IdP-initiated, a new user each
time), follow routing (`GET /route` with their session cookie), ask who they are
(`GET /api/v1/me`, which must always name themselves or be a 401), an organisation's
script reads its users and invites people with an account token (bearer); the load
balancer asks `/healthz` and `/readyz` of every instance.

Each request becomes a Sample; scenarios judge them against the fault's window.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import requests

from gateway.devidp.keys import SigningKey
from gateway.devidp.saml_response import ResponseSpec, build_response

IDP_ENTITY_ID = "https://portal.resilience/idp"
SESSION_COOKIE = "switchyard_session"
REQUEST_TIMEOUT = 15.0  # a client that waited this long saw a hang
# The answers that are right whatever the fault: what each kind of request may get.
GOOD = {
    "signin": {302},
    "route": {302},
    "me": {200, 401},
    "users_api": {200},
    "invite": {201},
    "healthz": {200},
    "readyz": {200},
}
USER_FACING = ("signin", "route", "me", "users_api", "invite")


@dataclass
class Sample:
    kind: str
    target: str
    started: float
    seconds: float
    status: int | None = None
    error: str | None = None  # "timeout", "refused", "reset" when no answer came
    own_503: bool = False  # the gateway's own "temporarily unavailable" answer
    body: str = ""

    @property
    def answer(self) -> str:
        return str(self.status) if self.status is not None else (self.error or "?")

    @property
    def good(self) -> bool:
        return self.status in GOOD[self.kind]


@dataclass
class Account:
    number: str
    token: str  # an account token with scope users


@dataclass
class Browser:
    """One person's browser: signed in as itself, with its own session cookie."""

    email: str
    account: str
    cookie: str | None = None
    wrong_person: list[str] = field(default_factory=list)


class Targets:
    """Round robin over the instances' base URLs (or one URL: nginx)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self._cycle = itertools.cycle(range(len(self.urls)))
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return self.urls[next(self._cycle)]


def signed_response(key: SigningKey, base_url: str, email: str, account: str) -> str:
    spec = ResponseSpec(
        issuer=IDP_ENTITY_ID,
        audience=f"{base_url}/saml/metadata",
        destination=f"{base_url}/saml/acs",
        name_id=f"portal-{email}",
        attributes={
            "email": [email],
            "firstName": ["Resilience"],
            "lastName": ["Tester"],
            "accountId": [account],
        },
        lifetime=timedelta(minutes=5),
    )
    return base64.b64encode(build_response(spec, key).encode()).decode()


class Traffic:
    """Threads sending paced requests until `stop`; every answer is a Sample."""

    def __init__(
        self,
        targets: Targets,
        *,
        key: SigningKey,
        public_url: str,
        accounts: Sequence[Account],
        probe_urls: Sequence[str],
        browsers: int = 10,
        rate: float = 20.0,
        writes: bool = True,
    ) -> None:
        self.targets = targets
        self.key = key
        self.public_url = public_url
        self.accounts = list(accounts)
        self.probe_urls = list(probe_urls)
        self.rate = rate
        self.writes = writes
        self.samples: list[Sample] = []
        self.browsers = [
            Browser(
                f"resil-{uuid.uuid4().hex[:12]}@example.org",
                self.accounts[i % len(accounts)].number,
            )
            for i in range(browsers)
        ]
        self.signed_in: list[str] = []  # emails whose sign-in was answered 302
        self.invited: list[str] = []  # emails whose invitation was answered 201
        self.attempted_invites: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._counter = itertools.count()

    # --- one request -----------------------------------------------------------------
    def _send(
        self,
        kind: str,
        method: str,
        url: str,
        target: str,
        *,
        check: Callable[[requests.Response], None] | None = None,
        **options: Any,
    ) -> requests.Response | None:
        started = time.monotonic()
        sample = Sample(kind, target, started, 0.0)
        reply: requests.Response | None = None
        try:
            reply = requests.request(
                method, url, timeout=REQUEST_TIMEOUT, allow_redirects=False, **options
            )
            sample.status = reply.status_code
            if reply.status_code == 503:
                text = reply.text
                sample.own_503 = "temporarily unavailable" in text.lower() or (
                    kind == "readyz" and '"failing"' in text
                )
                sample.body = text[:300]
            elif kind == "readyz" or reply.status_code >= 500:
                sample.body = reply.text[:300]
            if check is not None:
                check(reply)
        except requests.Timeout:
            sample.error = "timeout"
        except requests.ConnectionError as error:
            sample.error = "refused" if "refused" in str(error).lower() else "reset"
        sample.seconds = time.monotonic() - started
        self.samples.append(sample)
        return reply

    def sign_in(self, browser: Browser) -> None:
        target = self.targets.next()
        encoded = signed_response(self.key, self.public_url, browser.email, browser.account)
        reply = self._send(
            "signin", "POST", f"{target}/saml/acs", target, data={"SAMLResponse": encoded}
        )
        if reply is not None and reply.status_code == 302 and SESSION_COOKIE in reply.cookies:
            browser.cookie = reply.cookies[SESSION_COOKIE]
            self.signed_in.append(browser.email)

    def _route(self, browser: Browser) -> None:
        target = self.targets.next()
        reply = self._send(
            "route", "GET", f"{target}/route", target, cookies=self._cookies(browser)
        )
        if reply is not None and "/login" in reply.headers.get("Location", ""):
            browser.cookie = None  # the session is gone: sign in again

    def _me(self, browser: Browser) -> None:
        target = self.targets.next()

        def names_itself(reply: requests.Response) -> None:
            if reply.status_code == 200:
                email = reply.json().get("email")
                if email != browser.email:
                    browser.wrong_person.append(f"{browser.email} was answered as {email}")
            elif reply.status_code == 401:
                browser.cookie = None

        self._send(
            "me",
            "GET",
            f"{target}/api/v1/me",
            target,
            cookies=self._cookies(browser),
            headers={"Accept": "application/json"},
            check=names_itself,
        )

    @staticmethod
    def _cookies(browser: Browser) -> dict[str, str]:
        return {SESSION_COOKIE: browser.cookie} if browser.cookie else {}

    # --- the threads ---------------------------------------------------------------
    def _pace(self, per_second: float) -> bool:
        """Wait one interval (or until stopped); False once stopped."""
        return not self._stop.wait(1.0 / per_second)

    def _browse(self, browser: Browser) -> None:
        per_browser = max(0.5, self.rate * 0.6 / len(self.browsers))
        for step in itertools.count():
            if browser.cookie is None:
                self.sign_in(browser)
            elif step % 2:
                self._me(browser)
            else:
                self._route(browser)
            if not self._pace(per_browser):
                return

    def _read_users(self) -> None:
        account = self.accounts[0]
        while self._pace(max(0.5, self.rate * 0.1)):
            target = self.targets.next()
            self._send(
                "users_api",
                "GET",
                f"{target}/api/v1/accounts/{account.number}/users",
                target,
                headers={"Authorization": f"Bearer {account.token}"},
            )

    def _invite(self) -> None:
        account = self.accounts[0]
        while self._pace(max(0.5, self.rate * 0.1)):
            target = self.targets.next()
            email = f"invitee-{next(self._counter)}-{uuid.uuid4().hex[:8]}@example.org"
            self.attempted_invites.append(email)
            reply = self._send(
                "invite",
                "POST",
                f"{target}/api/v1/accounts/{account.number}/invitations",
                target,
                headers={"Authorization": f"Bearer {account.token}"},
                json={"email": email, "permissions": ["portal"]},
            )
            if reply is not None and reply.status_code == 201:
                self.invited.append(email)

    def _new_people(self) -> None:
        """Someone new signs in now and then: users written during the fault."""
        while self._pace(max(0.5, self.rate * 0.1)):
            account = self.accounts[next(self._counter) % len(self.accounts)].number
            self.sign_in(Browser(f"new-{uuid.uuid4().hex[:12]}@example.org", account))

    def _probe(self, kind: str, url: str) -> None:
        """The load balancer's checks: one thread per check and instance, so a slow
        /readyz does not delay the /healthz beside it."""
        while self._pace(5.0):
            self._send(kind, "GET", f"{url}/{kind}", url)

    def start(self) -> None:
        for browser in self.browsers:
            self.sign_in(browser)
        workers: list[Callable[[], None]] = [self._read_users]
        for url in self.probe_urls:
            for kind in ("healthz", "readyz"):
                workers.append(lambda k=kind, u=url: self._probe(k, u))  # type: ignore[misc]
        if self.writes:
            workers += [self._invite, self._new_people]
        workers += [lambda b=b: self._browse(b) for b in self.browsers]  # type: ignore[misc]
        for work in workers:
            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)

    # --- what happened ---------------------------------------------------------------
    def between(self, start: float, end: float, kinds: Sequence[str] = USER_FACING) -> list[Sample]:
        return [s for s in self.samples if start <= s.started < end and s.kind in kinds]

    def wrong_people(self) -> list[str]:
        return [line for browser in self.browsers for line in browser.wrong_person]
