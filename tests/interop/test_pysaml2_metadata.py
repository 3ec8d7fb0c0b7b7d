"""What we emit is well-formed XML that an independent IdP accepts, whatever the
operator writes in advanced_settings.json: the shipped file, and a hostile name.

Strict parsers (lxml with recover=False, defusedxml) and pysaml2 read our
/saml/metadata and our AuthnRequest; each must read back exactly what the operator
wrote, escaped once and not twice.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import defusedxml.ElementTree as DefusedET
import pytest
from flask.testing import FlaskClient
from lxml import etree

from gateway.core.settings import Settings
from gateway.devidp.keys import SigningKey
from gateway.sso.config import write_saml_dir
from tests.saml_idp import IDP_ENTITY_ID, IDP_SLO_URL, IDP_SSO_URL, PortalIdP

SHIPPED = Path(__file__).resolve().parents[2] / "idp_config" / "advanced_settings.json"
HOSTILE = "A & B <C> \"D\" 'E'"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)


def shipped_settings() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SHIPPED.read_text())
    return loaded


def hostile_settings() -> dict[str, Any]:
    advanced = shipped_settings()
    advanced["organization"] = {
        "en-US": {"name": HOSTILE, "displayname": HOSTILE, "url": "https://example.com/?a=1&b=2"}
    }
    advanced["contactPerson"] = {
        "technical": {"givenName": HOSTILE, "emailAddress": "ops&sso@example.com"}
    }
    return advanced


@pytest.fixture(params=["shipped", "hostile"])
def advanced(request: pytest.FixtureRequest) -> dict[str, Any]:
    return shipped_settings() if request.param == "shipped" else hostile_settings()


@pytest.fixture
def operator_client(
    advanced: dict[str, Any], settings: Settings, idp_key: SigningKey, tmp_path: Path
) -> Iterator[FlaskClient]:
    """An app whose settings folder carries `advanced` as advanced_settings.json."""
    from tests.conftest import _reset, https_client, make_app

    folder = tmp_path / "saml"
    write_saml_dir(
        folder,
        idp_entity_id=IDP_ENTITY_ID,
        idp_sso_url=IDP_SSO_URL,
        idp_slo_url=IDP_SLO_URL,
        idp_cert_base64=idp_key.cert_base64,
    )
    (folder / "advanced_settings.json").write_text(json.dumps(advanced))
    app = make_app(settings.model_copy(update={"saml_dir": folder}))
    yield https_client(app)
    _reset(app)


def organisation(advanced: dict[str, Any]) -> dict[str, str]:
    entry: dict[str, str] = advanced["organization"]["en-US"]
    return entry


def test_shipped_settings_name_the_organisation_with_an_ampersand() -> None:
    # The defect's trigger: keep it in the shipped file, so this test keeps its teeth.
    assert "&" in organisation(shipped_settings())["displayname"]


def test_metadata_is_well_formed_and_reads_back_what_the_operator_wrote(
    operator_client: FlaskClient, advanced: dict[str, Any]
) -> None:
    xml = operator_client.get("/saml/metadata").get_data()
    root = etree.fromstring(xml, STRICT)
    DefusedET.fromstring(xml)  # the other strict parser agrees
    written = organisation(advanced)
    ns = {"md": MD}
    assert root.xpath("//md:OrganizationDisplayName/text()", namespaces=ns) == [
        written["displayname"]
    ]
    assert root.xpath("//md:OrganizationName/text()", namespaces=ns) == [written["name"]]
    assert root.xpath("//md:OrganizationURL/text()", namespaces=ns) == [written["url"]]
    contact = advanced["contactPerson"]["technical"]
    assert root.xpath("//md:ContactPerson/md:GivenName/text()", namespaces=ns) == [
        contact["givenName"]
    ]
    assert root.xpath("//md:ContactPerson/md:EmailAddress/text()", namespaces=ns) == [
        contact["emailAddress"]
    ]


def test_pysaml2_imports_the_metadata(
    operator_client: FlaskClient, advanced: dict[str, Any], idp: PortalIdP
) -> None:
    peer = idp.pysaml2(operator_client)
    entity = peer.server.metadata["https://sso.test/saml/metadata"]
    display_names = [n["text"] for n in entity["organization"]["organization_display_name"]]
    assert display_names == [organisation(advanced)["displayname"]]
    assert peer.server.metadata.assertion_consumer_service("https://sso.test/saml/metadata")


def authn_request_xml(location: str) -> bytes:
    query = parse_qs(urlsplit(location).query)
    return zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)


def test_authn_request_is_well_formed_with_the_provider_name_as_written(
    operator_client: FlaskClient, advanced: dict[str, Any]
) -> None:
    reply = operator_client.get("/saml/login")
    xml = authn_request_xml(reply.location)
    request = etree.fromstring(xml, STRICT)
    DefusedET.fromstring(xml)
    assert request.get("ProviderName") == organisation(advanced)["displayname"]


def test_pysaml2_accepts_the_authn_request_and_reads_the_provider_name(
    operator_client: FlaskClient, advanced: dict[str, Any], idp: PortalIdP
) -> None:
    parsed = idp.login_request(operator_client)
    assert parsed.provider_name == organisation(advanced)["displayname"]
    assert parsed.acs_url == "https://sso.test/saml/acs"
    assert parsed.issuer == "https://sso.test/saml/metadata"


def test_requested_attributes_service_is_escaped_too(idp_key: SigningKey, tmp_path: Path) -> None:
    from gateway.sso.config import load_saml_config

    write_saml_dir(
        tmp_path,
        idp_entity_id=IDP_ENTITY_ID,
        idp_sso_url=IDP_SSO_URL,
        idp_slo_url=None,
        idp_cert_base64=idp_key.cert_base64,
    )
    written = json.loads((tmp_path / "settings.json").read_text())
    written["sp"]["attributeConsumingService"] = {
        "serviceName": HOSTILE,
        "serviceDescription": HOSTILE,
        "requestedAttributes": [{"name": "accountId", "friendlyName": HOSTILE, "isRequired": True}],
    }
    (tmp_path / "settings.json").write_text(json.dumps(written))
    xml = load_saml_config(tmp_path, "https://sso.test").login.get_sp_metadata()
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml, STRICT)
    ns = {"md": MD}
    assert root.xpath("//md:ServiceName/text()", namespaces=ns) == [HOSTILE]
    assert root.xpath("//md:RequestedAttribute/@FriendlyName", namespaces=ns) == [HOSTILE]
