"""Builds real, signed SAML 2.0 Responses, as the community portal's IdP would.

Used by the demo's development IdP and by the tests (which then tamper with the
XML to build attacks). Nothing here is reachable from production settings.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from gateway.devidp.keys import SigningKey

NAMEID_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"


def saml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return "_" + uuid.uuid4().hex


@dataclass
class ResponseSpec:
    """What goes into one Response. Defaults make a valid SP-initiated response;
    tests change one field to build one attack. `None` leaves an element out."""

    issuer: str
    audience: str | None
    destination: str | None
    name_id: str
    attributes: dict[str, list[str]] = field(default_factory=dict)
    in_response_to: str | None = None
    # InResponseTo inside the signed SubjectConfirmationData; defaults to in_response_to.
    assertion_in_response_to: str | None = None
    recipient: str | None = None  # defaults to destination
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    lifetime: timedelta = timedelta(minutes=5)
    not_before: datetime | None = None  # defaults to now - 1 minute
    not_on_or_after: datetime | None = None  # defaults to now + lifetime
    issue_instant: datetime | None = None  # defaults to now
    response_id: str = field(default_factory=new_id)
    assertion_id: str = field(default_factory=new_id)
    session_index: str = field(default_factory=new_id)
    status: str = "urn:oasis:names:tc:SAML:2.0:status:Success"


def assertion_xml(spec: ResponseSpec) -> str:
    now = spec.now
    not_before = spec.not_before or now - timedelta(minutes=1)
    not_on_or_after = spec.not_on_or_after or now + spec.lifetime
    issued = saml_time(spec.issue_instant or now)
    recipient = spec.recipient if spec.recipient is not None else spec.destination
    irt = spec.assertion_in_response_to or spec.in_response_to
    scd_attrs = f' NotOnOrAfter="{saml_time(not_on_or_after)}"'
    if recipient is not None:
        scd_attrs += f" Recipient={quoteattr(recipient)}"
    if irt is not None:
        scd_attrs += f" InResponseTo={quoteattr(irt)}"
    audience = (
        f"<saml:AudienceRestriction><saml:Audience>{escape(spec.audience)}</saml:Audience>"
        "</saml:AudienceRestriction>"
        if spec.audience is not None
        else ""
    )
    attributes = "".join(
        f"<saml:Attribute Name={quoteattr(name)} "
        'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">'
        + "".join(
            f'<saml:AttributeValue xsi:type="xs:string">{escape(value)}</saml:AttributeValue>'
            for value in values
        )
        + "</saml:Attribute>"
        for name, values in spec.attributes.items()
    )
    return (
        f'<saml:Assertion xmlns:saml="{Saml.NS_SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{spec.assertion_id}" '
        f'Version="2.0" IssueInstant="{issued}">'
        f"<saml:Issuer>{escape(spec.issuer)}</saml:Issuer>"
        f'<saml:Subject><saml:NameID Format="{NAMEID_FORMAT}">{escape(spec.name_id)}</saml:NameID>'
        f'<saml:SubjectConfirmation Method="{Saml.CM_BEARER}">'
        f"<saml:SubjectConfirmationData{scd_attrs}/></saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{saml_time(not_before)}" '
        f'NotOnOrAfter="{saml_time(not_on_or_after)}">{audience}</saml:Conditions>'
        f'<saml:AuthnStatement AuthnInstant="{issued}" SessionIndex="{spec.session_index}" '
        f'SessionNotOnOrAfter="{saml_time(now + timedelta(hours=8))}">'
        "<saml:AuthnContext><saml:AuthnContextClassRef>"
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
        f"<saml:AttributeStatement>{attributes}</saml:AttributeStatement>"
        "</saml:Assertion>"
    )


def response_xml(spec: ResponseSpec, assertion: str) -> str:
    issued = saml_time(spec.issue_instant or spec.now)
    attrs = f'ID="{spec.response_id}" Version="2.0" IssueInstant="{issued}"'
    if spec.destination is not None:
        attrs += f" Destination={quoteattr(spec.destination)}"
    if spec.in_response_to is not None:
        attrs += f" InResponseTo={quoteattr(spec.in_response_to)}"
    return (
        f'<samlp:Response xmlns:samlp="{Saml.NS_SAMLP}" xmlns:saml="{Saml.NS_SAML}" {attrs}>'
        f"<saml:Issuer>{escape(spec.issuer)}</saml:Issuer>"
        f'<samlp:Status><samlp:StatusCode Value="{spec.status}"/></samlp:Status>'
        f"{assertion}</samlp:Response>"
    )


def sign(
    xml: str, key: SigningKey, algorithm: str = Saml.RSA_SHA256, digest: str = Saml.SHA256
) -> str:
    """Enveloped signature over the element whose Issuer comes first."""
    signed = OneLogin_Saml2_Utils.add_sign(
        xml, key.key_pem, key.cert_pem, sign_algorithm=algorithm, digest_algorithm=digest
    )
    return signed.decode() if isinstance(signed, bytes) else str(signed)


def build_response(
    spec: ResponseSpec,
    key: SigningKey,
    *,
    sign_assertion: bool = True,
    sign_response: bool = False,
    algorithm: str = Saml.RSA_SHA256,
    digest: str = Saml.SHA256,
) -> str:
    """The Response XML, with the assertion and/or the envelope signed."""
    assertion = assertion_xml(spec)
    if sign_assertion:
        assertion = sign(assertion, key, algorithm, digest)
        assertion = assertion.split("?>", 1)[-1] if assertion.startswith("<?xml") else assertion
    xml = response_xml(spec, assertion)
    if sign_response:
        xml = sign(xml, key, algorithm, digest)
    return xml


def encode(xml: str) -> str:
    """Base64 as the HTTP-POST binding carries it in SAMLResponse."""
    return base64.b64encode(xml.encode()).decode()
