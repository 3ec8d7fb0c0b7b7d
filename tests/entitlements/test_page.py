"""/entitlements and /entitlements.csv over HTTP: the signed-in user's own account only,
terms ending soon marked with words and classes, filters, order and pages from the GET
form, a CSV a strict reader accepts, and portal-only users sent to their admins."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import Account, Entitlement
from gateway.entitlements.service import CSV_HEADER
from tests import factories
from tests.conftest import https_client
from tests.world import World


def rows_of(html: str) -> list[str]:
    """The page's entitlement rows, as their opening <tr> tags, in order."""
    return re.findall(r'<tr class="entitlement[^"]*" data-entitlement="[^"]+">', html)


def ids_of(html: str) -> list[str]:
    return re.findall(r'data-entitlement="([^"]+)"', html)


@pytest.fixture
def terms(dbs: Session, world: World) -> dict[str, str]:
    """Account 100001 (pat's) with terms ending at every band, ended, and perpetual."""
    made = {}
    for name, days in (("d10", 10), ("d45", 45), ("d80", 80), ("d200", 200), ("ended", -5)):
        made[name] = factories.entitlement(
            dbs, world.ready, world.cad, [world.legacy], days_left=days, product=f"CAD {name}"
        ).external_id
    made["perpetual"] = factories.entitlement(
        dbs,
        world.ready,
        world.cad,
        [world.new],
        kind="perpetual",
        product="CAD forever",
        end_date=date.today()
        + timedelta(days=3),  # a perpetual licence has no term, whatever its row says
    ).external_id
    return made


def test_not_signed_in_goes_through_sign_in_and_back(client: FlaskClient) -> None:
    reply = client.get("/entitlements?line=NET")
    assert reply.status_code == 302
    parts = urlsplit(reply.location)
    assert parse_qs(parts.query)["next"] == ["/entitlements?line=NET"]
    assert client.get("/entitlements.csv").status_code == 302


def test_a_customer_sees_their_own_accounts_entitlements_only(
    user_client: FlaskClient, dbs: Session, world: World
) -> None:
    other = factories.entitlement(dbs, world.waiting, world.net, [world.legacy], product="Theirs")
    page = user_client.get("/entitlements")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert len(rows_of(html)) == 2 and "NET Server" in html
    assert other.external_id not in html and "Theirs" not in html
    assert "25 seats" in html and "Legacy license center, New license center" in html
    assert 'href="/entitlements" class="masthead-link">Your entitlements</a>' in html
    assert "<script" not in html and "style=" not in html


def test_terms_ending_soon_are_marked_with_the_day_count(
    user_client: FlaskClient, terms: dict[str, str]
) -> None:
    html = user_client.get("/entitlements").get_data(as_text=True)
    row = {
        match.group(2): match.group(1)
        for match in re.finditer(
            r'<tr class="entitlement ?([^"]*)" data-entitlement="([^"]+)">', html
        )
    }
    assert row[terms["d10"]] == "expires-30"
    assert row[terms["d45"]] == "expires-60"
    assert row[terms["d80"]] == "expires-90"
    assert row[terms["d200"]] == "" and row[terms["perpetual"]] == ""
    assert row[terms["ended"]] == "expired"
    # Words, not colour only.
    for words in ("10 days left", "45 days left", "80 days left", "Ended 5 days ago"):
        assert words in html
    for band in (30, 60, 90):
        assert (
            f'<strong class="expiry-badge expires-{band}">Ends within {band} days</strong>' in html
        )
    assert html.count("No end date") >= 1  # the perpetual licence


def test_sorted_by_end_soonest_first_then_turned_around(
    user_client: FlaskClient, terms: dict[str, str]
) -> None:
    first = ids_of(user_client.get("/entitlements").get_data(as_text=True))
    assert first[:4] == [terms["ended"], terms["d10"], terms["d45"], terms["d80"]]
    assert first[-1] == terms["perpetual"]  # no end date: last either way
    latest = ids_of(user_client.get("/entitlements?sort=end&dir=desc").get_data(as_text=True))
    mine = [terms[name] for name in ("d200", "d80", "d45", "d10", "ended")]
    assert [i for i in latest if i in mine] == mine and latest[-1] == terms["perpetual"]
    by_days = ids_of(user_client.get("/entitlements?sort=days_left").get_data(as_text=True))
    assert by_days == first
    by_product = ids_of(user_client.get("/entitlements?sort=product").get_data(as_text=True))
    assert by_product[0] == terms["d10"]  # "CAD d10" < "CAD d200" < ... < "NET Server"


def test_filters_by_line_system_kind_and_expiry(
    user_client: FlaskClient, terms: dict[str, str]
) -> None:
    def shown(query: str) -> set[str]:
        return set(ids_of(user_client.get(f"/entitlements?{query}").get_data(as_text=True)))

    assert len(shown("line=CAD")) == 6 and len(shown("line=NET")) == 2
    assert shown("system=new") - {terms["perpetual"]} == shown("line=NET")
    assert shown("kind=perpetual") == {terms["perpetual"]}
    assert shown("within=60") == {terms["d10"], terms["d45"]}
    assert shown("within=0") == set()
    assert shown("line=CAD&within=90&kind=subscription") == {
        terms["d10"],
        terms["d45"],
        terms["d80"],
    }
    # Nonsense filters nothing and breaks nothing.
    assert len(shown("kind=bogus&within=-3&sort=drop&dir=sideways&page=x")) == 8
    assert len(shown("within=%C2%B2&page=%C2%B2&per_page=9999999999")) == 8
    assert shown("line=NOPE") == set()


