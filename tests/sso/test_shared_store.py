"""Two app instances sharing one Redis behave as one gateway: a sign-in started on
one completes on the other, and a response accepted by one is refused by the other."""

from __future__ import annotations

import pytest
from flask import Flask

from gateway.core.models import Account
from gateway.core.settings import Settings
from gateway.sso.binding import BINDING_COOKIE
from tests.conftest import _reset, make_app
from tests.forms import csrf_token
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.sso.conftest import ACCOUNT, EMAIL

pytestmark = pytest.mark.shared_store


@pytest.fixture
def second_instance(settings: Settings, app: Flask) -> Flask:
    if settings.redis_url is None:
        pytest.skip("the embedded store is per-process by design; set GATEWAY_TEST_REDIS_URL")
    other = make_app(settings)
    yield other
    _reset(other)


def test_signin_started_on_one_instance_completes_on_the_other(
    app: Flask, second_instance: Flask, idp: PortalIdP, account: Account
) -> None:
    started = app.test_client()
    request_id = idp.start(started)
    # The same browser: its cookies (the sign-in's binding cookie) go to either instance.
    binding = started.get_cookie(BINDING_COOKIE, domain="sso.test")
    assert binding is not None
    browser = second_instance.test_client()
    browser.set_cookie(BINDING_COOKIE, binding.value, domain="sso.test")
    spec = idp.spec(email=EMAIL, account=ACCOUNT, in_response_to=request_id)
    assert idp.post(browser, idp.response_xml(spec)).status_code == 302
    assert browser.get("/api/v1/me").status_code == 200


def test_response_replayed_on_the_other_instance_is_refused(
    app: Flask, second_instance: Flask, idp: PortalIdP, account: Account
) -> None:
    first = app.test_client()
    request_id = idp.start(first)
    xml = idp.response_xml(idp.spec(email=EMAIL, account=ACCOUNT, in_response_to=request_id))
    assert idp.post(first, xml).status_code == 302
    attacker = second_instance.test_client()
    reply = idp.post(attacker, xml)
    assert reply.status_code == 400 and "already been used" in reply.get_data(as_text=True)
    assert attacker.get("/api/v1/me").status_code == 401


def test_session_from_one_instance_is_valid_on_the_other_and_logout_ends_it_everywhere(
    app: Flask, second_instance: Flask, idp: PortalIdP, account: Account
) -> None:
    browser = app.test_client()
    sign_in(browser, idp, email=EMAIL, account=ACCOUNT)
    cookie = browser.get_cookie("switchyard_session", domain="sso.test")
    assert cookie is not None
    elsewhere = second_instance.test_client()
    elsewhere.set_cookie("switchyard_session", cookie.value, domain="sso.test")
    assert elsewhere.get("/api/v1/me").status_code == 200
    page = elsewhere.get("/logout").get_data(as_text=True)
    token = csrf_token(page)
    elsewhere.post(
        "/logout", data={"csrf_token": token}, headers={"Referer": "https://sso.test/logout"}
    )
    assert browser.get("/api/v1/me").status_code == 401
