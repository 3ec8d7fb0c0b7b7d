"""Cookies and headers under hostile input: any session and SAML-binding cookie, and
any Accept, Content-Type, Authorization, Host-like and forwarding header, on the
pages and APIs a browser or a client reaches first, signed in and not."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from gateway.app import SESSION_COOKIE
from gateway.sso.binding import BINDING_COOKIE
from tests.badinput.harness import answered_safely, fuzz
from tests.badinput.strategies import header_safe, headers_of, value_text
from tests.conftest import BASE_URL
from tests.world import World

PATHS = [
    "/",
    "/login",
    "/saml/login",
    "/entitlements",
    "/org/",
    "/it/",
    "/api/v1/me",
    "/api/v1/me/entitlements",
    "/api/v1/product-lines",
    "/scim/v2/Users",
    "/oidc/userinfo",
    "/oidc/authorize",
    "/healthz",
]
HEADERS = [
    "Accept",
    "Accept-Language",
    "Authorization",
    "Content-Type",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Request-Id",
    "Referer",
    "Origin",
    "If-None-Match",
    "Range",
]
cookie_values = st.one_of(
    value_text.map(lambda text: header_safe(text)[:3000]),
    st.sampled_from(["", "x" * 3900, '"', ";"]),
)


def test_any_cookie_and_header_is_answered(
    app: Flask, client: FlaskClient, user_client: FlaskClient, world: World
) -> None:
    session = user_client.get_cookie(SESSION_COOKIE, domain="sso.test")
    assert session is not None
    real = session.value

    @fuzz(examples=100)
    @given(
        path=st.sampled_from(PATHS),
        session_cookie=st.one_of(
            st.none(), cookie_values, st.integers(0, len(real)).map(lambda cut: real[:cut])
        ),
        binding_cookie=st.one_of(st.none(), cookie_values),
        headers=headers_of(HEADERS),
    )
    def request(
        path: str,
        session_cookie: str | None,
        binding_cookie: str | None,
        headers: dict[str, str],
    ) -> None:
        # A raw Cookie header, as a script can send one (the test client would quote it).
        cookies = [
            f"{name}={value}"
            for name, value in ((SESSION_COOKIE, session_cookie), (BINDING_COOKIE, binding_cookie))
            if value is not None
        ]
        sent = {**headers, "Cookie": "; ".join(cookies)} if cookies else headers
        browser = app.test_client(use_cookies=False)
        answered_safely(app, lambda: browser.get(path, base_url=BASE_URL, headers=sent))

    request()
