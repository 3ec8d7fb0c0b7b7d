"""Sign-in through the portal as an upstream OpenID Connect provider: the happy path over
real HTTP to a stand-in provider, and every forged or mismatched answer refused with a
4xx page, no session, no user and a log event."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.core.models import Account, System, User
from gateway.core.settings import Settings
from tests import factories
from tests.conftest import _reset, make_app
from tests.forms import csrf_token
from tests.jwt_forge import RsaKey, hs256, unsigned
from tests.saml_idp import IDP_SSO_URL
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT
from tests.sso.portal_op import CLIENT_ID, CLIENT_SECRET, DELETE, PortalOP, s256, serve_portal

EMAIL = "pat@acme.example"
USER = {
    "sub": "portal-user-42",
    "email": "Pat@Acme.example",
    "email_verified": True,
    "given_name": "Pat",
    "family_name": "Lee",
    "account_number": ACCOUNT,
}
REFUSED = "We could not sign you in"


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalOP]:
    with serve_portal() as op:
        yield op


@pytest.fixture
def op(portal: PortalOP) -> PortalOP:
    portal.reset(USER)
    return portal


@pytest.fixture
def settings_overrides(op: PortalOP) -> dict[str, object]:
    return {
        "oidc_issuer": op.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "login_method": "oidc",
    }


@pytest.fixture
def legacy(dbs: Session, account: Account) -> System:
    system = factories.system(dbs, "legacy", "https://legacy.licenses.test/start")
    line = factories.product_line(dbs, "NETGUARD", "legacy")
    factories.entitlement(dbs, account, line, [system])
    return system


def authorization_response(
    client: FlaskClient, op: PortalOP, *, start: str = "/login", **login_query: str
) -> str:
    """Start at `start` and let the provider answer; the callback URL, not yet visited."""
    began = client.get(start, query_string=login_query or None)
    assert began.status_code == 302 and began.location.startswith(f"{op.issuer}/authorize?")
    answer = requests.get(began.location, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])


def with_query(url: str, **changes: str | None) -> str:
    """`url` with query parameters replaced (None removes one)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return parts._replace(query=urlencode(query)).geturl()


def sign_out(client: FlaskClient) -> TestResponse:
    page = client.get("/logout").get_data(as_text=True)
    token = csrf_token(page)
    return client.post(
        "/logout", data={"csrf_token": token}, headers={"Referer": "https://sso.test/logout"}
    )


def assert_refused(
    reply: TestResponse,
    client: FlaskClient,
    dbs: Session,
    caplog: pytest.LogCaptureFixture,
    reason: str,
    *,
    event: str = "oidc.signin_rejected",
) -> None:
    """A 4xx page, no signed-in session, no user, and a log event naming the reason."""
    body = reply.get_data(as_text=True)
    assert 400 <= reply.status_code < 500, body
    assert REFUSED in body and "text/html" in reply.content_type
    assert client.get("/api/v1/me").status_code == 401
    dbs.expire_all()
    assert dbs.scalar(select(func.count()).select_from(User)) == 0
    logged = [r for r in caplog.records if getattr(r, "event", None) == event]
    assert logged and getattr(logged[-1], "reason", None) == reason, logged


def test_sign_in_creates_user_and_session_and_routes(
    client: FlaskClient, op: PortalOP, dbs: Session, legacy: System
) -> None:
    reply = sign_in(client, op)
    assert reply.status_code == 302
    assert reply.location.startswith("https://legacy.licenses.test/start?")
    assert parse_qs(urlsplit(reply.location).query)["login_hint"] == [EMAIL]
    user = dbs.scalar(select(User).where(User.subject == "portal-user-42"))
    assert user is not None and user.email == EMAIL and user.first_name == "Pat"
    me = client.get("/api/v1/me").get_json()
    assert me["subject"] == "portal-user-42" and me["account"]["number"] == ACCOUNT


