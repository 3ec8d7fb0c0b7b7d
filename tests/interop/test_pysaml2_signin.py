"""pysaml2 as the portal IdP, end to end through the real app.

pysaml2 imports our metadata as the app serves it, parses the AuthnRequest our
HTTP-Redirect carries (and checks its signature when we sign), and answers with a
response it signs itself; the browser posts it to /saml/acs and is routed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Account, User
from gateway.core.settings import Settings
from gateway.devidp.keys import SigningKey, generate_signing_key
from gateway.sso.config import write_saml_dir
from tests import factories
from tests.conftest import _reset, https_client, make_app
from tests.saml_idp import IDP_ENTITY_ID, IDP_SLO_URL, IDP_SSO_URL, PortalIdP
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT, EMAIL

LEGACY_START = "https://legacy.licenses.test/start"


@pytest.mark.parametrize(
    ("sign_assertion", "sign_response"),
    [(True, False), (True, True)],
    ids=["assertion-signed", "assertion-and-response-signed"],
)
def test_pysaml2_response_signs_the_user_in_and_routes_them(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    sign_assertion: bool,
    sign_response: bool,
) -> None:
    legacy = factories.system(dbs, "legacy", LEGACY_START)
    factories.entitlement(dbs, account, factories.product_line(dbs, "NETGUARD", "legacy"), [legacy])
    reply = sign_in(
        client,
        idp,
        email=EMAIL,
        account=ACCOUNT,
        subject="portal-77",
        first_name="Pat",
        last_name="Lee",
        sign_assertion=sign_assertion,
        sign_response=sign_response,
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    assert reply.location.startswith(f"{LEGACY_START}?")
    assert parse_qs(urlsplit(reply.location).query)["login_hint"] == [EMAIL]
    user = dbs.scalar(select(User).where(User.subject == "portal-77"))
    assert user is not None and (user.first_name, user.last_name) == ("Pat", "Lee")
    me = client.get("/api/v1/me").get_json()
    assert me["email"] == EMAIL and me["account"]["number"] == ACCOUNT


def test_pysaml2_response_follows_the_next_target(
    client: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    reply = sign_in(client, idp, email=EMAIL, account=ACCOUNT, next_target="/api/v1/me")
    assert reply.status_code == 302 and reply.location.endswith("/api/v1/me")


def test_pysaml2_groups_attribute_grants_the_it_role(
    client: FlaskClient, idp: PortalIdP, account: Account, settings: Settings
) -> None:
    sign_in(client, idp, email=EMAIL, account=ACCOUNT, groups=(settings.it_group, "staff"))
    with client.session_transaction(base_url="https://sso.test") as session:
        assert session["roles"] == ["it"]


# --- our AuthnRequest signed, and pysaml2 checking it -----------------------------


@pytest.fixture
def signing_app(settings: Settings, idp_key: SigningKey, tmp_path: Path) -> Iterator[Flask]:
    """An app with an SP key: its AuthnRequests are signed (HTTP-Redirect signature)."""
    folder = tmp_path / "saml"
    write_saml_dir(
        folder,
        idp_entity_id=IDP_ENTITY_ID,
        idp_sso_url=IDP_SSO_URL,
        idp_slo_url=IDP_SLO_URL,
        idp_cert_base64=idp_key.cert_base64,
    )
    sp_key = generate_signing_key("sso.test SP")
    (folder / "certs" / "sp.crt").write_text(sp_key.cert_pem)
    (folder / "certs" / "sp.key").write_text(sp_key.key_pem)
    app = make_app(settings.model_copy(update={"saml_dir": folder}))
    yield app
    _reset(app)


def test_pysaml2_verifies_our_signed_authn_request_and_signs_us_in(
    signing_app: Flask, idp: PortalIdP, dbs: Session
) -> None:
    factories.account(dbs, ACCOUNT, "Acme Corp")
    client = https_client(signing_app)
    peer = idp.pysaml2(client, want_signed_requests=True)
    location = client.get("/saml/login").location
    assert "SigAlg=" in location and "Signature=" in location
    request = peer.parse_login_redirect(location)  # raises unless the signature verifies
    xml = idp.pysaml2_response(client, request, email=EMAIL, account=ACCOUNT)
    # pysaml2 answers through the same peer that verified the request.
    assert idp.post(client, xml).status_code == 302
    assert client.get("/api/v1/me").status_code == 200


def test_pysaml2_refuses_our_authn_request_with_a_broken_signature(
    signing_app: Flask, idp: PortalIdP
) -> None:
    client = https_client(signing_app)
    peer = idp.pysaml2(client, want_signed_requests=True)
    location = client.get("/saml/login").location
    query = parse_qs(urlsplit(location).query)
    signature = query["Signature"][0]
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    tampered = location.replace(
        "Signature=" + urlsplit(location).query.split("Signature=")[1].split("&")[0],
        "Signature=" + flipped.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"),
    )
    with pytest.raises(Exception, match="(?i)sign"):
        peer.parse_login_redirect(tampered)
