"""Each attack on the ACS is built for real and must be refused with a clear page,
no session, no user, and a log event."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from sqlalchemy.orm import Session

from gateway.core.models import Account
from gateway.devidp.keys import generate_signing_key
from gateway.devidp.saml_response import build_response, response_xml, sign
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT, EMAIL, assert_refused

NS = {"samlp": Saml.NS_SAMLP, "saml": Saml.NS_SAML, "ds": Saml.NS_DS}


def solicited(idp: PortalIdP, client: FlaskClient, **overrides: object):  # type: ignore[no-untyped-def]
    request_id = idp.start(client)
    return idp.spec(email=EMAIL, account=ACCOUNT, in_response_to=request_id, **overrides)


def test_unsigned_response_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = idp.response_xml(solicited(idp, client), sign_assertion=False)
    assert_refused(
        idp.post(client, xml),
        client,
        dbs,
        caplog,
        reason=("No Signature found", "Assertion of the Response is not signed"),
    )


def test_signed_response_with_unsigned_assertion_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = idp.response_xml(solicited(idp, client), sign_assertion=False, sign_response=True)
    assert_refused(
        idp.post(client, xml), client, dbs, caplog, reason="Assertion of the Response is not signed"
    )


def test_attribute_tampered_after_signing_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = idp.response_xml(solicited(idp, client))
    tampered = xml.replace(f">{ACCOUNT}<", ">OTHER-ORG<")
    assert tampered != xml
    assert_refused(
        idp.post(client, tampered), client, dbs, caplog, reason="Signature validation failed"
    )


def test_signature_by_another_key_is_refused_even_with_its_cert_in_keyinfo(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attacker = generate_signing_key("attacker")
    xml = build_response(solicited(idp, client), attacker, sign_response=True)
    assert attacker.cert_base64[:40] in xml.replace("\n", "")  # KeyInfo carries the attacker's cert
    assert_refused(idp.post(client, xml), client, dbs, caplog, reason="Signature validation failed")


def test_expired_response_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    xml = idp.response_xml(solicited(idp, client, now=past))
    assert_refused(idp.post(client, xml), client, dbs, caplog, reason="expired")


def test_not_yet_valid_response_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    future = datetime.now(UTC) + timedelta(minutes=30)
    spec = solicited(idp, client, not_before=future, issue_instant=datetime.now(UTC))
    xml = idp.response_xml(spec)
    assert_refused(idp.post(client, xml), client, dbs, caplog, reason="not yet valid")


def test_response_issued_long_ago_with_far_expiry_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # python3-saml never checks IssueInstant: a response minted an hour ago but
    # valid for a day would otherwise be accepted.
    spec = solicited(
        idp,
        client,
        issue_instant=datetime.now(UTC) - timedelta(hours=1),
        lifetime=timedelta(days=1),
    )
    assert_refused(
        idp.post(client, idp.response_xml(spec)), client, dbs, caplog, reason="implausible time"
    )


@pytest.mark.parametrize(
    "audience", ["https://other.test/saml/metadata", None], ids=["wrong", "missing"]
)
def test_wrong_or_missing_audience_is_refused(
    audience: str | None,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = idp.response_xml(solicited(idp, client, audience=audience))
    assert_refused(
        idp.post(client, xml),
        client,
        dbs,
        caplog,
        reason=("another service", "not a valid audience"),
    )


@pytest.mark.parametrize(
    "destination",
    [
        "https://evil.test/saml/acs",
        "https://sso.test/saml/acs/extra",  # python3-saml accepts a prefix match
        "https://sso.test/saml/acsx",
        None,  # python3-saml accepts a missing Destination
    ],
    ids=["foreign", "path-prefix", "string-prefix", "missing"],
)
def test_wrong_or_missing_destination_is_refused(
    destination: str | None,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = solicited(idp, client, destination=destination, recipient=idp.acs_url)
    assert_refused(
        idp.post(client, idp.response_xml(spec)),
        client,
        dbs,
        caplog,
        reason=("another service (Destination)", "The response was received at"),
    )


@pytest.mark.parametrize(
    "recipient",
    [
        "https://sso.test/saml/acs?x=https://sso.test/saml/acs",  # python3-saml matches substrings
        "https://evil.test/",
        "",
    ],
    ids=["superstring", "foreign", "empty"],
)
def test_wrong_recipient_is_refused(
    recipient: str,
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = solicited(idp, client, recipient=recipient)
    assert_refused(
        idp.post(client, idp.response_xml(spec)),
        client,
        dbs,
        caplog,
        reason=("another service (Recipient)", "valid SubjectConfirmation was not found"),
    )


def test_missing_recipient_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = solicited(idp, client)
    xml = idp.response_xml(spec, sign_assertion=False)
    xml = xml.replace(f' Recipient="{idp.acs_url}"', "")
    document = etree.fromstring(xml.encode())
    assertion = document.find("saml:Assertion", NS)
    signed_assertion = sign(etree.tostring(assertion).decode(), idp.key)
    xml = response_xml(spec, signed_assertion.split("?>", 1)[-1])
    assert "Recipient=" not in xml
    assert_refused(idp.post(client, xml), client, dbs, caplog, reason="another service")


def test_missing_expiry_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = solicited(idp, client)
    document = etree.fromstring(idp.response_xml(spec, sign_assertion=False).encode())
    assertion = document.find("saml:Assertion", NS)
    for element in assertion.iter():
        element.attrib.pop("NotOnOrAfter", None)
    resigned = sign(etree.tostring(assertion).decode(), idp.key).split("?>", 1)[-1]
    xml = response_xml(spec, resigned)
    assert "NotOnOrAfter" not in xml.replace("SessionNotOnOrAfter", "")
    assert_refused(idp.post(client, xml), client, dbs, caplog, reason="no expiry")


def test_unknown_in_response_to_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = idp.spec(email=EMAIL, account=ACCOUNT, in_response_to="ONELOGIN_never-sent")
    assert_refused(
        idp.post(client, idp.response_xml(spec)),
        client,
        dbs,
        caplog,
        reason="does not answer a sign-in we started",
    )


def test_stripped_envelope_in_response_to_still_binds_to_the_request(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Correlation stripping: the unsigned envelope loses InResponseTo, the signed
    # assertion keeps it. The assertion's value must still be checked.
    spec = idp.spec(
        email=EMAIL,
        account=ACCOUNT,
        in_response_to=None,
        assertion_in_response_to="ONELOGIN_never-sent",
    )
    xml = idp.response_xml(spec)
    assert ' InResponseTo="ONELOGIN_never-sent"' in xml
    assert_refused(
        idp.post(client, xml), client, dbs, caplog, reason="does not answer a sign-in we started"
    )


def test_envelope_in_response_to_without_bound_assertion_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    request_id = idp.start(client)
    spec = idp.spec(email=EMAIL, account=ACCOUNT, in_response_to=request_id)
    xml = idp.response_xml(spec, sign_assertion=False)
    document = etree.fromstring(xml.encode())
    assertion = document.find("saml:Assertion", NS)
    for data in assertion.iterfind(".//saml:SubjectConfirmationData", NS):
        del data.attrib["InResponseTo"]
    resigned = sign(etree.tostring(assertion).decode(), idp.key).split("?>", 1)[-1]
    assert_refused(
        idp.post(client, response_xml(spec, resigned)),
        client,
        dbs,
        caplog,
        reason="not bound to the sign-in request",
    )


def test_unsolicited_response_is_refused_when_idp_initiated_is_off(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = idp.response_xml(idp.spec(email=EMAIL, account=ACCOUNT))
    assert_refused(
        idp.post(client, xml), client, dbs, caplog, reason="unsolicited responses are not accepted"
    )


def test_replayed_response_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = idp.response_xml(solicited(idp, client))
    assert idp.post(client, xml).status_code == 302
    attacker = client.application.test_client()
    reply = idp.post(attacker, xml)
    assert reply.status_code == 400
    assert "already been used" in reply.get_data(as_text=True)
    assert "switchyard_session=" not in reply.headers.get("Set-Cookie", "")
    assert attacker.get("/api/v1/me").status_code == 401


def test_doctype_and_entity_payloads_are_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = idp.response_xml(solicited(idp, client))
    payload = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + xml
    assert_refused(
        idp.post(client, payload), client, dbs, caplog, reason="document type declaration"
    )


def test_billion_laughs_is_refused_without_expanding(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
    )
    payload = f"<!DOCTYPE r [{entities}]><r>&i;</r>"
    assert_refused(
        idp.post(client, payload), client, dbs, caplog, reason="document type declaration"
    )


def test_nameid_with_xml_comment_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The IdP signs "admin@acme.example.evil.test"; a comment splits it so that a
    # naive reader sees "admin@acme.example". Comments are outside the c14n digest.
    spec = solicited(idp, client, name_id="admin@acme.example.evil.test")
    xml = idp.response_xml(spec)
    tampered = xml.replace("admin@acme.example.evil.test", "admin@acme.example<!---->.evil.test")
    assert tampered != xml
    assert_refused(idp.post(client, tampered), client, dbs, caplog, reason="XML comments")


def test_sha1_signature_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = idp.response_xml(solicited(idp, client), algorithm=Saml.RSA_SHA1, digest=Saml.SHA1)
    assert Saml.RSA_SHA1 in xml
    assert_refused(
        idp.post(client, xml), client, dbs, caplog, reason="Deprecated signature algorithm"
    )


def test_two_assertions_signature_wrapping_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = solicited(idp, client)
    xml = idp.response_xml(spec)
    document = etree.fromstring(xml.encode())
    signed = document.find("saml:Assertion", NS)
    evil = etree.fromstring(etree.tostring(signed))
    evil.set("ID", "_evil")
    evil.remove(evil.find("ds:Signature", NS))
    for value in evil.iterfind(".//saml:AttributeValue", NS):
        if value.text == EMAIL:
            value.text = "ceo@acme.example"
    signed.addprevious(evil)
    assert_refused(
        idp.post(client, etree.tostring(document).decode()),
        client,
        dbs,
        caplog,
        reason="must contain 1 assertion",
    )


def test_encrypted_assertion_is_refused_before_decryption(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = solicited(idp, client)
    encrypted = (
        f'<saml:EncryptedAssertion xmlns:saml="{Saml.NS_SAML}">'
        '<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">'
        '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
        "<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>"
        "</xenc:EncryptedData></saml:EncryptedAssertion>"
    )
    assert_refused(
        idp.post(client, response_xml(spec, encrypted)),
        client,
        dbs,
        caplog,
        reason="Encrypted assertions are not accepted",
    )


@pytest.mark.parametrize(
    "body",
    ["not base64 at all!", base64.b64encode(b"<not-closed").decode(), ""],
    ids=["bad-base64", "malformed-xml", "empty"],
)
def test_garbage_is_a_400_not_a_500(
    body: str, client: FlaskClient, dbs: Session, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    reply = client.post("/saml/acs", data={"SAMLResponse": body})
    assert_refused(reply, client, dbs, caplog, reason="sign-in response")


def test_duplicate_attribute_names_are_a_400(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = solicited(idp, client)
    spec.attributes["email"] = [EMAIL]
    xml = idp.response_xml(spec)
    document = etree.fromstring(idp.response_xml(spec, sign_assertion=False).encode())
    assertion = document.find("saml:Assertion", NS)
    statement = assertion.find("saml:AttributeStatement", NS)
    duplicate = etree.fromstring(etree.tostring(statement[0]))
    duplicate[0].text = "ceo@acme.example"
    statement.append(duplicate)
    resigned = sign(etree.tostring(assertion).decode(), idp.key).split("?>", 1)[-1]
    xml = response_xml(spec, resigned)
    assert xml.count('Name="email"') == 2
    assert_refused(idp.post(client, xml), client, dbs, caplog, reason="sign-in response")


def test_relay_state_cannot_redirect_off_site_even_when_idp_initiated_is_on(
    app_idp_initiated: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = app_idp_initiated
    xml = idp.response_xml(idp.spec(email=EMAIL, account=ACCOUNT))
    reply = idp.post(client, xml, relay_state="https://evil.test/phish")
    assert_refused(
        reply, client, dbs, caplog, reason="site we do not trust", event="signin.unsafe_redirect"
    )


@pytest.mark.parametrize(
    "target", ["https://evil.test/", "//evil.test/x", "/\\evil.test", "javascript:alert(1)"]
)
def test_login_next_parameter_cannot_point_off_site(
    target: str,
    client: FlaskClient,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply = client.get("/saml/login", query_string={"next": target})
    assert_refused(
        reply, client, dbs, caplog, reason="site we do not trust", event="signin.unsafe_redirect"
    )


def test_missing_account_attribute_is_refused(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = solicited(idp, client)
    del spec.attributes["accountId"]
    assert_refused(
        idp.post(client, idp.response_xml(spec)), client, dbs, caplog, reason="accountId"
    )


def test_unknown_account_gets_a_clear_page_and_no_user(
    client: FlaskClient, idp: PortalIdP, dbs: Session, caplog: pytest.LogCaptureFixture
) -> None:
    reply = sign_in(client, idp, email=EMAIL, account="NOPE-404")
    assert_refused(
        reply,
        client,
        dbs,
        caplog,
        status=403,
        reason="not known to the Product",
        event="signin.unknown_account",
    )


def test_schema_invalid_response_is_refused_every_time(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Signed and well-formed, but not a SAML assertion by the XSD. The second one is
    checked with the compiled schema the first left in this thread's cache."""
    for _ in range(2):
        spec = solicited(idp, client)
        document = etree.fromstring(idp.response_xml(spec, sign_assertion=False).encode())
        assertion = document.find("saml:Assertion", NS)
        assertion.find("saml:Issuer", NS).addnext(etree.Element(f"{{{Saml.NS_SAML}}}Nonsense"))
        resigned = sign(etree.tostring(assertion).decode(), idp.key).split("?>", 1)[-1]
        reply = idp.post(client, response_xml(spec, resigned))
        assert_refused(reply, client, dbs, caplog, reason="saml-schema-protocol-2.0.xsd")