def test_authorization_request_carries_state_nonce_and_s256_pkce(
    client: FlaskClient, op: PortalOP, legacy: System
) -> None:
    assert sign_in(client, op).status_code == 302
    [asked] = op.authorization_requests
    assert asked["redirect_uri"] == "https://sso.test/sso/oidc/callback"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 20 and len(asked["nonce"]) >= 20
    assert set(asked["scope"].split()) == {"openid", "email", "profile"}
    [redeemed] = op.token_requests
    assert redeemed["client_id"] == CLIENT_ID  # HTTP Basic: client_secret_basic
    assert s256(redeemed["form"]["code_verifier"]) == asked["code_challenge"]


def test_next_is_honoured_after_sign_in_and_foreign_next_refused_before(
    client: FlaskClient, op: PortalOP, legacy: System
) -> None:
    reply = sign_in(client, op, next_target="/no-access")
    assert (reply.status_code, reply.location) == (302, "/no-access")
    refused = client.get("/login", query_string={"next": "https://evil.example/"})
    assert refused.status_code == 400
    assert len(op.authorization_requests) == 1  # nothing started for the foreign target


def test_claim_map_names_the_portals_claims(
    settings: Settings, op: PortalOP, account: Account
) -> None:
    claim_map = {
        "subject": "sub",
        "email": "mail",
        "first_name": "given_name",
        "last_name": "family_name",
        "account_number": "org",
    }
    app = make_app(settings.model_copy(update={"oidc_claim_map": claim_map}))
    op.behaviour.user = {
        "sub": "s-7",
        "mail": "kim@acme.example",
        "email_verified": True,
        "org": ACCOUNT,
    }
    try:
        client = app.test_client()
        assert sign_in(client, op).status_code == 302
        me = client.get("/api/v1/me").get_json()
        assert (me["email"], me["account"]["number"]) == ("kim@acme.example", ACCOUNT)
    finally:
        _reset(app)


def minted_by(op: PortalOP, attack: str) -> None:
    """Make the provider answer the next sign-in with the id_token `attack` names."""
    key, behaviour = op.key, op.behaviour
    stranger = RsaKey.generate(key.kid)  # another key claiming the portal's kid
    now = int(time.time())
    mints = {
        "alg none": lambda claims: unsigned(claims, kid=key.kid),
        "HS256 keyed with the public key": lambda claims: hs256(
            claims, key.public_pem, kid=key.kid
        ),
        "signed by another key": stranger.sign,
        "no id_token": lambda claims: "",
    }
    changes = {
        "wrong iss": {"iss": "https://evil.example"},
        "no iss": {"iss": DELETE},
        "wrong aud": {"aud": "someone-else"},
        "aud without us, azp us": {"aud": ["someone-else"], "azp": CLIENT_ID},
        "wrong nonce": {"nonce": "another-sign-in"},
        "no nonce": {"nonce": DELETE},
        "expired": {"exp": now - 600, "iat": now - 900},
        "no exp": {"exp": DELETE},
    }
    behaviour.mint = mints.get(attack)
    behaviour.claim_changes = changes.get(attack, {})


ID_TOKEN_ATTACKS = [
    ("alg none", "Algorithm of 'none' is not allowed"),
    ("HS256 keyed with the public key", "Algorithm of 'HS256' is not allowed"),
    ("signed by another key", "BadSignatureError"),
    ("wrong iss", "Invalid claim: 'iss'"),
    ("no iss", "Missing claim: 'iss'"),
    ("wrong aud", "Invalid claim: 'aud'"),
    ("aud without us, azp us", "Invalid claim: 'aud'"),  # authlib alone accepts this one
    ("wrong nonce", "Invalid claim: 'nonce'"),
    ("no nonce", "Missing claim: 'nonce'"),
    ("expired", "The token is expired"),
    ("no exp", "Missing claim: 'exp'"),
    ("no id_token", "DecodeError"),
]


