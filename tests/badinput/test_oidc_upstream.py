"""The upstream OpenID Connect relying party under hostile input: /sso/oidc/login's
query and /sso/oidc/callback's authorization response (code, state, iss, error and
random parameters), against the stand-in portal provider on loopback. Half the
callbacks carry the state of a sign-in this browser really started, so they get past
the state check to the code exchange and the checks after it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.badinput.conftest import UNLIMITED
from tests.badinput.harness import answered_safely, fuzz
from tests.badinput.strategies import query_params, value_text
from tests.sso.oidc.conftest import portal_settings
from tests.sso.portal_op import PortalOP, serve_portal
from tests.sso.test_upstream_oidc import USER
from tests.world import World

CALLBACK_PARAMS = ["code", "state", "iss", "error", "error_description", "session_state"]


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalOP]:
    with serve_portal() as op:
        yield op


@pytest.fixture
def op(portal: PortalOP) -> Iterator[PortalOP]:
    portal.reset({**USER, "account_number": "100001", "email": "pat@ready.example"})
    yield portal
    portal.released.set()


@pytest.fixture
def settings_overrides(op: PortalOP) -> dict[str, object]:
    return {
        **portal_settings(op),
        "signin_rate_limit": UNLIMITED,
        "credential_failure_rate_limit": UNLIMITED,
    }


def started_state(client: FlaskClient) -> str:
    began = client.get("/sso/oidc/login")
    assert began.status_code == 302, began.get_data(as_text=True)
    return parse_qs(urlsplit(began.location).query)["state"][0]


def portal_answer(client: FlaskClient) -> dict[str, str]:
    """A real authorization response from the stand-in for a sign-in just started."""
    began = client.get("/sso/oidc/login")
    answer = requests.get(began.location, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def test_login_takes_any_query(app: Flask, client: FlaskClient, op: PortalOP, world: World) -> None:
    @fuzz(examples=60)
    @given(
        path=st.sampled_from(["/login", "/sso/oidc/login"]), query=query_params(["next", "fresh"])
    )
    def login(path: str, query: list[tuple[str, str]]) -> None:
        answered_safely(app, lambda: client.get(path, query_string=MultiDict(query)))

    login()


def test_the_callback_refuses_any_answer_cleanly(
    app: Flask, client: FlaskClient, op: PortalOP, world: World
) -> None:
    @fuzz(examples=100)
    @given(
        start=st.sampled_from(["none", "state", "real"]),
        replaced=st.dictionaries(st.sampled_from(CALLBACK_PARAMS), value_text, max_size=3),
        dropped=st.sets(st.sampled_from(CALLBACK_PARAMS), max_size=2),
        extra=query_params(CALLBACK_PARAMS),
    )
    def callback(
        start: str,
        replaced: dict[str, str],
        dropped: set[str],
        extra: list[tuple[str, str]],
    ) -> None:
        query: dict[str, str] = {}
        if start == "state":
            query = {"state": started_state(client), "iss": op.issuer, "code": "made-up"}
        elif start == "real":
            query = portal_answer(client)
        query.update(replaced)
        for name in dropped:
            query.pop(name, None)
        pairs = list(query.items()) + extra
        answered_safely(
            app, lambda: client.get("/sso/oidc/callback", query_string=MultiDict(pairs))
        )

    callback()
