"""The development IdP's protocol steps as plain functions: read an AuthnRequest, answer it.

It plays the community portal for `gateway demo`: it answers only our own
service provider, and signs with a key generated when the demo starts.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from gateway.core.errors import GatewayError
from gateway.devidp.keys import SigningKey, generate_signing_key
from gateway.devidp.mailbox import Mailbox
from gateway.devidp.saml_response import ResponseSpec, build_response
from gateway.devidp.sample import Destination, SampleUser
from gateway.sso.config import SamlEndpoints, write_saml_dir

MAX_REQUEST_CHARS = 16 * 1024


class DevIdpRefused(GatewayError):
    """The development IdP will not answer this request."""

    status = 400
    title = "The development IdP refused this request"
    event = "devidp.refused"


@dataclass(frozen=True)
class DemoConfig:
    """What the development IdP needs; only `gateway demo` and the tests build one."""

    signing_key: SigningKey
    users: tuple[SampleUser, ...]
    # Origins a sign-in may end at (the license centers); the IdP's form page allows them.
    system_origins: tuple[str, ...] = ()
    # Where the gateway's mail arrives (shown at /dev-idp/mail); None: no mailbox.
    mailbox: Mailbox | None = None

    def user(self, email: str) -> SampleUser:
        """The sample user with this email, or DevIdpRefused."""
        for user in self.users:
            if user.email == email:
                return user
        raise DevIdpRefused("That person is not among the demo sample users.")

    def organisations(self) -> list[tuple[str, str]]:
        """The sample users' organisations, as (account number, name)."""
        return sorted({(user.account_number, user.account_name) for user in self.users})

    def newcomer(self, email: str, account_number: str) -> SampleUser:
        """Someone the directory does not know yet (an invited person), in one of the
        sample organisations; a sample user's address signs in as that user."""
        address = email.strip().lower()
        local, at, domain = address.partition("@")
        if not (local and at and "." in domain) or len(address) > 320 or " " in address:
            raise DevIdpRefused("Give an email address such as new.person@acme.example.")
        names = dict(self.organisations())
        if account_number not in names:
            raise DevIdpRefused("Choose one of the demo's organisations.")
        for user in self.users:
            if user.email == address:
                return user
        first = local.split(".")[0].capitalize() or "New"
        return SampleUser(
            email=address,
            first_name=first,
            last_name="(new)",
            account_number=account_number,
            account_name=names[account_number],
            permissions=(),
            destination=Destination("new-person", "not in the sample: invited"),
        )


@dataclass(frozen=True)
class AuthnRequest:
    """The parts of the SP's AuthnRequest the IdP answers to."""

    request_id: str
    acs_url: str


def idp_urls(base_url: str) -> dict[str, str]:
    """The development IdP's entity ID and endpoints under the gateway's URL."""
    return {
        "idp_entity_id": f"{base_url}/dev-idp",
        "idp_sso_url": f"{base_url}/dev-idp/sso",
        "idp_slo_url": f"{base_url}/dev-idp/slo",
    }


def prepare_saml_dir(saml_dir: Path, base_url: str, key: SigningKey | None = None) -> SigningKey:
    """Write a SAML settings folder that trusts the development IdP; returns its key."""
    key = key or generate_signing_key("Switchyard development IdP")
    write_saml_dir(saml_dir, idp_cert_base64=key.cert_base64, **idp_urls(base_url))
    return key


def parse_authn_request(encoded: str, expected_acs_url: str) -> AuthnRequest:
    """Decode an HTTP-Redirect AuthnRequest; refuse any that is not for our own ACS."""
    if not encoded or len(encoded) > MAX_REQUEST_CHARS:
        raise DevIdpRefused("The sign-in request is missing or too large.")
    try:
        xml = zlib.decompress(base64.b64decode(encoded, validate=True), -15)
        document = OneLogin_Saml2_XML.to_etree(xml)
    except (binascii.Error, zlib.error, ValueError):
        raise DevIdpRefused("The sign-in request is not deflated, base64-encoded XML.") from None
    except Exception:  # python3-saml raises bare Exception for DTDs and bad XML
        raise DevIdpRefused("The sign-in request is not acceptable XML.") from None
    if etree.QName(document).text != f"{{{Saml.NS_SAMLP}}}AuthnRequest":
        raise DevIdpRefused("The message is not a SAML AuthnRequest.")
    request_id, acs_url = document.get("ID"), document.get("AssertionConsumerServiceURL")
    if not request_id:
        raise DevIdpRefused("The sign-in request has no ID.")
    if acs_url != expected_acs_url:
        raise DevIdpRefused(
            "The development IdP answers only this gateway's own ACS.",
            acs_url=(acs_url or "")[:200],
        )
    return AuthnRequest(request_id, acs_url)


def signed_response(
    user: SampleUser,
    authn: AuthnRequest,
    *,
    key: SigningKey,
    idp_entity_id: str,
    endpoints: SamlEndpoints,
    attribute_map: dict[str, str],
) -> str:
    """A signed Response for `user` answering `authn`, named as the gateway reads it."""
    values = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "account_number": user.account_number,
    }
    attributes = {attribute_map[field]: [value] for field, value in values.items()}
    if user.groups:
        attributes[attribute_map["groups"]] = list(user.groups)
    spec = ResponseSpec(
        issuer=idp_entity_id,
        audience=endpoints.entity_id,
        destination=endpoints.acs_url,
        name_id=user.subject,
        attributes=attributes,
        in_response_to=authn.request_id,
    )
    return build_response(spec, key)
