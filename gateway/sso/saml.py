"""SAML Service Provider steps as plain functions: start a sign-in, accept a response.

python3-saml does the XML signature work; everything docs/security.md lists as a gap in
it (replay, unsolicited responses, correlation stripping, loose Destination and
Recipient, missing Audience or expiry, IssueInstant, comments in NameID, escaping
exceptions) is closed here, before any value from the response is trusted. So are
two things a response alone cannot prove: that it is posted by the browser that
started the sign-in (gateway.sso.binding), and that a forced (ForceAuthn) sign-in
really authenticated the person again (AuthnInstant).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from gateway.core.store import Store, StoreUnavailable, set_each_once, set_once, take
from gateway.sso.binding import binding_digest, check_same_browser
from gateway.sso.config import SamlConfig
from gateway.sso.errors import SamlReplay, SamlResponseRejected
from gateway.sso.identity import Identity

log = logging.getLogger(__name__)

PENDING_PREFIX = "saml:pending:"
SEEN_PREFIX = "saml:seen:"
PENDING_TTL = timedelta(minutes=10)
MAX_RESPONSE_BYTES = 256 * 1024
NS = {"samlp": Saml.NS_SAMLP, "saml": Saml.NS_SAML}


class SamlStaleAuthentication(SamlResponseRejected):
    """We asked for a fresh authentication (ForceAuthn) and the IdP reused an old one."""

    event = "saml.stale_authentication"


@dataclass(frozen=True)
class AcceptedResponse:
    """A validated response: who signed in, when they authenticated, where they go."""

    identity: Identity
    target: str | None
    relay_state: str | None
    solicited: bool
    auth_time: int  # the assertion's AuthnInstant, epoch seconds, never after now


def start_login(
    config: SamlConfig, store: Store, target: str | None, *, binding: str, fresh: bool = False
) -> str:
    """The IdP URL carrying a new AuthnRequest; remembers it server-side.

    The pending request is keyed by its ID and bound to the browser that started it
    (the digest of its binding cookie), so a response only signs in that browser.
    `fresh` asks the IdP to authenticate the person again (ForceAuthn).
    """
    auth = OneLogin_Saml2_Auth(
        config.endpoints.request_data("/saml/login"), old_settings=config.login
    )
    url: str = auth.login(return_to=config.endpoints.acs_url, force_authn=fresh)
    request_id = auth.get_last_request_id()
    pending = json.dumps(
        {
            "target": target,
            "binding": binding_digest(binding),
            "forced": fresh,
            "requested_at": int(datetime.now(UTC).timestamp()),
        }
    )
    set_once(store, PENDING_PREFIX + request_id, pending, int(PENDING_TTL.total_seconds()))
    return url


def decode_response(encoded: str) -> bytes:
    """Strict base64 decode with a size cap; refuses DTDs before any parser sees them."""
    if not encoded or len(encoded) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise SamlResponseRejected("The sign-in response is missing or too large.")
    try:
        xml = base64.b64decode(encoded.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise SamlResponseRejected("The sign-in response is not valid base64.") from None
    lowered = xml.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise SamlResponseRejected("The sign-in response contains a document type declaration.")
    # Comments inside signed content survive canonicalisation unnoticed and can
    # split a NameID for a naive reader (CVE-2017-11427 class). No IdP needs them.
    if b"<!--" in xml or b"<?" in xml.lstrip()[2:]:
        raise SamlResponseRejected(
            "The sign-in response contains XML comments or processing instructions."
        )
    return xml


def accept_response(
    config: SamlConfig,
    store: Store,
    form: dict[str, str],
    *,
    attribute_map: dict[str, str],
    idp_initiated: bool,
    clock_skew: timedelta,
    browser_binding: str | None,
    now: datetime | None = None,
) -> AcceptedResponse:
    """Validate a POSTed SAMLResponse completely, then consume its one-time state.

    Nothing is consumed for a response posted by the wrong browser: the browser that
    started the sign-in can still finish it.
    """
    now = now or datetime.now(UTC)
    xml = decode_response(form.get("SAMLResponse", ""))
    document = _parse(xml)
    envelope_irt = document.get("InResponseTo")
    assertion_irt = _assertion_in_response_to(document)
    request_id = _correlate(envelope_irt, assertion_irt, idp_initiated)

    # Times first, on the unverified document: they can only refuse (the signature is
    # checked next), and a response refused for its clock gets a reason that says so.
    window_end = _check_times(document, now, clock_skew)
    response = _library_validate(config, xml, request_id, window_end)
    _check_envelope(document, config, now, clock_skew)
    try:
        identity = _identity(response, config.idp_entity_id, attribute_map)
    except OneLogin_Saml2_ValidationError as error:  # e.g. duplicated attribute names
        raise SamlResponseRejected(f"The sign-in response failed validation: {error}") from None
    expires = _assertion_expiry(document, now)
    authn_instant = _authn_instant(document)
    if request_id is not None:
        _check_pending(store, request_id, browser_binding, authn_instant, clock_skew)

    # Replay: each response and assertion ID is accepted once, across every worker.
    ttl = int((expires - now).total_seconds() + clock_skew.total_seconds()) + 1
    element_ids = (response.get_id(), response.get_assertion_id())
    keys = [f"{SEEN_PREFIX}response:{element_ids[0]}", f"{SEEN_PREFIX}assertion:{element_ids[1]}"]
    for element_id, new in zip(element_ids, set_each_once(store, keys, "1", ttl), strict=True):
        if not new:
            raise SamlReplay("This sign-in response has already been used.", element_id=element_id)

    target = None
    if request_id is not None:
        taken = take(store, PENDING_PREFIX + request_id)
        if taken is None:
            raise SamlResponseRejected(
                "This sign-in response does not answer a sign-in we started "
                "(or it was already used).",
                in_response_to=request_id,
            )
        target = json.loads(taken)["target"]
    auth_time = int(min(authn_instant, now).timestamp())
    return AcceptedResponse(
        identity, target, form.get("RelayState"), request_id is not None, auth_time
    )


def _check_pending(
    store: Store, request_id: str, binding: str | None, authn_instant: datetime, skew: timedelta
) -> None:
    """The browser and freshness checks, before anything is consumed. A request we do
    not know (or that was used) is refused later, after the replay check names it."""
    pending = _peek(store, PENDING_PREFIX + request_id)
    if pending is not None:
        check_same_browser(pending, binding, request_id)
        _check_fresh(pending, authn_instant, skew)


def _peek(store: Store, key: str) -> dict[str, Any] | None:
    try:
        value = store.get(key)
    except redis.RedisError as error:
        raise StoreUnavailable(str(error)) from error
    loaded: dict[str, Any] | None = json.loads(value) if value is not None else None
    return loaded


def _check_fresh(pending: dict[str, Any], authn_instant: datetime, skew: timedelta) -> None:
    """A forced (ForceAuthn) request must be answered by an authentication made after it."""
    requested = datetime.fromtimestamp(pending.get("requested_at", 0), UTC)
    if pending.get("forced") and authn_instant + skew < requested:
        raise SamlStaleAuthentication(
            "We asked the portal to confirm it is you by signing in again, but it "
            "answered with an earlier sign-in. Please try again.",
            authn_instant=authn_instant.isoformat(),
        )


def _authn_instant(document: Any) -> datetime:
    """When the IdP authenticated the person: the signed assertion's AuthnStatement."""
    values = document.xpath(
        "/samlp:Response/saml:Assertion/saml:AuthnStatement/@AuthnInstant", namespaces=NS
    )
    if len(values) != 1:
        raise SamlResponseRejected(
            "The assertion must say once when you authenticated (AuthnStatement AuthnInstant)."
        )
    return _time(values[0])


