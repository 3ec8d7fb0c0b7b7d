"""Rows for tests, with sensible defaults; each returns the committed object."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from gateway.core.models import (
    Account,
    Entitlement,
    EntitlementHolding,
    Permission,
    ProductLine,
    System,
    User,
)

_sequence = itertools.count(1)


def account(db: Session, number: str | None = None, name: str | None = None) -> Account:
    n = next(_sequence)
    row = Account(account_number=number or f"A-{n:05d}", name=name or f"Customer {n}")
    db.add(row)
    db.commit()
    return row


def user(
    db: Session,
    account_row: Account,
    email: str | None = None,
    permissions: tuple[str, ...] = ("portal", "licensing", "downloads"),
    **fields: Any,
) -> User:
    n = next(_sequence)
    row = User(
        email=(email or f"user{n}@example.com").lower(),
        account_id=account_row.id,
        first_name=fields.pop("first_name", "Pat"),
        last_name=fields.pop("last_name", f"User{n}"),
        permissions=[Permission(name=p) for p in permissions],
        **fields,
    )
    db.add(row)
    db.commit()
    return row


def system(db: Session, key: str, entry_url: str | None = None) -> System:
    row = System(
        key=key,
        name=f"{key.title()} license center",
        entry_url=entry_url or f"https://{key}.licenses.test/start",
    )
    db.add(row)
    db.commit()
    return row


def product_line(db: Session, code: str, state: str = "legacy") -> ProductLine:
    row = ProductLine(code=code, name=f"{code} suite", state=state)
    db.add(row)
    db.commit()
    return row


def entitlement(
    db: Session,
    account_row: Account,
    line: ProductLine,
    systems: list[System],
    *,
    days_left: int = 365,
    **fields: Any,
) -> Entitlement:
    n = next(_sequence)
    values: dict[str, Any] = {
        "external_id": f"E-{n:06d}",
        "account_id": account_row.id,
        "product_line_id": line.id,
        "product": f"{line.code} Server",
        "unit_of_measure": "seat",
        "quantity": Decimal(25),
        "kind": "subscription",
        "start_date": date.today() - timedelta(days=30),
        "end_date": date.today() + timedelta(days=days_left),
        "status": "active",
    }
    values.update(fields)
    row = Entitlement(**values)
    row.holdings = [EntitlementHolding(system_id=s.id) for s in systems]
    db.add(row)
    db.commit()
    return row
