"""The community portal played by pysaml2, an IdP implementation independent of ours.

It imports our /saml/metadata as the app serves it, parses the AuthnRequest our
HTTP-Redirect carries (checking its signature when we sign), and answers with a
response pysaml2 builds and signs itself. Our own XML builder plays no part here.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.devidp.keys import SigningKey

with warnings.catch_warnings():
    # pysaml2 names cryptography's CFB mode where cryptography 45+ deprecated it.
    warnings.simplefilter("ignore")
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.attribute_converter import AttributeConverter
    from saml2.config import IdPConfig
    from saml2.request import AuthnRequest
    from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, NameID
    from saml2.server import Server
    from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

__all__ = ["DIGEST_SHA1", "SIG_RSA_SHA1", "ParsedRequest", "Pysaml2IdP", "encode"]
IDP_ENTITY_ID = "https://portal.test/idp"
IDP_SSO_URL = "https://portal.test/idp/sso"
XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
PASSWORD_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
BASIC_NAMES = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"

_key_dirs: dict[str, Path] = {}


def _key_files(key: SigningKey) -> tuple[str, str]:
    """pysaml2 signs through the xmlsec1 program, which reads keys from files."""
    folder = _key_dirs.get(key.cert_pem)
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="pysaml2-idp-"))
        atexit.register(shutil.rmtree, folder, True)
        (folder / "idp.key").write_text(key.key_pem)
        (folder / "idp.crt").write_text(key.cert_pem)
        _key_dirs[key.cert_pem] = folder
    return str(folder / "idp.key"), str(folder / "idp.crt")


@dataclass(frozen=True)
class ParsedRequest:
    """What pysaml2 read from our AuthnRequest."""

    id: str
    issuer: str
    acs_url: str
    force_authn: bool
    provider_name: str | None
    relay_state: str | None


class Pysaml2IdP:
    """A pysaml2 Server configured as the portal, trusting the SP metadata it was given."""

    def __init__(
        self, key: SigningKey, sp_metadata: list[str], *, want_signed_requests: bool = False
    ) -> None:
        if not Path(XMLSEC1).is_file():
            message = "Debian's xmlsec1 is not installed (apt-get install xmlsec1)"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        key_file, cert_file = _key_files(key)
        config = IdPConfig()
        config.load(
            {
                "entityid": IDP_ENTITY_ID,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(IDP_SSO_URL, BINDING_HTTP_REDIRECT)]
                        },
                        "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                        "want_authn_requests_signed": want_signed_requests,
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 5},
                                "attribute_restrictions": None,
                                "name_form": BASIC_NAMES,
                            }
                        },
                    }
                },
                "key_file": key_file,
                "cert_file": cert_file,
                "metadata": {"inline": sp_metadata},
                "xmlsec_binary": XMLSEC1,
                "allow_unknown_attributes": True,
            }
        )
        # Attribute names exactly as the portal sends them (email, accountId, ...), not
        # pysaml2's translations of well-known names to urn:mace:/urn:oid: ones.
        verbatim = AttributeConverter(BASIC_NAMES)
        verbatim.from_dict({"identifier": BASIC_NAMES, "fro": {}, "to": {}})
        config.attribute_converters = [verbatim]
        self.server = Server(config=config)

    def parse_login_redirect(self, location: str) -> ParsedRequest:
        """Parse the HTTP-Redirect URL /saml/login sent the browser to, as pysaml2 does."""
        assert location.startswith(IDP_SSO_URL + "?"), location
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        parsed: AuthnRequest = self.server.parse_authn_request(
            query["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=query.get("RelayState"),
            sigalg=query.get("SigAlg"),
            signature=query.get("Signature"),
        )
        message = parsed.message
        return ParsedRequest(
            id=message.id,
            issuer=message.issuer.text,
            acs_url=message.assertion_consumer_service_url,
            force_authn=message.force_authn == "true",
            provider_name=message.provider_name,
            relay_state=query.get("RelayState"),
        )

    def response_xml(
        self,
        request: ParsedRequest,
        *,
        subject: str,
        attributes: dict[str, list[str]],
        sign_assertion: bool = True,
        sign_response: bool = False,
        authn_instant: datetime | None = None,
        audience: str | None = None,
        in_response_to: str | None = None,
        unsolicited: bool = False,
        algorithms: tuple[str, str] = (SIG_RSA_SHA256, DIGEST_SHA256),
    ) -> str:
        """A response pysaml2 builds and signs for `request` (with optional lies).

        `unsolicited`: no InResponseTo at all, as an IdP-initiated sign-in sends.
        """
        authn: dict[str, Any] = {"class_ref": PASSWORD_CONTEXT}
        if authn_instant is not None:
            authn["authn_instant"] = int(authn_instant.timestamp())
        response = self.server.create_authn_response(
            attributes,
            in_response_to=None if unsolicited else in_response_to or request.id,
            destination=request.acs_url,
            sp_entity_id=audience or request.issuer,
            name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=subject),
            authn=authn,
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            sign_alg=algorithms[0],
            digest_alg=algorithms[1],
        )
        return str(response)


def encode(xml: str) -> str:
    """Base64 as the HTTP-POST binding carries SAMLResponse."""
    return base64.b64encode(xml.encode()).decode()
