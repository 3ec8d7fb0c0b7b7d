"""IT's maintenance switch for a license center, previewed like any other change.

While a system is down for maintenance nobody is sent to it: an account whose line the
other system also holds is sent there, an account whose every line lives only on the
down system sees the status page. The preview runs the routing rule itself over every
account with the system's switch as it is and as proposed, so it names exactly those
accounts. IT's reason goes to the audit log and the console; customers read only the
separate customer message.

    preview = preview_maintenance(db, config, "new", True, today=today, grace_days=0, now=now)
    service.set_maintenance(db, store, "new", True, reason="db upgrade", actor=actor,
                            now=now, customer_message="Back at 14:00 UTC.",
                            expected=preview.before)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.audit import Actor, checked_reason, record
from gateway.core.errors import ConflictingChange, NotFound
from gateway.core.models import AuditEvent, System
from gateway.core.store import Store
from gateway.routing.config import RoutingConfig
from gateway.routing.decision import LineTrace
from gateway.routing.preview import (
    LISTED,
    AccountLines,
    account_trace,
    agreements,
    load_accounts,
)

MAX_CUSTOMER_MESSAGE = 500


@dataclass
class AccountGroup:
    """Accounts in the same situation: how many, their routable users, the first LISTED."""

    accounts: int = 0
    users: int = 0
    numbers: list[str] = field(default_factory=list)

    def add(self, lines: AccountLines) -> None:
        self.accounts += 1
        self.users += lines.users
        if len(self.numbers) < LISTED:
            self.numbers.append(lines.number)

    def as_dict(self) -> dict[str, object]:
        return {"accounts": self.accounts, "users": self.users, "account_numbers": self.numbers}


@dataclass(frozen=True)
class MaintenancePreview:
    """Who turning a system's maintenance on (or off) sends elsewhere or to the status page."""

    system: str
    before: bool
    after: bool
    # At least one of their lines goes to the other system instead (or back).
    rerouted: AccountGroup
    # Every line of theirs is on a down system: they will see the status page.
    status_page: AccountGroup
    # Some lines are on a down system, others not: signed in without those lines.
    partly_unavailable: AccountGroup
    # They saw the status page and will not any more.
    restored: AccountGroup
    accounts: int
    elapsed_ms: float

    @property
    def summary(self) -> str:
        """The sentence the console, the API and the CLI show."""
        switch = "on" if self.after else "off"
        return (
            f"Maintenance {switch} for {self.system}: {self.rerouted.accounts} accounts "
            f"({self.rerouted.users} users) are sent to another system for some lines, "
            f"{self.status_page.accounts} accounts ({self.status_page.users} users) will see "
            f"the status page, {self.partly_unavailable.accounts} accounts lose some lines "
            f"while down, {self.restored.accounts} accounts no longer see the status page."
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "system": self.system,
            "maintenance_before": self.before,
            "maintenance_after": self.after,
            "summary": self.summary,
            "rerouted": self.rerouted.as_dict(),
            "status_page": self.status_page.as_dict(),
            "partly_unavailable": self.partly_unavailable.as_dict(),
            "restored": self.restored.as_dict(),
            "accounts": self.accounts,
            "elapsed_ms": self.elapsed_ms,
        }


def down_after(config: RoutingConfig, key: str, down: bool) -> frozenset[str]:
    """The systems that are down once `key`'s switch is `down` (its probe still counts)."""
    return frozenset(
        name
        for name, status in config.systems.items()
        if (down or status.probe == "down" if name == key else status.down)
    )


def preview_maintenance(
    db: Session,
    config: RoutingConfig,
    key: str,
    down: bool,
    *,
    today: date,
    grace_days: int,
    now: datetime,
) -> MaintenancePreview:
    """Every account with active entitlements, routed with the systems as they are and
    with `key`'s maintenance switch set to `down`."""
    started, status = time.perf_counter(), config.systems.get(key)
    if status is None:
        raise NotFound(f"There is no system {key!r}.", system=key[:64])
    downs = (config.down_systems, down_after(config, key, down))
    groups = tuple(AccountGroup() for _ in range(4))
    accounts = load_accounts(db, today=today, grace_days=grace_days)
    agreeing = agreements(db, config.lines.values())
    for lines in accounts.values():
        before, after = (account_trace(lines, config, now, systems, agreeing) for systems in downs)
        for group in _groups_of(before, after, downs):
            groups[group].add(lines)
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    rerouted, status_page, partly, restored = groups
    return MaintenancePreview(
        key,
        status.maintenance,
        down,
        rerouted,
        status_page,
        partly,
        restored,
        len(accounts),
        elapsed,
    )


REROUTED, STATUS_PAGE, PARTLY, RESTORED = range(4)


def _groups_of(
    before: tuple[LineTrace, ...],
    after: tuple[LineTrace, ...],
    downs: tuple[frozenset[str], frozenset[str]],
) -> list[int]:
    """Which preview groups one account belongs to, from its lines before and after.

    Stranded means every line is on a down system: decide() answers "unavailable"."""
    stranded = [
        all(t.system in down for t in trace)
        for trace, down in zip((before, after), downs, strict=True)
    ]
    groups = []
    if any(old.system != new.system for old, new in zip(before, after, strict=True)):
        groups.append(REROUTED)
    if stranded[1] and not stranded[0]:
        groups.append(STATUS_PAGE)
    elif not stranded[1] and _newly_partly_down(before, after, downs):
        groups.append(PARTLY)
    if stranded[0] and not stranded[1]:
        groups.append(RESTORED)
    return groups


def _newly_partly_down(
    before: tuple[LineTrace, ...],
    after: tuple[LineTrace, ...],
    downs: tuple[frozenset[str], frozenset[str]],
) -> bool:
    """Whether the switch takes some line of the account to a down system that was not
    on one before (an account already missing lines for another outage is not news)."""
    return any(
        new.system in downs[1] and old.system not in downs[0]
        for old, new in zip(before, after, strict=True)
    )


def customer_text(message: str | None) -> str:
    """The customer message as stored: trimmed and capped, like a reason."""
    return (message or "").strip()[:MAX_CUSTOMER_MESSAGE]


def set_maintenance(
    db: Session,
    store: Store,
    system_key: str,
    down: bool,
    *,
    reason: str | None,
    actor: Actor,
    now: datetime,
    customer_message: str | None = None,
    expected: bool | None = None,
) -> AuditEvent:
    """IT's "down for maintenance" switch: while on, no one is sent to the system.

    `reason` is IT's (console and audit log); `customer_message` is what the status page
    shows. `expected` (the switch as previewed) refuses a confirmation gone stale."""
    system = db.scalar(select(System).where(System.key == system_key))
    if system is None:
        raise NotFound(f"There is no system {system_key!r}.", system=system_key[:64])
    text = checked_reason(reason)
    if expected is not None and system.maintenance != expected:
        raise ConflictingChange(
            f"Maintenance of {system_key} changed since your preview. Preview again."
        )
    before = _notice(system)
    system.maintenance = down
    system.maintenance_note = text if down else ""
    system.customer_message = customer_text(customer_message) if down else ""
    system.updated_at = now
    event = record(
        db, actor, "system.maintenance", f"system:{system_key}", before, _notice(system), text
    )
    db.commit()
    return event


def _notice(system: System) -> dict[str, object]:
    return {
        "maintenance": system.maintenance,
        "note": system.maintenance_note,
        "customer_message": system.customer_message,
    }
