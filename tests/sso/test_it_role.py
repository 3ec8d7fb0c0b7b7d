"""The IT role comes only from the IdP's IT group; a customer org admin is not IT."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.core.settings import Settings
from gateway.sso.identity import Identity
from gateway.sso.service import roles_of
from tests.conftest import _reset, https_client, make_app
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World


def identity(groups: frozenset[str]) -> Identity:
    return Identity("s", "a@b.example", "A", "B", "1", "idp", None, groups)


def test_only_the_configured_group_grants_it() -> None:
    def roles(groups: set[str]) -> list[str]:
        return roles_of(identity(frozenset(groups)), "switchyard-it", "switchyard-support")

    assert roles({"switchyard-it", "staff"}) == ["it"]
    assert roles({"admins", "Switchyard-IT"}) == []
    assert roles(set()) == []


def test_only_the_configured_group_grants_support() -> None:
    def roles(groups: set[str]) -> list[str]:
        return roles_of(identity(frozenset(groups)), "switchyard-it", "switchyard-support")

    assert roles({"switchyard-support", "staff"}) == ["support"]
    assert roles({"Switchyard-Support", "support"}) == []
    # One person may be in both groups; each role comes from its own group.
    assert roles({"switchyard-support", "switchyard-it"}) == ["it", "support"]


def test_it_group_member_lands_in_the_console(
    client: FlaskClient, idp: PortalIdP, world: World
) -> None:
    reply = sign_in(
        client,
        idp,
        email="it@vendor.example",
        account="VENDOR-1",
        groups=("switchyard-it", "staff"),
    )
    assert (reply.status_code, reply.location) == (302, "/it/")
    assert client.get("/it/").status_code == 200


def test_org_admin_permission_is_not_it(client: FlaskClient, idp: PortalIdP, world: World) -> None:
    sign_in(client, idp, email="ada@ready.example", account="100001", groups=("customer-admins",))
    assert client.get("/api/v1/me").get_json()["permissions"] == ["admin", "portal"]
    assert client.get("/it/").status_code == 403


@pytest.fixture
def custom_group_app(settings: Settings) -> Flask:
    overrides = {
        "it_group": "ops-team",
        "saml_attribute_map": {
            "email": "email",
            "first_name": "firstName",
            "last_name": "lastName",
            "account_number": "accountId",
            "groups": "memberOf",
        },
    }
    app = make_app(settings.model_copy(update=overrides))
    yield app
    _reset(app)


def test_group_attribute_name_and_it_group_are_configurable(
    custom_group_app: Flask, idp: PortalIdP, world: World
) -> None:
    client = https_client(custom_group_app)
    request_id = idp.start(client)
    spec = idp.spec(email="it@vendor.example", account="VENDOR-1", in_response_to=request_id)
    spec.attributes["memberOf"] = ["ops-team"]
    spec.attributes["groups"] = ["switchyard-it"]  # the default name no longer counts
    idp.post(client, idp.response_xml(spec))
    assert client.get("/it/").status_code == 200


def test_attribute_map_without_groups_gets_the_default_name() -> None:
    mapping = {"email": "e", "first_name": "f", "last_name": "l", "account_number": "a"}
    assert Settings(saml_attribute_map=mapping).saml_attribute_map["groups"] == "groups"
