"""SCIM filters (RFC 7644 §3.4.2.2) on every attribute we keep, and the filters we
refuse: always 400 invalidFilter, and nothing is changed."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent, User
from tests import factories
from tests.organisation.conftest import ScimClient, scim_error
from tests.world import World


@pytest.fixture
def people(world: World, dbs: Session) -> World:
    """Two more users of ready: one provisioned with an externalId, one disabled."""
    factories.user(
        dbs,
        world.ready,
        "Barbara.Jensen@Ready.example",
        first_name="Barbara",
        last_name="Jensen",
        external_id="EXT-Bjensen",
    )
    factories.user(
        dbs,
        world.ready,
        "old@ready.example",
        first_name="Olaf",
        last_name="Old",
        status="disabled",
        external_id="ext-old",
    )
    return world


def _names(scim: ScimClient, text: str) -> set[str]:
    response = scim.get("/Users", query_string={"filter": text, "count": "200"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["totalResults"] == len(response.json["Resources"])
    return {user["userName"] for user in response.json["Resources"]}


BARBARA = "barbara.jensen@ready.example"
OLD = "old@ready.example"
WORLD = {"ada@ready.example", "pat@ready.example", "portal@ready.example", "sam@ready.example"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # userName: case-insensitive (RFC 7643 §4.1.1), eq / co / sw / ew.
        ('userName eq "BARBARA.jensen@ready.example"', {BARBARA}),
        ('userName co "JENSEN"', {BARBARA}),
        ('userName sw "barb"', {BARBARA}),
        ('userName ew "@ready.example"', WORLD | {BARBARA, OLD}),
        ('userName co "_"', set()),  # LIKE's wildcards are literal
        ('userName co "%"', set()),
        # emails, with and without the sub-attribute, and a value filter.
        ('emails.value eq "old@ready.example"', {OLD}),
        ('emails co "jensen"', {BARBARA}),
        ('emails[type eq "work" and value sw "old"]', {OLD}),
        ('emails[type eq "home"]', set()),
        ('emails.primary eq true and userName sw "old"', {OLD}),
        # externalId: case-exact; id.
        ('externalId eq "EXT-Bjensen"', {BARBARA}),
        ('externalId sw "ext-"', {OLD}),
        ("externalId pr", {BARBARA, OLD}),
        ('externalId ne "ext-old"', WORLD | {BARBARA}),  # unassigned is "not equal"
        ('not (externalId eq "ext-old")', WORLD | {BARBARA}),
        # active, also as Entra's string booleans.
        ("active eq false", {OLD}),
        ('active eq "False"', {OLD}),
        ("active ne true", {OLD}),
        # names.
        ('name.givenName eq "barbara"', {BARBARA}),
        ('name.familyName sw "jen" or name.familyName eq "old"', {BARBARA, OLD}),
        # and / or / not / parentheses, attribute names in any case.
        ('USERNAME sw "pat" or username sw "sam"', {"pat@ready.example", "sam@ready.example"}),
        ('userName sw "p" and not (userName sw "portal")', {"pat@ready.example"}),
        ('(userName sw "a" or userName sw "o") and active eq true', {"ada@ready.example"}),
        (
            'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "old@ready.example"',
            {OLD},
        ),
        ('meta.created gt "2000-01-01T00:00:00Z" and userName sw "old"', {OLD}),
    ],
)
def test_filters(scim_ready: ScimClient, people: World, text: str, expected: set[str]) -> None:
    assert _names(scim_ready, text) == expected


def test_filter_on_id(scim_ready: ScimClient, people: World, dbs: Session) -> None:
    pat = dbs.scalar(select(User).where(User.email == "pat@ready.example"))
    assert pat is not None

    assert _names(scim_ready, f'id eq "{pat.public_id}"') == {"pat@ready.example"}
    assert _names(scim_ready, f'id eq "{pat.public_id.upper()}"') == set()


@pytest.mark.parametrize(
    "text",
    [
        'userName xx "a"',  # no such operator
        'nickName eq "babs"',  # not an attribute we keep
        'password eq "secret"',
        'userName eq "unbalanced',
        'userName eq "a" and',
        "(userName pr",
        "userName gt 5",  # a number for a string
        'active eq "maybe"',
        "active gt true",
        'meta.created gt "yesterday"',
        'addresses[type eq "work"]',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"',
        "userName eq " + '"x" or userName eq ' * 200 + '"y"',  # too long
    ],
)
def test_bad_filters_are_invalid_filter_and_change_nothing(
    scim_ready: ScimClient, people: World, dbs: Session, text: str
) -> None:
    users_before = dbs.scalars(select(User.email).order_by(User.id)).all()

    response = scim_ready.get("/Users", query_string={"filter": text})

    scim_error(response, 400, "invalidFilter")
    assert dbs.scalars(select(User.email).order_by(User.id)).all() == users_before
    assert dbs.scalars(select(AuditEvent)).all() == []


def test_group_filters(scim_ready: ScimClient, world: World) -> None:
    def ids(text: str) -> list[str]:
        response = scim_ready.get("/Groups", query_string={"filter": text})
        assert response.status_code == 200
        return [group["id"] for group in response.json["Resources"]]

    assert ids('displayName eq "Admin"') == ["admin"]
    assert ids('displayName sw "l" or id eq "portal"') == ["portal", "licensing"]
    assert ids('not (displayName eq "portal")') == ["licensing", "downloads", "admin"]
    assert ids('displayName eq "engineering"') == []
    scim_error(
        scim_ready.get("/Groups", query_string={"filter": 'members[value eq "x"]'}),
        400,
        "invalidFilter",
    )
    scim_error(
        scim_ready.get("/Groups", query_string={"filter": 'displayName xx "a"'}),
        400,
        "invalidFilter",
    )