def _parse(xml: bytes) -> Any:
    try:
        document = OneLogin_Saml2_XML.to_etree(xml)
    except Exception as error:  # python3-saml raises bare Exception for DTDs
        raise SamlResponseRejected(
            f"The sign-in response is not well-formed XML ({type(error).__name__})."
        ) from None
    if etree.QName(document).text != f"{{{Saml.NS_SAMLP}}}Response":
        raise SamlResponseRejected("The message is not a SAML Response.")
    if document.xpath("//saml:EncryptedAssertion", namespaces=NS):
        raise SamlResponseRejected("Encrypted assertions are not accepted.")
    return document


def _assertion_in_response_to(document: Any) -> str | None:
    values = document.xpath(
        "/samlp:Response/saml:Assertion/saml:Subject/saml:SubjectConfirmation"
        "/saml:SubjectConfirmationData/@InResponseTo",
        namespaces=NS,
    )
    distinct = set(values)
    if len(distinct) > 1:
        raise SamlResponseRejected("The assertion answers more than one request.")
    return distinct.pop() if distinct else None


def _correlate(
    envelope_irt: str | None, assertion_irt: str | None, idp_initiated: bool
) -> str | None:
    """The request ID this response answers, or None for an allowed unsolicited one.

    The signed assertion's InResponseTo is the one that counts: the envelope may be
    unsigned, so an attacker can strip or change it there.
    """
    if envelope_irt is not None and assertion_irt is None:
        raise SamlResponseRejected(
            "The assertion is not bound to the sign-in request it claims to answer."
        )
    if envelope_irt is not None and envelope_irt != assertion_irt:
        raise SamlResponseRejected("The response and its assertion answer different requests.")
    if assertion_irt is None and not idp_initiated:
        raise SamlResponseRejected(
            "Sign-in must start from the license center link; "
            "unsolicited responses are not accepted."
        )
    return assertion_irt


