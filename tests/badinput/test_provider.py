"""The OpenID provider the license centers trust, under hostile input: /oidc/authorize's
query (signed in and not), /oidc/token's form bodies with client authentication in
the header and in the body, /oidc/userinfo's Authorization header, /oidc/logout's
query, and discovery and JWKS. Some token requests carry a real authorization code of
a signed-in browser, so they get past the code lookup."""

from __future__ import annotations

import base64

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.badinput.harness import answered_safely, fuzz
from tests.badinput.strategies import header_safe, headers_of, huge_text, query_params, value_text
from tests.provider.conftest import AuthorizationAttempt, RelyingParty
from tests.world import World

AUTHORIZE_PARAMS = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "response_mode",
    "request",
    "request_uri",
    "claims",
    "acr_values",
    "ui_locales",
]
TOKEN_PARAMS = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "scope",
    "refresh_token",
]
GRANT_TYPES = [
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "password",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def authorization_header(rp: RelyingParty) -> st.SearchStrategy[str]:
    """Basic credentials of every quality, Bearer tokens, and nonsense."""
    pairs = st.tuples(
        st.one_of(st.just(rp.client_id), value_text),
        st.one_of(st.just(rp.client_secret), value_text),
    )
    basic = pairs.map(
        lambda pair: "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
    )
    raw = headers_of(["Authorization"]).map(lambda headers: headers.get("Authorization", ""))
    return st.one_of(
        basic,
        st.sampled_from(["Basic", "Basic ", "Basic\t", "Basic !!!", "Basic Og==", "Bearer x y"]),
        raw,
        value_text.map(lambda text: header_safe("Basic " + text)),
        st.binary(max_size=60).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
    )


def test_authorize_takes_any_query(
    app: Flask, client: FlaskClient, user_client: FlaskClient, rp: RelyingParty
) -> None:
    attempt = AuthorizationAttempt()
    good = rp.authorize_query(attempt)

    @fuzz(examples=100)
    @given(
        signed_in=st.booleans(),
        response_type=st.one_of(
            st.just("code"), st.sampled_from(["token", "code id_token", "none"]), value_text
        ),
        replaced=st.dictionaries(st.sampled_from(AUTHORIZE_PARAMS), value_text, max_size=3),
        dropped=st.sets(st.sampled_from(list(good)), max_size=2),
        extra=query_params(AUTHORIZE_PARAMS),
    )
    def authorize(
        signed_in: bool,
        response_type: str,
        replaced: dict[str, str],
        dropped: set[str],
        extra: list[tuple[str, str]],
    ) -> None:
        query = {**good, "response_type": response_type, **replaced}
        for name in dropped:
            query.pop(name, None)
        browser = user_client if signed_in else client
        pairs = list(query.items()) + extra
        answered_safely(app, lambda: browser.get("/oidc/authorize", query_string=MultiDict(pairs)))

    authorize()


def test_token_refuses_any_body_cleanly(
    app: Flask, client: FlaskClient, user_client: FlaskClient, rp: RelyingParty
) -> None:
    @fuzz(examples=100)
    @given(
        real_code=st.booleans(),
        grant_type=st.one_of(st.sampled_from(GRANT_TYPES), value_text),
        replaced=st.dictionaries(st.sampled_from(TOKEN_PARAMS), value_text, max_size=3),
        dropped=st.sets(st.sampled_from(TOKEN_PARAMS), max_size=2),
        authorization=st.one_of(st.none(), authorization_header(rp)),
        secret_in_body=st.booleans(),
        extra=query_params(TOKEN_PARAMS),
    )
    def token(
        real_code: bool,
        grant_type: str,
        replaced: dict[str, str],
        dropped: set[str],
        authorization: str | None,
        secret_in_body: bool,
        extra: list[tuple[str, str]],
    ) -> None:
        attempt = AuthorizationAttempt()
        form = {
            "grant_type": grant_type,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": attempt.verifier,
            "client_assertion_type": ASSERTION_TYPE,
        }
        if real_code:
            form["code"] = rp.code_from(rp.authorize(user_client, attempt), attempt)
        if secret_in_body:
            form.update(client_id=rp.client_id, client_secret=rp.client_secret)
        form.update(replaced)
        for name in dropped:
            form.pop(name, None)
        headers = {"Authorization": authorization} if authorization is not None else {}
        pairs = list(form.items()) + extra
        answered_safely(
            app,
            lambda: client.post("/oidc/token", data=MultiDict(pairs), headers=headers),
            # A valid request may still be made: a real code redeemed with good credentials.
            refused_changes_nothing=True,
        )

    token()


def test_token_takes_any_raw_body(app: Flask, client: FlaskClient, rp: RelyingParty) -> None:
    @fuzz(examples=60)
    @given(
        body=st.one_of(st.binary(max_size=300), huge_text.map(str.encode)),
        content_type=st.sampled_from(
            ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]
        ),
        authorization=st.one_of(st.none(), authorization_header(rp)),
    )
    def token(body: bytes, content_type: str, authorization: str | None) -> None:
        headers = {"Content-Type": content_type}
        if authorization is not None:
            headers["Authorization"] = authorization
        answered_safely(app, lambda: client.post("/oidc/token", data=body, headers=headers))

    token()


def test_userinfo_refuses_any_credentials_cleanly(
    app: Flask, client: FlaskClient, rp: RelyingParty, user_client: FlaskClient
) -> None:
    issued, _ = rp.sign_in_and_redeem(user_client)
    real = issued["access_token"]

    @fuzz(examples=100)
    @given(
        method=st.sampled_from(["GET", "POST"]),
        authorization=st.one_of(
            st.none(),
            headers_of(["Authorization"]).map(lambda headers: headers.get("Authorization", "")),
            value_text.map(lambda text: header_safe("Bearer " + text)),
            st.integers(0, len(real) - 1).map(lambda cut: "Bearer " + real[:cut]),
            st.just("Bearer " + real),
            st.just("bearer " + real + " extra"),
        ),
        form=query_params(["access_token"]),
    )
    def userinfo(method: str, authorization: str | None, form: list[tuple[str, str]]) -> None:
        headers = {"Authorization": authorization} if authorization is not None else {}
        data = MultiDict(form) if method == "POST" else None
        answered_safely(
            app, lambda: client.open("/oidc/userinfo", method=method, headers=headers, data=data)
        )

    userinfo()


def test_logout_and_discovery_take_any_query(
    app: Flask, client: FlaskClient, user_client: FlaskClient, rp: RelyingParty, world: World
) -> None:
    issued, _ = rp.sign_in_and_redeem(user_client)
    hint = issued["id_token"]

    @fuzz(examples=100)
    @given(
        path=st.sampled_from(
            ["/oidc/logout", "/oidc/logout", "/.well-known/openid-configuration", "/oidc/jwks"]
        ),
        hint=st.one_of(
            st.none(),
            value_text,
            st.just(hint),
            st.integers(0, len(hint)).map(lambda cut: hint[:cut]),
            st.just(hint[:-3] + "AAA"),
        ),
        query=query_params(["post_logout_redirect_uri", "state", "client_id", "ui_locales"]),
    )
    def logout(path: str, hint: str | None, query: list[tuple[str, str]]) -> None:
        pairs = ([("id_token_hint", hint)] if hint is not None else []) + query
        answered_safely(app, lambda: client.get(path, query_string=MultiDict(pairs)))

    logout()
