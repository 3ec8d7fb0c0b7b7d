"""python3-saml settings, built once at start-up from the settings folder and our URL.

The folder supplies the IdP (the community portal) and optional SP keys; the SP's
own URLs always derive from GATEWAY_BASE_URL, and the security options that make
the library strict are forced here whatever the folder says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from onelogin.saml2.errors import OneLogin_Saml2_Error
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from gateway.core.settings import SettingsError
from gateway.sso.errors import SamlNotConfigured

# Options that keep python3-saml strict; a settings folder cannot weaken them.
FORCED_SECURITY = {
    "wantAssertionsSigned": True,
    "wantNameId": True,
    "wantAttributeStatement": True,
    "rejectDeprecatedAlgorithm": True,
    "allowRepeatAttributeName": False,
    # We accept no encrypted assertions: python3-saml decrypts before it checks
    # the signature and accepts rsa-1_5 and CBC (see docs/security.md).
    "wantAssertionsEncrypted": False,
    "wantNameIdEncrypted": False,
    "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
}


@dataclass(frozen=True)
class SamlEndpoints:
    """Our own SAML URLs, and the pieces python3-saml wants to rebuild them."""

    entity_id: str
    acs_url: str
    sls_url: str
    https: bool
    host: str
    path_prefix: str

    @classmethod
    def from_base_url(cls, base_url: str) -> SamlEndpoints:
        parts = urlsplit(base_url)
        return cls(
            entity_id=f"{base_url}/saml/metadata",
            acs_url=f"{base_url}/saml/acs",
            sls_url=f"{base_url}/saml/sls",
            https=parts.scheme == "https",
            host=parts.netloc,
            path_prefix=parts.path.rstrip("/"),
        )

    def request_data(
        self, path: str, *, post: dict[str, Any] | None = None, get: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """python3-saml's request dict, built from configuration, never from the Host header."""
        return {
            "https": "on" if self.https else "off",
            "http_host": self.host,
            "script_name": self.path_prefix + path,
            "get_data": get or {},
            "post_data": post or {},
        }


@dataclass(frozen=True)
class SamlConfig:
    """Both python3-saml settings objects: sign-in (signed assertion required) and
    logout (signed message required: an unsigned LogoutRequest is logout CSRF)."""

    endpoints: SamlEndpoints
    login: OneLogin_Saml2_Settings
    logout: OneLogin_Saml2_Settings
    idp_entity_id: str
    idp_slo_url: str | None


def current_saml() -> SamlConfig:
    """The SAML configuration of the app handling the current request."""
    from flask import current_app

    config: SamlConfig | None = current_app.extensions["saml"]
    if config is None:
        raise SamlNotConfigured("Sign-in through SAML is not configured here.")
    return config


def saml_configured(saml_dir: Path) -> bool:
    """Whether the settings folder names the IdP's certificate, i.e. SAML can sign people in."""
    path = saml_dir / "settings.json"
    if not path.is_file():
        return False
    idp = _read_json(path).get("idp") or {}
    return bool(idp.get("x509cert") or (idp.get("x509certMulti") or {}).get("signing"))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"GATEWAY_SAML_DIR: {path} is missing") from None
    except json.JSONDecodeError as error:
        raise SettingsError(f"GATEWAY_SAML_DIR: {path} is not valid JSON ({error})") from None
    return loaded


