"""Single logout towards relying parties, RP-initiated logout, and the routing hand-off."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.core.models import Account, System
from gateway.provider.clients import add_client
from tests import factories
from tests.conftest import BASE_URL, SECRET
from tests.forms import csrf_token
from tests.provider.backchannel_peer import PeerState, delivery_events, running_peer
from tests.provider.conftest import ACCOUNT, EMAIL, REDIRECT_URI, RelyingParty
from tests.saml_idp import PortalIdP
from tests.signin import sign_in

SAME_ORIGIN = {"Referer": f"{BASE_URL}/logout"}


@pytest.fixture
def receiver() -> Iterator[tuple[str, PeerState]]:
    with running_peer() as (url, state):
        yield f"{url}/backchannel", state


def signout_form_token(client: FlaskClient) -> str:
    return csrf_token(client.get("/logout").get_data(as_text=True))


def test_signing_out_sends_a_verifiable_logout_token_to_each_relying_party(
    browser: FlaskClient, dbs: Session, systems: dict[str, System], receiver: tuple[str, PeerState]
) -> None:
    url, state = receiver
    center = add_client(
        dbs,
        name="New",
        redirect_uris=[REDIRECT_URI],
        actor="test",
        secret_key=SECRET,
        backchannel_logout_uri=url,
        system_key="new",
    )
    rp = RelyingParty(center.client_id, center.client_secret or "")
    tokens, _ = rp.sign_in_and_redeem(browser)
    id_claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    with delivery_events() as events:
        browser.post(
            "/logout", data={"csrf_token": signout_form_token(browser)}, headers=SAME_ORIGIN
        )
        assert browser.get("/api/v1/me").status_code == 401
        events.wait_for("oidc.backchannel_logout_delivered")
    (logout_token,) = state.tokens("/backchannel")
    keys = browser.get("/oidc/jwks").get_json()["keys"]
    header = jwt.get_unverified_header(logout_token)
    key = jwt.PyJWK.from_dict(next(k for k in keys if k["kid"] == header["kid"])).key
    claims = jwt.decode(
        logout_token, key, algorithms=[header["alg"]], audience=center.client_id, issuer=BASE_URL
    )
    assert header["typ"] == "logout+jwt" and "nonce" not in claims
    assert claims["sub"] == id_claims["sub"] and claims["sid"] == id_claims["sid"]
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]


def test_rp_initiated_logout_with_hint_ends_session_and_returns_to_registered_uri(
    browser: FlaskClient, rp: RelyingParty
) -> None:
    tokens, _ = rp.sign_in_and_redeem(browser)
    reply = browser.get(
        "/oidc/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "state": "s1",
            "post_logout_redirect_uri": "https://legacy.licenses.test/bye",
        },
    )
    assert (
        reply.status_code == 302 and reply.location == "https://legacy.licenses.test/bye?state=s1"
    )
    assert browser.get("/api/v1/me").status_code == 401


def test_rp_initiated_logout_refuses_an_unregistered_return_address(
    browser: FlaskClient, rp: RelyingParty
) -> None:
    tokens, _ = rp.sign_in_and_redeem(browser)
    reply = browser.get(
        "/oidc/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://evil.test/",
        },
    )
    assert reply.status_code == 400 and "evil.test" not in reply.headers.get("Location", "")
    assert browser.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("hint", ["", "not-a-jwt", "forged"])
def test_logout_link_without_a_valid_hint_only_asks_to_confirm(
    browser: FlaskClient, rp: RelyingParty, hint: str
) -> None:
    if hint == "forged":
        hint = jwt.encode(
            {"iss": BASE_URL, "aud": rp.client_id, "sub": "x"}, "k" * 32, algorithm="HS256"
        )
    reply = browser.get("/oidc/logout", query_string={"id_token_hint": hint})
    assert reply.status_code == 200 and "Sign out?" in reply.get_data(as_text=True)
    assert browser.get("/api/v1/me").status_code == 200


def test_routing_hands_off_through_the_systems_initiate_login_uri(
    client: FlaskClient,
    idp: PortalIdP,
    dbs: Session,
    account: Account,
    systems: dict[str, System],
    rp: RelyingParty,
) -> None:
    line = factories.product_line(dbs, "NETGUARD", "legacy")
    factories.entitlement(dbs, account, line, [systems["legacy"]])
    reply = sign_in(client, idp, email=EMAIL, account=ACCOUNT)
    assert reply.status_code == 302
    parts = urlsplit(reply.location)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://legacy.licenses.test/oidc/login"
    )
    query = parse_qs(parts.query)
    assert query["iss"] == [BASE_URL] and query["login_hint"] == [EMAIL]
    assert query["target_link_uri"] == [systems["legacy"].entry_url]


def test_single_logout_from_the_portal_reaches_the_relying_parties(
    browser: FlaskClient,
    dbs: Session,
    systems: dict[str, System],
    idp: PortalIdP,
    receiver: tuple[str, PeerState],
) -> None:
    from tests.saml_idp import deflate_encode, logout_request_xml, signed_redirect_query

    url, state = receiver
    center = add_client(
        dbs,
        name="Legacy",
        redirect_uris=[REDIRECT_URI],
        actor="test",
        secret_key=SECRET,
        backchannel_logout_uri=url,
        system_key="legacy",
    )
    RelyingParty(center.client_id, center.client_secret or "").sign_in_and_redeem(browser)
    subject = f"portal-{EMAIL}"
    request = logout_request_xml(f"{BASE_URL}/saml/sls", subject)
    query = signed_redirect_query(idp.key, "SAMLRequest", deflate_encode(request))
    with delivery_events() as events:
        assert browser.get("/saml/sls", query_string=query).status_code == 302
        assert browser.get("/api/v1/me").status_code == 401
        events.wait_for("oidc.backchannel_logout_delivered")
    assert len(state.tokens("/backchannel")) == 1


def test_choice_page_lets_the_form_reach_each_centers_login_initiation(
    client: FlaskClient, idp: PortalIdP, dbs: Session, account: Account, systems: dict[str, System]
) -> None:
    # Browsers check form-action against the redirect after the POST too: the
    # hand-off goes to the client's initiate_login_uri, which may be another origin.
    add_client(
        dbs,
        name="Legacy",
        redirect_uris=[REDIRECT_URI],
        actor="test",
        secret_key=SECRET,
        initiate_login_uri="https://login.legacy.test/oidc/login",
        system_key="legacy",
    )
    line_old = factories.product_line(dbs, "NETGUARD", "legacy")
    line_new = factories.product_line(dbs, "CLOUDVAULT", "new")
    factories.entitlement(dbs, account, line_old, [systems["legacy"]])
    factories.entitlement(dbs, account, line_new, [systems["new"]])
    assert sign_in(client, idp, email=EMAIL, account=ACCOUNT).location.endswith("/choose")
    policy = client.get("/choose").headers["Content-Security-Policy"]
    form_action = policy.split("form-action", 1)[1].split(";", 1)[0]
    assert "https://login.legacy.test" in form_action and "https://new.licenses.test" in form_action