# python3-saml holds SubjectConfirmationData's NotOnOrAfter to its own clock with no
# allowance at all, so a portal whose clock is a little behind ours would have its
# responses refused near the end of their delivery window. To allow the configured skew
# there too, the library reads its clock through this offset (seconds, 0 but while one
# response is validated; per thread and task, being a context variable).
_LIBRARY_CLOCK_OFFSET: ContextVar[int] = ContextVar("saml_library_clock_offset", default=0)
_library_clock = OneLogin_Saml2_Utils.now


def _offset_library_clock() -> int:
    return int(_library_clock()) + _LIBRARY_CLOCK_OFFSET.get()


OneLogin_Saml2_Utils.now = staticmethod(_offset_library_clock)


def _library_validate(
    config: SamlConfig, xml: bytes, request_id: str | None, window_end: datetime | None
) -> OneLogin_Saml2_Response:
    """python3-saml's strict validation, signature included. `window_end`: the delivery
    window's end, when it is past but within the allowed skew (see _check_times); the
    library then validates as of one second before it."""
    request_data = config.endpoints.request_data("/saml/acs")
    offset = 0
    if window_end is not None:
        offset = int(window_end.timestamp()) - 1 - int(_library_clock())
    token = _LIBRARY_CLOCK_OFFSET.set(min(offset, 0))  # only ever back, never ahead
    try:
        response = OneLogin_Saml2_Response(config.login, base64.b64encode(xml).decode())
        response.is_valid(request_data, request_id=request_id, raise_exceptions=True)
    except SamlResponseRejected:
        raise
    except Exception as error:  # python3-saml and lxml raise many types; all mean "invalid"
        raise SamlResponseRejected(f"The sign-in response failed validation: {error}") from None
    finally:
        _LIBRARY_CLOCK_OFFSET.reset(token)
    return response


def _check_envelope(document: Any, config: SamlConfig, now: datetime, skew: timedelta) -> None:
    """The checks python3-saml leaves loose: exact, present, and on time."""
    acs = config.endpoints.acs_url
    if document.get("Destination") != acs:
        raise SamlResponseRejected("The response is addressed to another service (Destination).")
    assertion = document.xpath("/samlp:Response/saml:Assertion", namespaces=NS)[0]
    confirmations = assertion.xpath(
        f"saml:Subject/saml:SubjectConfirmation[@Method='{Saml.CM_BEARER}']/saml:SubjectConfirmationData",
        namespaces=NS,
    )
    if not confirmations or any(c.get("Recipient") != acs for c in confirmations):
        raise SamlResponseRejected("The assertion is meant for another service (Recipient).")
    if any(c.get("NotOnOrAfter") is None for c in confirmations):
        raise SamlResponseRejected(
            "The assertion has no expiry (SubjectConfirmationData NotOnOrAfter)."
        )
    audiences = assertion.xpath(
        "saml:Conditions/saml:AudienceRestriction/saml:Audience/text()", namespaces=NS
    )
    if config.endpoints.entity_id not in audiences:
        raise SamlResponseRejected("The assertion is meant for another service (Audience).")
    conditions = assertion.xpath("saml:Conditions", namespaces=NS)[0]
    if conditions.get("NotOnOrAfter") is None:
        raise SamlResponseRejected("The assertion has no expiry (Conditions NotOnOrAfter).")
    # Its NotBefore and NotOnOrAfter were checked before the library's validation.
    for element in (document, assertion):
        issued = _time(element.get("IssueInstant"))
        if issued - skew > now or issued + PENDING_TTL + skew < now:
            raise SamlResponseRejected(
                "The sign-in response was issued at an implausible time (its IssueInstant is "
                "too far from this server's clock). Check the portal's and this server's clocks."
            )


