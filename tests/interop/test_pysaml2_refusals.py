"""Each attack class on the ACS, with its baseline: the valid response from pysaml2 is
accepted in one browser, and the same situation with the attack (built by pysaml2
where it can express it, else tampered from pysaml2's own output) is refused in
another. Attacks no honest IdP can produce (signature wrapping, DTDs, comments,
encrypted assertions, odd timestamps, schema-invalid XML) stay hand-built in
tests/sso/test_saml_attacks.py; their baseline is `test_baseline` below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.models import Account
from gateway.devidp.keys import generate_signing_key
from tests.conftest import https_client
from tests.interop.pysaml2_idp import (
    DIGEST_SHA1,
    SIG_RSA_SHA1,
    ParsedRequest,
    Pysaml2IdP,
)
from tests.saml_idp import OTHER_SP_BASE_URL, PortalIdP
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT, EMAIL, assert_refused

ACS = "https://sso.test/saml/acs"
ENTITY = "https://sso.test/saml/metadata"


def as_is(xml: str) -> str:
    return xml


def other_destination(xml: str) -> str:
    # The envelope is not signed (only the assertion is): the signature stays valid.
    return xml.replace(f'Destination="{ACS}"', 'Destination="https://evil.test/saml/acs"', 1)


def other_account(xml: str) -> str:
    return xml.replace(f">{ACCOUNT}<", ">OTHER-9<")


# name: (pysaml2 options, change to pysaml2's XML, what the refusal page says)
ATTACKS: dict[str, tuple[dict[str, Any], Callable[[str], str], tuple[str, ...]]] = {
    "unsigned": ({"sign_assertion": False}, as_is, ("not signed", "No Signature")),
    "response-signed-assertion-unsigned": (
        {"sign_assertion": False, "sign_response": True},
        as_is,
        ("Assertion of the Response is not signed",),
    ),
    "tampered-after-signing": ({}, other_account, ("Signature validation failed",)),
    "sha1-signature": (
        {"algorithms": (SIG_RSA_SHA1, DIGEST_SHA1)},
        as_is,
        ("Deprecated signature algorithm", "deprecated"),
    ),
    "wrong-audience": (
        {"audience": f"{OTHER_SP_BASE_URL}/saml/metadata"},
        as_is,
        ("Audience", "audience"),
    ),
    "wrong-destination": ({}, other_destination, ("Destination", "destination", "received at")),
    "unknown-in-response-to": (
        {"in_response_to": "_not-a-request-we-made"},
        as_is,
        ("does not answer a sign-in we started", "InResponseTo"),
    ),
}


def test_baseline(client: FlaskClient, idp: PortalIdP, account: Account) -> None:
    """The valid pysaml2 response every hand-built attack is a variation of."""
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT).status_code == 302
    assert client.get("/api/v1/me").status_code == 200


def accepted_baseline(app: Flask, idp: PortalIdP) -> None:
    browser = https_client(app)
    assert sign_in(browser, idp, email=EMAIL, account=ACCOUNT).status_code == 302


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_class_refused_beside_its_accepted_baseline(
    app: Flask,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
    attack: str,
) -> None:
    options, change, reasons = ATTACKS[attack]
    victim = https_client(app)
    request = idp.login_request(victim)
    xml = change(idp.pysaml2_response(victim, request, email=EMAIL, account=ACCOUNT, **options))
    assert_refused(idp.post(victim, xml), victim, dbs, caplog, reason=reasons)
    accepted_baseline(app, idp)


def test_signature_by_another_key_is_refused_beside_its_baseline(
    app: Flask,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    victim = https_client(app)
    request = idp.login_request(victim)
    metadata = victim.get("/saml/metadata").get_data(as_text=True)
    impostor = Pysaml2IdP(generate_signing_key("impostor"), [metadata])
    attributes = {"email": [EMAIL], "accountId": [ACCOUNT]}
    xml = impostor.response_xml(request, subject="portal-x", attributes=attributes)
    assert_refused(
        idp.post(victim, xml), victim, dbs, caplog, reason=("Signature validation failed",)
    )
    accepted_baseline(app, idp)


def test_missing_account_attribute_is_refused_beside_its_baseline(
    app: Flask,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    victim = https_client(app)
    request = idp.login_request(victim)
    peer = idp.pysaml2(victim)
    xml = peer.response_xml(request, subject="portal-x", attributes={"email": [EMAIL]})
    assert_refused(idp.post(victim, xml), victim, dbs, caplog, reason="accountId")
    accepted_baseline(app, idp)


def test_replayed_pysaml2_response_is_refused(app: Flask, idp: PortalIdP, account: Account) -> None:
    browser = https_client(app)
    request = idp.login_request(browser)
    xml = idp.pysaml2_response(browser, request, email=EMAIL, account=ACCOUNT)
    assert idp.post(browser, xml).status_code == 302
    again = idp.post(browser, xml)
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)
    elsewhere = https_client(app)
    assert idp.post(elsewhere, xml).status_code == 400
    assert elsewhere.get("/api/v1/me").status_code == 401


def unsolicited_request() -> ParsedRequest:
    return ParsedRequest("", ENTITY, ACS, force_authn=False, provider_name=None, relay_state=None)


def test_unsolicited_pysaml2_response_is_refused_when_idp_initiated_is_off(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    peer = idp.pysaml2(client)
    attributes = {"email": [EMAIL], "accountId": [ACCOUNT]}
    xml = peer.response_xml(
        unsolicited_request(), subject="portal-x", attributes=attributes, unsolicited=True
    )
    assert_refused(idp.post(client, xml), client, dbs, caplog, reason="unsolicited")


def test_unsolicited_pysaml2_response_is_accepted_when_idp_initiated_is_on(
    app_idp_initiated: FlaskClient, idp: PortalIdP, account: Account
) -> None:
    peer = idp.pysaml2(app_idp_initiated)
    attributes = {"email": [EMAIL], "accountId": [ACCOUNT]}
    xml = peer.response_xml(
        unsolicited_request(), subject="portal-x", attributes=attributes, unsolicited=True
    )
    reply = idp.post(app_idp_initiated, xml, relay_state="/api/v1/me")
    assert reply.status_code == 302 and reply.location.endswith("/api/v1/me")
