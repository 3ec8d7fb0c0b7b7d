"""The test identity provider: real keys, real signed SAML, driven against the real app.

A normal sign-in (tests.signin.sign_in) is answered through `pysaml2` and
`pysaml2_response` by pysaml2, an independent IdP implementation
(tests.interop.pysaml2_idp), from the AuthnRequest our HTTP-Redirect really carries.
Attack tests build hostile XML with our own builder (gateway.devidp.saml_response)
through `spec` and `response_xml`, because no honest IdP produces it; docs/saml.md lists
which test relies on which.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import xmlsec
from flask.testing import FlaskClient
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from werkzeug.test import TestResponse

from gateway.devidp.keys import SigningKey
from gateway.devidp.saml_response import ResponseSpec, build_response, encode, saml_time
from tests.interop.pysaml2_idp import IDP_ENTITY_ID, IDP_SSO_URL, ParsedRequest, Pysaml2IdP

__all__ = ["IDP_ENTITY_ID", "IDP_SSO_URL", "IDP_SLO_URL", "PortalIdP", "ParsedRequest"]
OTHER_SP_BASE_URL = "https://other-sp.test"
IDP_SLO_URL = "https://portal.test/idp/slo"


def authn_request_id(redirect_url: str) -> str:
    """The ID of the AuthnRequest carried in an HTTP-Redirect binding URL."""
    query = parse_qs(urlsplit(redirect_url).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    request_id = etree.fromstring(xml).get("ID")
    assert request_id
    return request_id


@dataclass
class PortalIdP:
    """Builds responses for our SP; tests tamper with the XML to build attacks."""

    key: SigningKey
    base_url: str
    attributes: dict[str, str] = field(default_factory=dict)
    _peers: dict[str, Pysaml2IdP] = field(default_factory=dict, repr=False)

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/saml/acs"

    @property
    def audience(self) -> str:
        return f"{self.base_url}/saml/metadata"

    def spec(
        self,
        *,
        email: str,
        account: str,
        subject: str | None = None,
        in_response_to: str | None = None,
        first_name: str = "Test",
        last_name: str = "User",
        **overrides: Any,
    ) -> ResponseSpec:
        values = {
            "issuer": IDP_ENTITY_ID,
            "audience": self.audience,
            "destination": self.acs_url,
            "name_id": subject or f"portal-{email}",
            "attributes": {
                "email": [email],
                "firstName": [first_name],
                "lastName": [last_name],
                "accountId": [account],
            },
            "in_response_to": in_response_to,
        }
        values.update(overrides)
        return ResponseSpec(**values)

    def response_xml(self, spec: ResponseSpec, **signing: Any) -> str:
        return build_response(spec, self.key, **signing)

    def start(
        self, client: FlaskClient, next_target: str | None = None, *, fresh: bool = False
    ) -> str:
        """GET /saml/login and return the AuthnRequest ID it sent to the IdP."""
        query = {"next": next_target} if next_target else {}
        if fresh:
            query["fresh"] = "1"
        reply = client.get("/saml/login", query_string=query)
        assert reply.status_code == 302, reply.get_data(as_text=True)
        assert reply.location.startswith(IDP_SSO_URL)
        return authn_request_id(reply.location)

    def post(self, client: FlaskClient, xml: str, relay_state: str | None = None) -> TestResponse:
        form = {"SAMLResponse": encode(xml)}
        if relay_state is not None:
            form["RelayState"] = relay_state
        return client.post("/saml/acs", data=form)

    def pysaml2(self, client: FlaskClient, *, want_signed_requests: bool = False) -> Pysaml2IdP:
        """pysaml2 as the portal, trusting our metadata as the app serves it now.

        It also knows a second SP (our metadata at another URL), so a test can have
        it address a response to someone else.
        """
        metadata = client.get("/saml/metadata").get_data(as_text=True)
        cache_key = f"{want_signed_requests}:{metadata}"
        peer = self._peers.get(cache_key)
        if peer is None:
            other = metadata.replace(self.base_url, OTHER_SP_BASE_URL)
            peer = Pysaml2IdP(
                self.key, [metadata, other], want_signed_requests=want_signed_requests
            )
            self._peers[cache_key] = peer
        return peer

    def login_request(
        self, client: FlaskClient, *, next_target: str | None = None, fresh: bool = False
    ) -> ParsedRequest:
        """GET /saml/login and let pysaml2 parse the AuthnRequest it redirects to."""
        query: dict[str, str] = {"next": next_target} if next_target else {}
        if fresh:
            query["fresh"] = "1"
        reply = client.get("/saml/login", query_string=query)
        assert reply.status_code == 302, reply.get_data(as_text=True)
        return self.pysaml2(client).parse_login_redirect(reply.location)

    def pysaml2_response(
        self,
        client: FlaskClient,
        request: ParsedRequest,
        *,
        email: str,
        account: str,
        subject: str | None = None,
        first_name: str = "Test",
        last_name: str = "User",
        groups: tuple[str, ...] = (),
        **options: Any,
    ) -> str:
        """pysaml2's signed answer to `request` with the attributes the gateway maps."""
        attributes = {
            "email": [email],
            "firstName": [first_name],
            "lastName": [last_name],
            "accountId": [account],
        }
        if groups:
            attributes["groups"] = list(groups)
        return self.pysaml2(client).response_xml(
            request, subject=subject or f"portal-{email}", attributes=attributes, **options
        )


def deflate_encode(xml: str) -> str:
    """Deflate and base64 as the HTTP-Redirect binding carries a message."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml.encode()) + compressor.flush()).decode()


def signed_redirect_query(
    key: SigningKey,
    saml_type: str,
    encoded: str,
    *,
    relay_state: str | None = None,
    algorithm: str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
) -> dict[str, str]:
    """Query parameters of a Redirect-binding message signed as the IdP would sign it."""
    message = OneLogin_Saml2_Auth._build_sign_query(encoded, relay_state, algorithm, saml_type)
    transform = {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": xmlsec.Transform.RSA_SHA256,
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1": xmlsec.Transform.RSA_SHA1,
    }[algorithm]
    signature = OneLogin_Saml2_Utils.sign_binary(message, key.key_pem, transform)
    query = {
        saml_type: encoded,
        "SigAlg": algorithm,
        "Signature": base64.b64encode(signature).decode(),
    }
    if relay_state is not None:
        query["RelayState"] = relay_state
    return query


def logout_request_xml(
    sls_url: str, name_id: str, session_index: str | None = None, request_id: str = "_idp-logout-1"
) -> str:
    index = f"<samlp:SessionIndex>{session_index}</samlp:SessionIndex>" if session_index else ""
    return (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="{request_id}" Version="2.0" IssueInstant="{saml_time(datetime.now(UTC))}" '
        f'Destination="{sls_url}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>'
        f"<saml:NameID>{name_id}</saml:NameID>{index}</samlp:LogoutRequest>"
    )


def logout_response_xml(sls_url: str, in_response_to: str) -> str:
    return (
        '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="_idp-logout-answer" Version="2.0" IssueInstant="{saml_time(datetime.now(UTC))}" '
        f'Destination="{sls_url}" InResponseTo="{in_response_to}">'
        f"<saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>"
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
        "</samlp:Status></samlp:LogoutResponse>"
    )
