"""Single logout over the HTTP-Redirect binding, with the library's gaps closed:
messages are size-capped before inflating (deflate bomb) and must be signed."""

from __future__ import annotations

import base64
import binascii
import logging
import zlib
from collections.abc import MutableMapping
from typing import Any

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from gateway.core import hooks
from gateway.core.store import Store, set_once, take
from gateway.sso.config import SamlConfig
from gateway.sso.errors import SamlLogoutRejected

log = logging.getLogger(__name__)

LOGOUT_PREFIX = "saml:logout:"
MAX_ENCODED = 16 * 1024
MAX_INFLATED = 64 * 1024


def inflate_bounded(encoded: str) -> bytes:
    """Decode and inflate a Redirect-binding message, refusing anything oversized."""
    if len(encoded) > MAX_ENCODED:
        raise SamlLogoutRejected("The sign-out message is too large.")
    try:
        deflated = base64.b64decode(encoded, validate=True)
        inflater = zlib.decompressobj(-15)
        xml = inflater.decompress(deflated, MAX_INFLATED)
    except (binascii.Error, ValueError, zlib.error):
        raise SamlLogoutRejected("The sign-out message is not valid.") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise SamlLogoutRejected("The sign-out message is too large or truncated.")
    if b"<!doctype" in xml.lower():
        raise SamlLogoutRejected("The sign-out message contains a document type declaration.")
    return xml


def start_logout(config: SamlConfig, store: Store, session: MutableMapping[str, Any]) -> str | None:
    """End the local session; return the IdP's logout URL when it does single logout."""
    subject, session_index = session.get("subject"), session.get("saml_session_index")
    hooks.signing_out(session)
    session.clear()
    log.info("signed out", extra={"event": "signout.local"})
    if not config.idp_slo_url or not subject:
        return None
    auth = OneLogin_Saml2_Auth(config.endpoints.request_data("/logout"), old_settings=config.logout)
    url: str = auth.logout(return_to="", name_id=subject, session_index=session_index)
    set_once(store, LOGOUT_PREFIX + auth.get_last_request_id(), "1", 600)
    return url


def handle_sls(
    config: SamlConfig, store: Store, args: dict[str, str], session: MutableMapping[str, Any]
) -> str | None:
    """Process a LogoutRequest (returns the IdP URL for our answer) or a LogoutResponse."""
    message = args.get("SAMLRequest") or args.get("SAMLResponse")
    if not message:
        raise SamlLogoutRejected("No sign-out message was received.")
    xml = inflate_bounded(message)
    auth = OneLogin_Saml2_Auth(
        config.endpoints.request_data("/saml/sls", get=args), old_settings=config.logout
    )
    request_id = None
    if "SAMLResponse" in args:
        request_id = _answered_request(xml)
        if request_id is None or take(store, LOGOUT_PREFIX + request_id) is None:
            raise SamlLogoutRejected("This sign-out answer does not match a sign-out we started.")

    def end_matching_session() -> None:
        if "SAMLRequest" in args:
            name_id = OneLogin_Saml2_Logout_Request.get_nameid(xml)
            if session.get("subject") != name_id:
                return
            hooks.signing_out(session)  # the portal ended it: relying parties hear too
        session.clear()

    try:
        url = auth.process_slo(request_id=request_id, delete_session_cb=end_matching_session)
    except Exception as error:  # the library raises bare errors for malformed messages
        raise SamlLogoutRejected(
            f"The sign-out message is not valid ({type(error).__name__})."
        ) from None
    if auth.get_errors():
        raise SamlLogoutRejected(
            f"The sign-out message was refused: {auth.get_last_error_reason()}",
            errors=auth.get_errors(),
        )
    log.info("single logout processed", extra={"event": "signout.slo"})
    return url if isinstance(url, str) else None


def _answered_request(xml: bytes) -> str | None:
    """The InResponseTo of a LogoutResponse (trusted only after the library validates it)."""
    try:
        document = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:  # malformed XML: the caller refuses the message
        return None
    value = document.get("InResponseTo")
    return value if isinstance(value, str) else None
