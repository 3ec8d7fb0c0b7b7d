"""Everything else a browser can reach, anonymous and signed in: the landing pages
and their `next`, an invitation link with any token, and any path under any prefix
the gateway serves, with any method (a 404 or 405 page, never a 500)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.badinput.harness import answered_safely, fuzz
from tests.badinput.strategies import any_text, query_params, value_text
from tests.world import World

LANDING = ["/", "/route", "/choose", "/notice", "/no-access", "/no-entitlements", "/unavailable"]
PREFIXES = [
    "/",
    "/api/v1/",
    "/api/v1/accounts/100001/",
    "/it/",
    "/it/lines/",
    "/org/",
    "/org/users/",
    "/org/accounts/100001/",
    "/oidc/",
    "/saml/",
    "/scim/v2/",
    "/sso/oidc/",
    "/static/",
    "/renewals/",
    "/.well-known/",
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


def test_landing_pages_take_any_query(
    app: Flask, client: FlaskClient, user_client: FlaskClient, world: World
) -> None:
    @fuzz(examples=100)
    @given(
        signed_in=st.booleans(),
        path=st.sampled_from(LANDING),
        query=query_params(["next", "system", "line"]),
    )
    def landing(signed_in: bool, path: str, query: list[tuple[str, str]]) -> None:
        browser = user_client if signed_in else client
        answered_safely(app, lambda: browser.get(path, query_string=MultiDict(query)))

    landing()


def test_invitation_links_refuse_any_token_cleanly(
    app: Flask, client: FlaskClient, user_client: FlaskClient, world: World
) -> None:
    @fuzz(examples=60)
    @given(signed_in=st.booleans(), method=st.sampled_from(["GET", "POST"]), token=value_text)
    def invitation(signed_in: bool, method: str, token: str) -> None:
        browser = user_client if signed_in else client
        path = "/org/invitations/" + quote(token, safe="")
        answered_safely(app, lambda: browser.open(path, method=method))

    invitation()


def test_any_path_with_any_method_is_answered(
    app: Flask, client: FlaskClient, it_client: FlaskClient, world: World
) -> None:
    @fuzz(examples=100)
    @given(
        signed_in=st.booleans(),
        method=st.sampled_from(METHODS),
        prefix=st.sampled_from(PREFIXES),
        rest=st.lists(any_text, max_size=3).map(
            lambda parts: "/".join(quote(p, safe="") for p in parts)
        ),
    )
    def anything(signed_in: bool, method: str, prefix: str, rest: str) -> None:
        browser = it_client if signed_in else client
        answered_safely(app, lambda: browser.open(prefix + rest, method=method))

    anything()
