"""A fresh authentication on request (the provider's prompt=login), and auth_time.

`fresh=1` on /login or /saml/login puts ForceAuthn="true" in the AuthnRequest; a
forced request answered with an older authentication is refused; every SAML
sign-in records the assertion's AuthnInstant as the session's auth_time. pysaml2
plays the portal throughout.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy.orm import Session

from gateway.core.models import Account
from gateway.core.settings import Settings
from gateway.devidp.saml_response import assertion_xml, response_xml, sign
from tests.conftest import _reset, https_client, make_app
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT, EMAIL, assert_refused
from tests.sso.portal_op import CLIENT_ID, CLIENT_SECRET, serve_portal


def authn_request(client: FlaskClient, path: str) -> etree._Element:
    reply = client.get(path)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    encoded = parse_qs(urlsplit(reply.location).query)["SAMLRequest"][0]
    return etree.fromstring(zlib.decompress(base64.b64decode(encoded), -15))


@pytest.mark.parametrize("path", ["/login", "/saml/login"])
def test_fresh_sends_force_authn_and_its_absence_does_not(client: FlaskClient, path: str) -> None:
    assert authn_request(client, f"{path}?fresh=1").get("ForceAuthn") == "true"
    assert authn_request(client, path).get("ForceAuthn") is None
    assert authn_request(client, f"{path}?fresh=0").get("ForceAuthn") is None


def test_pysaml2_reads_force_authn(client: FlaskClient, idp: PortalIdP) -> None:
    assert idp.login_request(client, fresh=True).force_authn is True
    assert idp.login_request(client).force_authn is False


def test_a_malformed_fresh_flag_is_a_clear_error(client: FlaskClient) -> None:
    reply = client.get("/saml/login?fresh=yes")
    assert reply.status_code == 400
    assert "fresh must be 1 or 0" in reply.get_data(as_text=True)


def session_auth_time(client: FlaskClient) -> int:
    with client.session_transaction(base_url="https://sso.test") as session:
        value: int = session["auth_time"]
    return value


def test_forced_request_answered_with_an_older_authentication_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = idp.login_request(client, fresh=True)
    earlier = datetime.now(UTC) - timedelta(minutes=30)
    xml = idp.pysaml2_response(client, request, email=EMAIL, account=ACCOUNT, authn_instant=earlier)
    assert_refused(
        idp.post(client, xml),
        client,
        dbs,
        caplog,
        reason="answered with an earlier sign-in",
        event="saml.stale_authentication",
    )


def test_forced_request_answered_with_a_new_authentication_signs_in(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    request = idp.login_request(client, fresh=True)
    just_now = datetime.now(UTC).replace(microsecond=0)
    xml = idp.pysaml2_response(
        client, request, email=EMAIL, account=ACCOUNT, authn_instant=just_now
    )
    assert idp.post(client, xml).status_code == 302
    assert session_auth_time(client) == int(just_now.timestamp())


def test_unforced_request_accepts_an_earlier_authentication_and_keeps_its_time(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    # The portal's own session from 30 minutes ago: auth_time says so, not "now".
    earlier = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)
    reply = sign_in(client, idp, email=EMAIL, account=ACCOUNT, authn_instant=earlier)
    assert reply.status_code == 302
    assert session_auth_time(client) == int(earlier.timestamp())


def test_auth_time_is_never_later_than_now(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    within_skew = datetime.now(UTC) + timedelta(seconds=60)
    before = int(datetime.now(UTC).timestamp())
    assert (
        sign_in(client, idp, email=EMAIL, account=ACCOUNT, authn_instant=within_skew).status_code
        == 302
    )
    assert before <= session_auth_time(client) <= int(datetime.now(UTC).timestamp())


def test_assertion_without_authn_statement_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Our builder, because no honest IdP leaves it out; its baseline (with the
    # statement) is every pysaml2 sign-in above.
    request_id = idp.start(client)
    spec = idp.spec(email=EMAIL, account=ACCOUNT, in_response_to=request_id)
    assertion = assertion_xml(spec)
    start = assertion.index("<saml:AuthnStatement")
    end = assertion.index("</saml:AuthnStatement>") + len("</saml:AuthnStatement>")
    signed = sign(assertion[:start] + assertion[end:], idp.key)  # validly signed without it
    xml = response_xml(spec, signed.split("?>", 1)[-1])
    assert_refused(idp.post(client, xml), client, dbs, caplog, reason="AuthnStatement")


@pytest.fixture
def oidc_login_client(settings: Settings) -> Iterator[tuple[FlaskClient, str]]:
    """A client of an app whose /login signs in at the portal's OpenID Connect provider."""
    with serve_portal() as op:
        update = {
            "oidc_issuer": op.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "login_method": "oidc",
        }
        app = make_app(settings.model_copy(update=update))
        yield https_client(app), op.issuer
        _reset(app)


def test_login_forwards_fresh_to_the_upstream_oidc_sign_in(
    oidc_login_client: tuple[FlaskClient, str],
) -> None:
    client, issuer = oidc_login_client
    reply = client.get("/login", query_string={"next": "/api/v1/me", "fresh": "1"})
    assert reply.status_code == 302
    parts = urlsplit(reply.location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{issuer}/authorize"
    query = parse_qs(parts.query)
    assert (query["prompt"], query["max_age"]) == (["login"], ["0"])
    # Without the flag, /login goes straight to the provider as before.
    assert client.get("/login").location.startswith(f"{issuer}/authorize?")
