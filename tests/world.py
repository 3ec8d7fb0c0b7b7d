"""The sample directory most tests start from, built with tests/factories.py.

Tests that need more (another account, a line already on the new system) add it with
plain factory calls on top of this one world.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.core.models import Account, ProductLine, System
from tests import factories


@dataclass
class World:
    """Systems legacy and new; line NET on legacy, line CAD on legacy; four accounts.

    - ready (100001): NET held by both systems (2 entitlements), 2 routable users + 1 portal-only
      and an org admin (ada@ready.example)
    - waiting (100002): NET held by legacy only (the new system has no data yet), 1 user
    - mixed (100003): NET held by both, CAD by legacy only, 1 user: moving NET offers a choice
    - other (100004): CAD only, 1 user
    - vendor (VENDOR-1): the vendor's own account, where IT staff sign in; no entitlements
    """

    legacy: System
    new: System
    net: ProductLine
    cad: ProductLine
    ready: Account
    waiting: Account
    mixed: Account
    other: Account
    vendor: Account


def build_world(db: Session) -> World:
    legacy, new = factories.system(db, "legacy"), factories.system(db, "new")
    net, cad = factories.product_line(db, "NET"), factories.product_line(db, "CAD")
    ready, waiting = factories.account(db, "100001"), factories.account(db, "100002")
    mixed, other = factories.account(db, "100003"), factories.account(db, "100004")
    vendor = factories.account(db, "VENDOR-1", "Switchyard vendor")
    for _ in range(2):
        factories.entitlement(db, ready, net, [legacy, new])
    factories.entitlement(db, waiting, net, [legacy])
    factories.entitlement(db, mixed, net, [legacy, new])
    factories.entitlement(db, mixed, cad, [legacy])
    factories.entitlement(db, other, cad, [legacy])
    factories.user(db, ready, "pat@ready.example")
    factories.user(db, ready, "sam@ready.example")
    factories.user(db, ready, "portal@ready.example", permissions=("portal",))
    factories.user(db, waiting, "wes@waiting.example")
    factories.user(db, mixed, "max@mixed.example")
    factories.user(db, other, "oli@other.example")
    factories.user(db, ready, "ada@ready.example", permissions=("portal", "admin"))
    return World(legacy, new, net, cad, ready, waiting, mixed, other, vendor)