def _check_times(document: Any, now: datetime, skew: timedelta) -> datetime | None:
    """The assertion's validity (Conditions NotBefore and NotOnOrAfter) and its delivery
    window (SubjectConfirmationData NotOnOrAfter), each within the allowed clock skew
    either way. Returns the delivery window's end when it is past by no more than the
    skew (the library must then be told: see _library_validate), else None."""
    for conditions in document.xpath(
        "/samlp:Response/saml:Assertion/saml:Conditions", namespaces=NS
    ):
        not_before, not_after = conditions.get("NotBefore"), conditions.get("NotOnOrAfter")
        if not_after is not None and _time(not_after) + skew <= now:
            raise SamlResponseRejected(
                "The sign-in response has expired (its NotOnOrAfter is past, beyond the "
                "allowed clock difference). Check the portal's and this server's clocks."
            )
        if not_before is not None and _time(not_before) - skew > now:
            raise SamlResponseRejected(
                "The sign-in response is not yet valid (its NotBefore is ahead, beyond the "
                "allowed clock difference). Check the portal's and this server's clocks."
            )
    windows = document.xpath(
        "/samlp:Response/saml:Assertion/saml:Subject/saml:SubjectConfirmation"
        "/saml:SubjectConfirmationData/@NotOnOrAfter",
        namespaces=NS,
    )
    window_end = max((_time(value) for value in windows), default=None)
    if window_end is None or window_end > now:
        return None
    if window_end + skew <= now:
        raise SamlResponseRejected(
            "The sign-in response has expired (its delivery window, SubjectConfirmationData "
            "NotOnOrAfter, is past, beyond the allowed clock difference). Sign in again; if "
            "it keeps happening, check the portal's and this server's clocks."
        )
    return window_end


def _assertion_expiry(document: Any, now: datetime) -> datetime:
    values = document.xpath(
        "/samlp:Response/saml:Assertion/saml:Conditions/@NotOnOrAfter"
        " | /samlp:Response/saml:Assertion/saml:Subject/saml:SubjectConfirmation"
        "/saml:SubjectConfirmationData/@NotOnOrAfter",
        namespaces=NS,
    )
    return max((_time(v) for v in values), default=now)


def _time(value: str | None) -> datetime:
    if not value:
        raise SamlResponseRejected("The sign-in response lacks a timestamp.")
    try:
        return datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(value), UTC)
    except Exception:
        raise SamlResponseRejected("The sign-in response has an unreadable timestamp.") from None


def _identity(
    response: OneLogin_Saml2_Response, issuer: str, attribute_map: dict[str, str]
) -> Identity:
    """Read identity only from a response already proven valid."""
    attributes = response.get_attributes()

    def single(field: str, *, required: bool) -> str:
        values = attributes.get(attribute_map[field]) or []
        if len(values) > 1:
            raise SamlResponseRejected(
                f"The identity provider sent several values for {attribute_map[field]}."
            )
        value = (values[0] if values else "") or ""
        if required and not value.strip():
            raise SamlResponseRejected(
                f"The identity provider did not send the {attribute_map[field]} attribute."
            )
        return value.strip()

    subject = (response.get_nameid() or "").strip()
    if not subject:
        raise SamlResponseRejected("The identity provider did not name the user (NameID).")
    return Identity(
        subject=subject,
        email=single("email", required=True).lower(),
        first_name=single("first_name", required=False),
        last_name=single("last_name", required=False),
        account_number=single("account_number", required=True),
        issuer=issuer,
        session_index=response.get_session_index(),
        groups=frozenset(
            value.strip() for value in attributes.get(attribute_map["groups"]) or [] if value
        ),
    )
