"""GET /api/v1/me/entitlements: the page's rows as JSON for the signed-in session, as
the OpenAPI document describes them."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from gateway.api_document import openapi_document
from tests import factories
from tests.world import World

PATH = "/api/v1/me/entitlements"


def answer_schema() -> Draft202012Validator:
    document = openapi_document()
    schema = {
        "$ref": "#/components/schemas/MyEntitlements",
        **{"components": document["components"]},
    }
    return Draft202012Validator(schema)


def test_the_signed_in_users_entitlements_as_documented(
    user_client: FlaskClient, dbs: Session, world: World
) -> None:
    made = factories.entitlement(
        dbs,
        world.ready,
        world.cad,
        [world.new],
        product="Insight",
        unit_of_measure="revenue",
        quantity=Decimal("5000000.00"),
        days_left=14,
    )
    factories.entitlement(dbs, world.waiting, world.cad, [world.new], product="Not ours")
    reply = user_client.get(PATH)
    assert reply.status_code == 200
    body = reply.get_json()
    answer_schema().validate(body)
    assert (body["total"], body["page"], body["pages"], body["per_page"]) == (3, 1, 1, 50)
    first = body["entitlements"][0]
    assert first == {
        "id": made.external_id,
        "product_line": {"code": "CAD", "name": "CAD suite"},
        "product": "Insight",
        "quantity": "5000000",
        "unit": "revenue",
        "quantity_text": "5,000,000 USD revenue",
        "kind": "subscription",
        "start_date": (date.today() - timedelta(days=30)).isoformat(),
        "end_date": (date.today() + timedelta(days=14)).isoformat(),
        "days_left": 14,
        "systems": [{"key": "new", "name": "New license center"}],
        "status": "active",
    }
    assert "Not ours" not in reply.get_data(as_text=True)


def test_filters_sort_and_pages(user_client: FlaskClient, dbs: Session, world: World) -> None:
    for n in range(5):
        factories.entitlement(dbs, world.ready, world.cad, [world.legacy], days_left=10 + n)
    page = user_client.get(PATH, query_string={"line": "CAD", "per_page": 2, "page": 3}).get_json()
    assert (page["total"], page["pages"], len(page["entitlements"])) == (5, 3, 1)
    assert page["entitlements"][0]["days_left"] == 14
    latest = user_client.get(PATH, query_string={"sort": "end", "dir": "desc"}).get_json()
    assert latest["entitlements"][0]["product_line"]["code"] == "NET"
    soon = user_client.get(PATH, query_string={"expiring_within": 11}).get_json()
    assert [e["days_left"] for e in soon["entitlements"]] == [10, 11]
    held = user_client.get(PATH, query_string={"system": "new"}).get_json()
    assert held["total"] == 2  # the world's NET, held by both


def test_queries_outside_the_document_are_refused(user_client: FlaskClient) -> None:
    for query in ({"per_page": 500}, {"sort": "price"}, {"kind": "lease"}, {"page": 0}):
        reply = user_client.get(PATH, query_string=query)
        assert reply.status_code == 422, query
        assert reply.mimetype == "application/problem+json"


def test_no_session_is_401_and_portal_only_is_403(
    client: FlaskClient, portal_client: FlaskClient
) -> None:
    assert client.get(PATH).status_code == 401
    refused = portal_client.get(PATH)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert "administrators decide" in refused.get_json()["detail"]
