"""Row builders for routing tests, on top of tests/factories.py."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.core.models import Account, ProductLine, System
from tests import factories


@dataclass
class Landscape:
    """Both license centers and one product line in each state."""

    legacy: System
    new: System
    legacy_line: ProductLine
    new_line: ProductLine


def landscape(db: Session) -> Landscape:
    """Systems `legacy` and `new`, line CAD on legacy and line PLM moved to new."""
    return Landscape(
        legacy=factories.system(db, "legacy"),
        new=factories.system(db, "new"),
        legacy_line=factories.product_line(db, "CAD", "legacy"),
        new_line=factories.product_line(db, "PLM", "new"),
    )


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
