"""Binding a SAML sign-in to the browser that started it (login CSRF at the ACS).

A SAMLResponse names only the AuthnRequest it answers. Without more, an attacker
starts a sign-in in their own browser, obtains a valid response for their own
account and has a victim's browser post it: the victim is then signed in as the
attacker. So /saml/login gives the browser a random cookie, the pending request
keeps its SHA-256 digest, and the ACS accepts a solicited response only from a
browser that holds it. IdP-initiated responses (when enabled) answer no request
and carry no binding: they are the documented exception.

The IdP's POST to the ACS is cross-site, so the cookie is SameSite=None, which
browsers store only when it is also Secure. On a plain-http loopback URL (a
laptop) it cannot be Secure; browsers drop SameSite=None without Secure, so it is
SameSite=Lax there, which the same-site development IdP's POST still carries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from gateway.sso.config import SamlEndpoints
from gateway.sso.errors import SamlResponseRejected

BINDING_COOKIE = "switchyard_saml_binding"
BINDING_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class SamlOtherBrowser(SamlResponseRejected):
    """A response for a sign-in another browser started: login CSRF, or a lost cookie."""

    event = "saml.browser_mismatch"


def browser_binding(current: str | None) -> str:
    """The browser's binding secret: the one it already holds (several tabs may be
    signing in at once), or a new random one."""
    if current and BINDING_FORMAT.fullmatch(current):
        return current
    return secrets.token_urlsafe(32)


def binding_digest(binding: str) -> str:
    """What the pending request keeps; the secret itself stays in the browser."""
    return hashlib.sha256(binding.encode()).hexdigest()


def is_loopback_http(endpoints: SamlEndpoints) -> bool:
    """Whether our public URL is plain http on this machine (http://localhost...)."""
    host = urlsplit(f"//{endpoints.host}").hostname or ""
    loopback = host in LOOPBACK_HOSTS or host.endswith(".localhost") or host.startswith("127.")
    return not endpoints.https and loopback


def binding_cookie_options(endpoints: SamlEndpoints, lifetime: timedelta) -> dict[str, Any]:
    """Flask set_cookie arguments: HttpOnly and cross-site capable. Path is the whole
    site, not just the ACS, so /login and /saml/login see it again and a second tab
    signing in keeps the first tab's binding valid."""
    laptop = is_loopback_http(endpoints)
    return {
        "max_age": int(lifetime.total_seconds()),
        "path": f"{endpoints.path_prefix}/",
        "httponly": True,
        "secure": not laptop,
        "samesite": "Lax" if laptop else "None",
    }


def check_same_browser(pending: dict[str, Any], binding: str | None, request_id: str) -> None:
    """The browser posting the response must hold the cookie /saml/login gave the
    browser that started this sign-in."""
    expected = pending.get("binding")
    if not binding or not expected or not hmac.compare_digest(binding_digest(binding), expected):
        raise SamlOtherBrowser(
            "This sign-in was started in another browser (or this browser lost the "
            "cookie it was given when the sign-in started). Start the sign-in again here.",
            in_response_to=request_id,
        )
