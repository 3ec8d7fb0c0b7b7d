"""Changes that send accounts from the new system back to legacy need an explicit
confirmation (a rollback is that confirmation by name).

Customers moved to new have started working there; sending them back unannounced is the
defect IT met when a pilot line moved to rollout. So the warning a preview shows is also
enforced where a change is made, for the console, the API and the CLI alike: the change is
previewed again against the database as it is now, and refused when it moves anyone back
without `confirmed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.core.store import Store
from gateway.migration.errors import BackToLegacyUnconfirmed
from gateway.routing.config import LineConfig, load_routing_config
from gateway.routing.preview import Preview, preview_change


@dataclass(frozen=True)
class ReturnCheck:
    """Whether IT confirmed sending accounts back to legacy, and the entitlement grace
    period (GATEWAY_ENTITLEMENT_GRACE_DAYS) the check previews with."""

    confirmed: bool = False
    grace_days: int = 0


def refuse_unconfirmed_return(
    db: Session, store: Store, proposed: LineConfig, check: ReturnCheck | None, *, now: datetime
) -> None:
    """Raise BackToLegacyUnconfirmed when `proposed` sends accounts back and `check` does
    not confirm it (None: unconfirmed, no grace days); a confirmed change skips the
    (costly) second preview."""
    check = check or ReturnCheck()
    if check.confirmed:
        return
    config = load_routing_config(db, store, 0)
    preview = preview_change(
        db, config, proposed, today=now.date(), grace_days=check.grace_days, now=now
    )
    raise_if_back_to_legacy(preview)


def raise_if_back_to_legacy(preview: Preview) -> None:
    """Refuse the change `preview` describes when it sends accounts back to legacy."""
    back = preview.back_to_legacy
    if back is None:
        return
    raise BackToLegacyUnconfirmed(
        f"Not changed: {preview.warning} Confirm sending them back explicitly "
        "(or roll the line back) to go ahead.",
        accounts=back.accounts,
        users=back.users,
        account_numbers=back.account_numbers,
    )