def test_pages_of_fifty_in_sql_order(user_client: FlaskClient, dbs: Session, world: World) -> None:
    for n in range(118):  # 120 with the world's two
        factories.entitlement(
            dbs, world.ready, world.cad, [world.legacy], days_left=100 + n, product=f"Bulk {n:03d}"
        )
    first = user_client.get("/entitlements").get_data(as_text=True)
    second = user_client.get("/entitlements?page=2").get_data(as_text=True)
    third = user_client.get("/entitlements?page=3").get_data(as_text=True)
    beyond = user_client.get("/entitlements?page=99").get_data(as_text=True)
    assert [len(rows_of(p)) for p in (first, second, third)] == [50, 50, 20]
    assert "Page 1 of 3" in first and "Page 3 of 3" in beyond
    assert ids_of(beyond) == ids_of(third)
    everything = ids_of(first) + ids_of(second) + ids_of(third)
    assert len(set(everything)) == 120
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert 'rel="prev"' in third and 'rel="next"' not in third
    # The pager keeps the filters and order.
    sorted_page = user_client.get("/entitlements?sort=product&dir=desc").get_data(as_text=True)
    assert "/entitlements?sort=product&amp;dir=desc&amp;page=2" in sorted_page
    assert len(rows_of(user_client.get("/entitlements?per_page=7").get_data(as_text=True))) == 7


def test_the_csv_reads_strictly_with_every_matching_row(
    user_client: FlaskClient, dbs: Session, world: World, terms: dict[str, str]
) -> None:
    factories.entitlement(
        dbs,
        world.ready,
        world.cad,
        [world.legacy, world.new],
        product='=HYPERLINK("https://evil.example")',
        unit_of_measure="revenue",
        quantity=Decimal("5000000.00"),
    )
    reply = user_client.get("/entitlements.csv?line=CAD&sort=product")
    assert reply.status_code == 200 and reply.mimetype == "text/csv"
    assert reply.headers["Content-Disposition"].startswith(
        'attachment; filename="entitlements-100001-'
    )
    rows = list(csv.reader(io.StringIO(reply.get_data(as_text=True), newline=""), strict=True))
    assert tuple(rows[0]) == CSV_HEADER
    body = [dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]]
    assert len(body) == 7
    evil = body[0]
    assert evil["product"].startswith("'=HYPERLINK")
    assert (evil["quantity"], evil["unit_of_measure"]) == ("5000000", "revenue")
    assert evil["quantity_text"] == "5,000,000 USD revenue"
    assert evil["license_centers"] == "legacy new"
    ended = next(row for row in body if row["entitlement"] == terms["ended"])
    assert ended["days_left"] == "-5"
    # The row's own date, not one computed here: a run that crosses midnight made it a day on.
    ended_on = dbs.scalar(
        select(Entitlement.end_date).where(Entitlement.external_id == terms["ended"])
    )
    assert ended_on is not None and ended["end_date"] == ended_on.isoformat()
    forever = next(row for row in body if row["entitlement"] == terms["perpetual"])
    assert (forever["end_date"], forever["days_left"]) == ("", "")


def test_numbers_follow_the_readers_language(
    user_client: FlaskClient, dbs: Session, world: World
) -> None:
    factories.entitlement(
        dbs,
        world.ready,
        world.cad,
        [world.legacy],
        unit_of_measure="revenue",
        quantity=Decimal(5_000_000),
    )
    german = user_client.get("/entitlements", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "5.000.000 USD revenue" in german.get_data(as_text=True)
    english = user_client.get("/entitlements")
    assert "5,000,000 USD revenue" in english.get_data(as_text=True)


def test_portal_only_users_are_told_their_admins_decide(
    portal_client: FlaskClient, world: World
) -> None:
    page = portal_client.get("/entitlements")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Your organisation's administrators decide" in html
    assert "ada@ready.example" in html
    assert "NET Server" not in html and "data-entitlement" not in html
    csv_reply = portal_client.get("/entitlements.csv")
    assert csv_reply.status_code == 403 and "NET Server" not in csv_reply.get_data(as_text=True)


def test_an_admin_without_licensing_is_pointed_at_their_console(
    admin_client: FlaskClient,
) -> None:
    html = admin_client.get("/entitlements").get_data(as_text=True)
    assert "You are one of its administrators" in html and 'href="/org/"' in html


def test_vendor_it_gets_no_entitlements_link(it_client: FlaskClient) -> None:
    html = it_client.get("/it/").get_data(as_text=True)
    assert "Your entitlements" not in html


def test_an_account_without_entitlements_says_so(
    app: object, dbs: Session, idp: object, world: World
) -> None:
    from tests.signin import sign_in

    empty: Account = factories.account(dbs, "EMPTY-1", "Empty Ltd")
    factories.user(dbs, empty, "eve@empty.example")
    client = https_client(app)  # type: ignore[arg-type]
    sign_in(client, idp, email="eve@empty.example", account="EMPTY-1")  # type: ignore[arg-type]
    html = client.get("/entitlements").get_data(as_text=True)
    assert "Empty Ltd holds no entitlements yet." in html
