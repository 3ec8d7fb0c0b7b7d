"""The one way tests sign a browser in: the real flow, answered by an independent party.

SAML (`via` a PortalIdP): the browser GETs the login URL, pysaml2 as the portal parses
the AuthnRequest our redirect really carries and signs a response with the IdP's key,
and the browser posts it to the ACS. OpenID Connect (`via` the stand-in PortalOP): the
browser GETs the login URL, the stand-in answers over real HTTP, and the browser
follows it back to our callback; who signs in is what the stand-in holds.

Attack tests that need XML no honest IdP emits keep using PortalIdP.spec/response_xml.
"""

from __future__ import annotations

from typing import Any

import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.saml_idp import IDP_SSO_URL, PortalIdP
from tests.sso.portal_op import PortalOP


def sign_in(
    client: FlaskClient,
    via: PortalIdP | PortalOP,
    *,
    email: str | None = None,
    account: str | None = None,
    groups: tuple[str, ...] = (),
    next_target: str | None = None,
    fresh: bool = False,
    start: str | None = None,
    **options: Any,
) -> TestResponse:
    """Sign `client` in and return the answer of the last step (ACS or OIDC callback).

    `start` replaces the default first step (/saml/login, or /login for OIDC) with
    the URL a test arrives from, e.g. /login?fresh=1&next=... ; `options` go to
    pysaml2's response (subject, first_name, sign_response, ...).
    """
    query: dict[str, str] = {"next": next_target} if next_target else {}
    if fresh:
        query["fresh"] = "1"
    if isinstance(via, PortalOP):
        assert email is None and account is None and not groups and not options, (
            "an OIDC sign-in is whoever the stand-in holds: set it with op.reset"
        )
        began = client.get(start or "/login", query_string=query or None)
        assert began.status_code == 302 and began.location.startswith(f"{via.issuer}/authorize?")
        answer = requests.get(began.location, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        return client.get(str(answer.headers["Location"]))
    assert email is not None and account is not None, "a SAML sign-in names email and account"
    began = client.get(start or "/saml/login", query_string=query or None)
    assert began.status_code == 302, began.get_data(as_text=True)
    assert began.location.startswith(IDP_SSO_URL), began.location
    request = via.pysaml2(client).parse_login_redirect(began.location)
    xml = via.pysaml2_response(
        client, request, email=email, account=account, groups=groups, **options
    )
    return via.post(client, xml)