@pytest.mark.parametrize(("attack", "error"), ID_TOKEN_ATTACKS)
def test_forged_or_mismatched_id_token_is_refused(
    attack: str,
    error: str,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    minted_by(op, attack)
    assert_refused(sign_in(client, op), client, dbs, caplog, "id_token")
    [logged] = [r for r in caplog.records if getattr(r, "event", None) == "oidc.signin_rejected"]
    assert error in getattr(logged, "error", "")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"iss": None}, "iss parameter"),
        ({"iss": "https://evil.example"}, "iss parameter"),
        ({"state": "guessed-state"}, "state"),
        ({"state": None}, "state"),
        ({"code": None, "error": "access_denied"}, "authorization error"),
    ],
)
def test_tampered_authorization_response_is_refused(
    change: dict[str, str | None],
    reason: str,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = with_query(authorization_response(client, op), **change)
    assert_refused(client.get(callback), client, dbs, caplog, reason)
    assert op.token_requests == []  # refused before the code was even redeemed


def test_callback_is_single_use_and_bound_to_its_browser(
    app: Any,
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = authorization_response(client, op)
    other_browser = app.test_client()
    assert_refused(other_browser.get(callback), other_browser, dbs, caplog, "state")
    assert client.get(callback).status_code == 302  # the real browser still signs in
    replay = client.get(callback)
    assert replay.status_code == 400 and REFUSED in replay.get_data(as_text=True)


def test_unverified_email_is_refused(
    client: FlaskClient,
    op: PortalOP,
    dbs: Session,
    legacy: System,
    caplog: pytest.LogCaptureFixture,
) -> None:
    op.behaviour.user["email_verified"] = False
    assert_refused(sign_in(client, op), client, dbs, caplog, "email_verified")


@pytest.mark.parametrize(
    ("discovery", "reason", "refused_at_login"),
    [
        ({"issuer": "https://evil.example"}, "discovery issuer", True),
        ({"id_token_signing_alg_values_supported": ["HS256", "none"]}, "algorithms", False),
    ],
)
def test_provider_metadata_we_cannot_trust_is_refused(
    discovery: dict[str, Any],
    reason: str,
    refused_at_login: bool,
    settings: Settings,
    op: PortalOP,
    dbs: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    op.behaviour.discovery_changes = discovery
    app = make_app(settings)  # a fresh app: authlib keeps the discovery document it read
    try:
        client = app.test_client()
        reply = client.get("/login") if refused_at_login else sign_in(client, op)
        assert_refused(reply, client, dbs, caplog, reason)
    finally:
        _reset(app)


def test_sign_out_of_an_oidc_session_stays_local(
    client: FlaskClient, op: PortalOP, legacy: System
) -> None:
    assert sign_in(client, op).status_code == 302
    reply = sign_out(client)
    # No SAML LogoutRequest for a session the SAML IdP never started.
    assert reply.status_code == 200 and "You are signed out" in reply.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401


def test_login_uses_saml_by_default_when_both_are_configured(settings: Settings) -> None:
    app = make_app(settings.model_copy(update={"login_method": None}))
    try:
        reply = app.test_client().get("/login")
        assert reply.status_code == 302 and reply.location.startswith(IDP_SSO_URL)
        assert app.test_client().get("/sso/oidc/login").location.startswith("http://127.0.0.1")
    finally:
        _reset(app)


def test_oidc_alone_needs_no_saml_folder(
    settings: Settings, op: PortalOP, tmp_path: Path, account: Account, legacy: System
) -> None:
    app = make_app(settings.model_copy(update={"login_method": None, "saml_dir": tmp_path}))
    try:
        client = app.test_client()
        assert client.get("/saml/login").status_code == 404
        assert sign_in(client, op).status_code == 302
        assert "You are signed out" in sign_out(client).get_data(as_text=True)
        assert client.get("/api/v1/me").status_code == 401
    finally:
        _reset(app)


@pytest.mark.parametrize(
    ("groups", "status"), [(["staff", "switchyard-it"], 200), (["staff"], 403)]
)
def test_groups_claim_grants_the_it_role_as_saml_groups_do(
    groups: list[str], status: int, client: FlaskClient, op: PortalOP, legacy: System
) -> None:
    op.behaviour.user["groups"] = groups
    assert sign_in(client, op).status_code == 302
    assert client.get("/it/").status_code == status