def _optional_pem(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def saml_settings_dict(saml_dir: Path, endpoints: SamlEndpoints) -> dict[str, Any]:
    """The merged settings dict with our URLs and forced security applied."""
    settings = _read_json(saml_dir / "settings.json")
    advanced_path = saml_dir / "advanced_settings.json"
    if advanced_path.is_file():
        settings = {**_read_json(advanced_path), **settings}
    idp = settings.get("idp") or {}
    if idp.get("certFingerprint") or idp.get("certFingerprintAlgorithm"):
        raise SettingsError(
            "GATEWAY_SAML_DIR: idp.certFingerprint is not accepted; pin the IdP's certificate "
            "with idp.x509cert (or idp.x509certMulti for a rollover)"
        )
    if not idp.get("x509cert") and not (idp.get("x509certMulti") or {}).get("signing"):
        raise SettingsError(
            f"GATEWAY_SAML_DIR: {saml_dir / 'settings.json'} has no idp.x509cert; "
            "paste the community portal's signing certificate there"
        )
    sp = dict(settings.get("sp") or {})
    if isinstance(sp.get("attributeConsumingService"), dict):
        sp["attributeConsumingService"] = xml_escaped_service(sp["attributeConsumingService"])
    sp["entityId"] = endpoints.entity_id
    sp["assertionConsumerService"] = {
        "url": endpoints.acs_url,
        "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
    }
    sp["singleLogoutService"] = {
        "url": endpoints.sls_url,
        "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
    }
    sp_cert = _optional_pem(saml_dir / "certs" / "sp.crt")
    sp_key = _optional_pem(saml_dir / "certs" / "sp.key")
    if sp_cert and sp_key:
        sp["x509cert"], sp["privateKey"] = sp_cert, sp_key
    security = {**(settings.get("security") or {}), **FORCED_SECURITY}
    settings = {**settings, **xml_escaped_texts(settings)}
    has_sp_key = bool(sp.get("privateKey"))
    security.setdefault("authnRequestsSigned", has_sp_key)
    security["logoutRequestSigned"] = has_sp_key
    security["logoutResponseSigned"] = has_sp_key
    return {**settings, "strict": True, "debug": False, "sp": sp, "security": security}


# python3-saml pastes these operator-written strings into its XML templates with
# "%s" (metadata text, and the AuthnRequest's ProviderName="..." attribute) and
# escapes none of them: "Product & License Center" made both documents ill-formed.
TEMPLATED_TEXTS = {
    "organization": ("name", "displayname", "url"),
    "contactPerson": ("givenName", "emailAddress"),
}
XML_ATTRIBUTE_ENTITIES = {'"': "&quot;", "'": "&apos;"}


def xml_escaped(value: Any) -> Any:
    """`value` escaped once for XML text and for a quoted attribute; non-strings as they are."""
    return escape(value, XML_ATTRIBUTE_ENTITIES) if isinstance(value, str) else value


def xml_escaped_texts(settings: dict[str, Any]) -> dict[str, Any]:
    """The organisation and contact sections with every templated string escaped.

    Done once, here, on the raw settings: python3-saml uses these sections only to
    build XML, so the parsed documents read exactly what the operator wrote.
    """
    escaped: dict[str, Any] = {}
    for section, fields in TEMPLATED_TEXTS.items():
        entries = settings.get(section)
        if not isinstance(entries, dict):
            continue
        escaped[section] = {
            key: {f: xml_escaped(v) if f in fields else v for f, v in entry.items()}
            if isinstance(entry, dict)
            else entry
            for key, entry in entries.items()
        }
    return escaped


def xml_escaped_service(service: dict[str, Any]) -> dict[str, Any]:
    """The metadata's AttributeConsumingService, templated the same way: escaped once."""
    escaped = {key: xml_escaped(value) for key, value in service.items()}
    escaped["requestedAttributes"] = [
        {
            key: [xml_escaped(v) for v in value] if isinstance(value, list) else xml_escaped(value)
            for key, value in attribute.items()
        }
        for attribute in service.get("requestedAttributes") or []
        if isinstance(attribute, dict)
    ]
    return escaped


def load_saml_config(saml_dir: Path, base_url: str) -> SamlConfig:
    """Build the python3-saml settings once; any problem names GATEWAY_SAML_DIR."""
    endpoints = SamlEndpoints.from_base_url(base_url)
    settings = saml_settings_dict(saml_dir, endpoints)
    logout_settings = {
        **settings,
        "security": {**settings["security"], "wantMessagesSigned": True},
    }
    login_settings = {
        **settings,
        "security": {**settings["security"], "wantMessagesSigned": False},
    }
    try:
        login = OneLogin_Saml2_Settings(login_settings, sp_validation_only=False)
        logout = OneLogin_Saml2_Settings(logout_settings, sp_validation_only=False)
    except OneLogin_Saml2_Error as error:
        raise SettingsError(f"GATEWAY_SAML_DIR: invalid SAML settings ({error})") from None
    idp = settings["idp"]
    slo = (idp.get("singleLogoutService") or {}).get("url") or None
    warm_up_xml_schemas()
    return SamlConfig(endpoints, login, logout, idp["entityId"], slo)


def warm_up_xml_schemas() -> None:
    """Build one XML schema now, in one thread, before requests arrive.

    libxml2 initialises its built-in schema types lazily and not thread-safely: when
    the first sign-ins of a fresh gthread worker validate concurrently, that
    initialisation races and every later validation fails with "the given type is not
    a built-in type" (seen in the sign-in benchmark). Once initialised, it is safe.
    """
    OneLogin_Saml2_XML.validate_xml(WARM_UP_XML, "saml-schema-protocol-2.0.xsd")


WARM_UP_XML = (
    '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_w" '
    'Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><samlp:Status><samlp:StatusCode '
    'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>'
)


def write_saml_dir(
    saml_dir: Path,
    *,
    idp_entity_id: str,
    idp_sso_url: str,
    idp_slo_url: str | None,
    idp_cert_base64: str,
) -> None:
    """Write a settings folder for an IdP (used by the demo and the tests)."""
    saml_dir.mkdir(parents=True, exist_ok=True)
    (saml_dir / "certs").mkdir(exist_ok=True)
    idp: dict[str, Any] = {
        "entityId": idp_entity_id,
        "singleSignOnService": {
            "url": idp_sso_url,
            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
        },
        "x509cert": idp_cert_base64,
    }
    if idp_slo_url:
        idp["singleLogoutService"] = {
            "url": idp_slo_url,
            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
        }
    settings = {"strict": True, "sp": {}, "idp": idp}
    (saml_dir / "settings.json").write_text(json.dumps(settings, indent=2))
