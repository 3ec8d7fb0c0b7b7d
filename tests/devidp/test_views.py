"""The development IdP's pages, driven through the real demo app with the test client."""

from __future__ import annotations

import base64
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import User
from gateway.devidp.sample import DESTINATIONS, load_sample_users
from tests.conftest import BASE_URL
from tests.devidp.conftest import (
    LEGACY_URL,
    NEW_URL,
    csrf_token,
    hidden_field,
    post_to_acs,
    sign_in_at_dev_idp,
)

SAMPLE_EMAILS = [user.email for user in load_sample_users()]
EXPECTED_LOCATION = {
    "legacy": f"{LEGACY_URL}/start?",
    "new": f"{NEW_URL}/start?",
    "choose": "/choose",
    "no-access": "/no-access",
    "no-entitlements": "/no-entitlements",
    "it-console": "/it/",
    # Support's start page: finding an organisation to look at.
    "support-console": "/org/accounts/",
}


def redirect_request(acs_url: str, request_id: str = "_req1") -> str:
    xml = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'ID="{request_id}" Version="2.0" IssueInstant="2030-01-01T00:00:00Z" '
        f'AssertionConsumerServiceURL="{acs_url}"/>'
    )
    deflated = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflated.compress(xml.encode()) + deflated.flush()
    return base64.b64encode(raw).decode()


def test_sso_page_lists_every_sample_user(demo_client: FlaskClient) -> None:
    start = demo_client.get("/saml/login")
    page = demo_client.get(start.location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Community portal (development IdP)" in html
    for email in SAMPLE_EMAILS:
        assert f'value="{email}"' in html
    assert "<script" not in html  # nothing inline, whatever the CSP


@pytest.mark.parametrize("email", SAMPLE_EMAILS)
def test_each_sample_user_signs_in_and_lands_where_the_sample_says(
    demo_client: FlaskClient, seeded: Session, email: str
) -> None:
    reply = post_to_acs(demo_client, sign_in_at_dev_idp(demo_client, email))
    assert reply.status_code == 302, reply.get_data(as_text=True)
    expected = EXPECTED_LOCATION[DESTINATIONS[email].key]
    location = reply.location.removeprefix(BASE_URL)
    assert location.startswith(expected), location
    if expected.endswith("?"):
        query = parse_qs(urlsplit(location).query)
        assert query["login_hint"] == [email]
    me = demo_client.get("/api/v1/me").get_json()
    assert me["email"] == email and me["subject"] == f"portal-{email}"
    user = seeded.scalar(select(User).where(User.email == email))
    assert user is not None and user.subject == f"portal-{email}"


@pytest.mark.parametrize(
    ("email", "roles"),
    [("sam@vendor.example", ["support"]), ("it@vendor.example", ["it"]), (SAMPLE_EMAILS[0], [])],
)
def test_the_vendor_sample_users_bring_their_roles(
    demo_client: FlaskClient, seeded: Session, email: str, roles: list[str]
) -> None:
    post_to_acs(demo_client, sign_in_at_dev_idp(demo_client, email))
    with demo_client.session_transaction(base_url=BASE_URL) as session:
        assert session["roles"] == roles


def test_autopost_page_works_without_inline_script(
    demo_client: FlaskClient, seeded: Session
) -> None:
    page = sign_in_at_dev_idp(demo_client, "carol@initech.example")
    assert '<script src="/static/autosubmit.js"></script>' in page
    assert ">Continue</button>" in page
    saml_response = base64.b64decode(hidden_field(page, "SAMLResponse")).decode()
    assert "<ds:Signature" in saml_response and "carol@initech.example" in saml_response


def test_autopost_page_lets_the_form_end_at_a_license_center(
    demo_client: FlaskClient, seeded: Session
) -> None:
    start = demo_client.get("/saml/login")
    page = demo_client.get(start.location).get_data(as_text=True)
    answer = demo_client.post(
        "/dev-idp/sso",
        headers={"Referer": start.location},
        data={
            "csrf_token": csrf_token(page),
            "SAMLRequest": hidden_field(page, "SAMLRequest"),
            "email": "alice@acme.example",
        },
    )
    policy = answer.headers["Content-Security-Policy"]
    assert f"form-action 'self' {LEGACY_URL} {NEW_URL}" in policy
    assert "script-src 'self';" in policy


def test_sso_answers_only_our_own_acs(demo_client: FlaskClient) -> None:
    foreign = redirect_request("https://evil.example/acs")
    reply = demo_client.get("/dev-idp/sso", query_string={"SAMLRequest": foreign})
    assert reply.status_code == 400
    assert "only this gateway" in reply.get_data(as_text=True)


@pytest.mark.parametrize(
    "saml_request",
    [
        "",
        "not base64!",
        base64.b64encode(b"plain").decode(),
        redirect_request(f"{BASE_URL}/saml/acs", request_id=""),
    ],
)
def test_sso_refuses_malformed_requests(demo_client: FlaskClient, saml_request: str) -> None:
    reply = demo_client.get("/dev-idp/sso", query_string={"SAMLRequest": saml_request})
    assert reply.status_code == 400
    assert "The development IdP refused this request" in reply.get_data(as_text=True)


def test_sso_post_needs_the_csrf_token(demo_client: FlaskClient) -> None:
    reply = demo_client.post(
        "/dev-idp/sso",
        data={
            "SAMLRequest": redirect_request(f"{BASE_URL}/saml/acs"),
            "email": "alice@acme.example",
        },
    )
    assert reply.status_code == 400
    assert "SAMLResponse" not in reply.get_data(as_text=True)


def test_sso_post_refuses_someone_not_in_the_sample(demo_client: FlaskClient) -> None:
    start = demo_client.get("/saml/login")
    page = demo_client.get(start.location).get_data(as_text=True)
    reply = demo_client.post(
        "/dev-idp/sso",
        headers={"Referer": start.location},
        data={
            "csrf_token": csrf_token(page),
            "SAMLRequest": hidden_field(page, "SAMLRequest"),
            "email": "mallory@evil.example",
        },
    )
    assert reply.status_code == 400
    assert "not among the demo sample users" in reply.get_data(as_text=True)


def test_slo_page_says_signed_out(demo_client: FlaskClient) -> None:
    reply = demo_client.get("/dev-idp/slo")
    assert reply.status_code == 200
    assert "signed out at the portal" in reply.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/dev-idp/sso", "/dev-idp/slo"])
def test_gateway_without_demo_has_no_dev_idp(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404
