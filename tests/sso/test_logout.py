"""Sign-out: local logout, single logout from the IdP, and the traps in between."""

from __future__ import annotations

import base64
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from lxml import etree

from gateway.core.models import Account
from gateway.devidp.keys import generate_signing_key
from tests.forms import csrf_token
from tests.saml_idp import (
    IDP_SLO_URL,
    PortalIdP,
    deflate_encode,
    logout_request_xml,
    logout_response_xml,
    signed_redirect_query,
)
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT, EMAIL

SLS_URL = "https://sso.test/saml/sls"
SAME_ORIGIN = {"Referer": "https://sso.test/logout"}


def signout_form_token(client: FlaskClient) -> str:
    return csrf_token(client.get("/logout").get_data(as_text=True))


def test_logout_needs_csrf_token(client: FlaskClient, idp: PortalIdP, account: Account) -> None:
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-1").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    reply = client.post("/logout", headers=SAME_ORIGIN)
    assert reply.status_code == 400
    assert "CSRF" in reply.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 200


def test_logout_ends_the_session_server_side_and_asks_the_idp(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-1").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    stolen = client.get_cookie("switchyard_session", domain="sso.test")
    assert stolen is not None
    reply = client.post(
        "/logout", data={"csrf_token": signout_form_token(client)}, headers=SAME_ORIGIN
    )
    assert reply.status_code == 302 and reply.location.startswith(IDP_SLO_URL)
    request_xml = zlib.decompress(
        base64.b64decode(parse_qs(urlsplit(reply.location).query)["SAMLRequest"][0]), -15
    )
    assert (
        etree.fromstring(request_xml).findtext("{urn:oasis:names:tc:SAML:2.0:assertion}NameID")
        == "sub-1"
    )
    assert client.get("/api/v1/me").status_code == 401
    replayer = client.application.test_client()
    replayer.set_cookie("switchyard_session", stolen.value, domain="sso.test")
    assert replayer.get("/api/v1/me").status_code == 401


def test_idp_logout_response_for_our_request_is_accepted_once(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-1").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    reply = client.post(
        "/logout", data={"csrf_token": signout_form_token(client)}, headers=SAME_ORIGIN
    )
    request_xml = zlib.decompress(
        base64.b64decode(parse_qs(urlsplit(reply.location).query)["SAMLRequest"][0]), -15
    )
    request_id = etree.fromstring(request_xml).get("ID")
    query = signed_redirect_query(
        idp.key, "SAMLResponse", deflate_encode(logout_response_xml(SLS_URL, request_id))
    )
    first = client.get("/saml/sls", query_string=query)
    assert first.status_code == 200 and "signed out" in first.get_data(as_text=True)
    again = client.get("/saml/sls", query_string=query)
    assert again.status_code == 400


def test_signed_idp_logout_request_ends_the_matching_session(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-1").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    query = signed_redirect_query(
        idp.key, "SAMLRequest", deflate_encode(logout_request_xml(SLS_URL, "sub-1"))
    )
    reply = client.get("/saml/sls", query_string=query)
    assert reply.status_code == 302 and reply.location.startswith(IDP_SLO_URL)
    assert "SAMLResponse=" in reply.location
    assert client.get("/api/v1/me").status_code == 401


def test_idp_logout_request_for_someone_else_leaves_the_session(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-1").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    query = signed_redirect_query(
        idp.key, "SAMLRequest", deflate_encode(logout_request_xml(SLS_URL, "sub-2"))
    )
    assert client.get("/saml/sls", query_string=query).status_code == 302
    assert client.get("/api/v1/me").status_code == 200


def test_unsigned_logout_request_is_refused(
    client: FlaskClient, idp: PortalIdP, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    # Logout CSRF: any page could send the user's browser here.
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-1").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    reply = client.get(
        "/saml/sls",
        query_string={"SAMLRequest": deflate_encode(logout_request_xml(SLS_URL, "sub-1"))},
    )
    assert reply.status_code == 400
    assert client.get("/api/v1/me").status_code == 200
    assert "saml.logout_rejected" in [getattr(r, "event", None) for r in caplog.records]


def test_logout_request_signed_by_another_key_is_refused(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT, subject="sub-1").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    query = signed_redirect_query(
        generate_signing_key("attacker"),
        "SAMLRequest",
        deflate_encode(logout_request_xml(SLS_URL, "sub-1")),
    )
    assert client.get("/saml/sls", query_string=query).status_code == 400
    assert client.get("/api/v1/me").status_code == 200


def test_deflate_bomb_is_refused_without_inflating_it(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    bomb = deflate_encode("<a>" + "A" * 50_000_000 + "</a>")
    assert len(bomb) < 16 * 1024 * 6  # small on the wire
    query = signed_redirect_query(idp.key, "SAMLRequest", bomb)
    reply = client.get("/saml/sls", query_string=query)
    assert reply.status_code in (400, 414)
    assert "too large" in reply.get_data(as_text=True) or reply.status_code == 414


def test_small_deflate_bomb_under_the_wire_cap_is_refused_by_the_inflate_cap(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    bomb = deflate_encode("<a>" + "A" * 5_000_000 + "</a>")
    assert len(bomb) <= 16 * 1024
    reply = client.get(
        "/saml/sls", query_string=signed_redirect_query(idp.key, "SAMLRequest", bomb)
    )
    assert reply.status_code == 400 and "too large" in reply.get_data(as_text=True)


def test_unknown_logout_response_is_refused(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    query = signed_redirect_query(
        idp.key, "SAMLResponse", deflate_encode(logout_response_xml(SLS_URL, "ONELOGIN_not-ours"))
    )
    reply = client.get("/saml/sls", query_string=query)
    assert reply.status_code == 400
    assert "does not match a sign-out we started" in reply.get_data(as_text=True)
