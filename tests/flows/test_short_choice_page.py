"""The choice page stays short however many entitlements an account holds: Continue
first, then a summary per license center and product line (how many, the nearest end),
and the entitlements themselves behind a disclosure."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

from flask.testing import FlaskClient
from sqlalchemy import insert
from sqlalchemy.orm import Session

from gateway.core.models import Entitlement, EntitlementHolding
from gateway.landing.service import DETAILS_OPEN_ROWS, long_date
from tests import factories
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

# Summary rows: one per product line and license center (here 2 lines on legacy, 1 on new).
VISIBLE_ROWS_AT_MOST = 10


class Page(HTMLParser):
    """Where the Continue button and the first summary table are, and how many table
    rows are shown without opening a disclosure."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.closed_details = 0
        self.visible_rows = 0
        self.hidden_rows = 0
        self._details: list[bool] = []
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "details":
            self._details.append("open" not in names)
            self.closed_details += "open" not in names
        elif tag == "table" and "system-summary" in (names.get("class") or ""):
            self.events.append("summary table")
        elif tag == "tr" and not self._in_header:
            if any(self._details):
                self.hidden_rows += 1
            else:
                self.visible_rows += 1
        elif tag == "button":
            self._in_button = True
        elif tag == "thead":
            self._in_header = True

    _in_header = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self._details.pop()
        elif tag == "button":
            self._in_button = False
        elif tag == "thead":
            self._in_header = False

    def handle_data(self, data: str) -> None:
        if self._in_button and data.strip() == "Continue":
            self.events.append("Continue")


def many(dbs: Session, world: World, account_id: int, count: int) -> None:
    """`count` entitlements of NET held by both systems and of CAD held by legacy."""
    today = date.today()
    ids = []
    for n in range(count):
        line = world.net if n % 2 else world.cad
        ids.append(
            dbs.execute(
                insert(Entitlement).values(
                    external_id=f"BIG-{n:04d}",
                    account_id=account_id,
                    product_line_id=line.id,
                    product=f"Product {n:03d}",
                    unit_of_measure="endpoint",
                    quantity=1200,
                    kind="subscription",
                    start_date=today - timedelta(days=10),
                    end_date=today + timedelta(days=20 + n),
                    status="active",
                )
            ).inserted_primary_key[0]
        )
    holdings = [{"entitlement_id": i, "system_id": world.legacy.id} for i in ids]
    holdings += [
        {"entitlement_id": i, "system_id": world.new.id} for n, i in enumerate(ids) if n % 2
    ]
    dbs.execute(insert(EntitlementHolding), holdings)
    dbs.commit()


def test_three_hundred_entitlements_make_a_short_page_with_continue_first(
    client: FlaskClient, idp: PortalIdP, dbs: Session, world: World
) -> None:
    account = factories.account(dbs, "BIG-1", "Big Corp")
    factories.user(dbs, account, "bea@big.example")
    world.net.state = "new"  # NET moves: legacy keeps CAD, new holds NET
    dbs.commit()
    many(dbs, world, account.id, 300)
    assert sign_in(client, idp, email="bea@big.example", account="BIG-1").location == "/choose"

    html = client.get("/choose").get_data(as_text=True)
    page = Page()
    page.feed(html)
    assert page.events[0] == "Continue" and "summary table" in page.events[1:]
    assert page.visible_rows <= VISIBLE_ROWS_AT_MOST, page.visible_rows
    assert page.hidden_rows == 300 and page.closed_details == 2
    assert html.count('<table class="system-summary">') == 2
    # The summary says how many and when the nearest ends.
    assert "150 entitlements in 1 product line" in html
    nearest = long_date(date.today() + timedelta(days=20))
    assert f"{nearest}</time> (in 20 days)" in html
    assert "1,200 endpoints" in html
    assert 'href="/entitlements"' in html


def test_a_few_entitlements_show_their_details_open(
    client: FlaskClient, idp: PortalIdP, dbs: Session, world: World
) -> None:
    world.net.state = "new"
    dbs.commit()
    factories.entitlement(dbs, world.mixed, world.net, [world.new])
    sign_in(client, idp, email="max@mixed.example", account="100003")
    html = client.get("/choose").get_data(as_text=True)
    assert 0 < len(re.findall(r"<details[^>]*\bopen\b", html)) <= DETAILS_OPEN_ROWS
    assert html.index(">Continue<") < html.index('class="system-summary"')
