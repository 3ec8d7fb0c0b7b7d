"""A scripted browser for the running demo: a requests.Session that signs in at the
development IdP, posts forms with their CSRF tokens and follows every redirect."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from gateway.devidp.servers import RunningDemo

TIMEOUT = 10


def form_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no {name} in {html[:2000]}"
    return match.group(1)


def element_attribute(html: str, element_id: str, attribute: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*{attribute}="([^"]*)"', html)
    assert match, f"no #{element_id} in {html[:2000]}"
    return match.group(1).replace("&amp;", "&")


def path_of(response: requests.Response) -> str:
    return urlsplit(response.url).path


@dataclass
class DemoBrowser:
    """One browser (one cookie jar) against the demo's three servers."""

    demo: RunningDemo
    http: requests.Session = field(default_factory=requests.Session)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.http.get(url, timeout=TIMEOUT, **kwargs)

    def post(self, url: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        return self.http.post(url, data=data, timeout=TIMEOUT, **kwargs)

    def sign_in(self, email: str) -> requests.Response:
        """Open the gateway, pick `email` at the development IdP, post the SAML response;
        the last answer after every redirect (a license center, or a gateway page)."""
        idp_page = self.get(f"{self.demo.gateway_url}/")
        assert "Community portal (development IdP)" in idp_page.text, idp_page.url
        form = {
            name: form_value(idp_page.text, name)
            for name in ("csrf_token", "SAMLRequest", "RelayState")
        }
        autopost = self.post(f"{self.demo.gateway_url}/dev-idp/sso", {**form, "email": email})
        assert autopost.status_code == 200, autopost.text
        acs = re.search(r'<form method="post" action="([^"]+)"', autopost.text)
        assert acs, autopost.text
        response = {
            name: form_value(autopost.text, name) for name in ("SAMLResponse", "RelayState")
        }
        return self.post(acs.group(1), response)

    def choose(self, system: str) -> requests.Response:
        """Pick `system` on the gateway's choice page."""
        page = self.get(f"{self.demo.gateway_url}/choose")
        assert path_of(page) == "/choose", page.url
        token = form_value(page.text, "csrf_token")
        return self.post(f"{self.demo.gateway_url}/choose", {"csrf_token": token, "system": system})

    def sign_out_at_gateway(self) -> requests.Response:
        page = self.get(f"{self.demo.gateway_url}/logout")
        return self.post(
            f"{self.demo.gateway_url}/logout", {"csrf_token": form_value(page.text, "csrf_token")}
        )

    def me(self, center_url: str) -> dict[str, Any]:
        """Who the license center at `center_url` says is signed in in this browser."""
        answer: dict[str, Any] = self.get(f"{center_url}/me").json()
        return answer
