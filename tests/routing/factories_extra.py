"""Row builders for routing tests, on top of tests/factories.py."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.core.models import Account
from tests import factories


def admin(
    db: Session, account_row: Account, first_name: str, last_name: str, email: str, **fields: object
) -> None:
    """An org admin (admin permission only) in `account_row`."""
    factories.user(
        db,
        account_row,
        email=email,
        permissions=("admin",),
        first_name=first_name,
        last_name=last_name,
        **fields,
    )
