"""Where accounts go per product line, now and after a proposed change.

Both views come from the routing rule itself (decision.route_lines), fed in bulk: one
grouped query for every active (account, line, holding system), one for entitlement
counts, one for routable users. So a preview can never disagree with routing.

A change is any proposed LineConfig for one line (gateway.migration.proposals): a new state
or percent, pilot accounts added or removed, an override set or removed. All of them are
compared with the current configuration by the one function below.

    proposed = state_proposal(config.lines["NETGUARD"], "rollout", Decimal(25))
    preview = preview_change(db, config, proposed, today=today, grace_days=0, now=now)
    preview.summary  # "this change moves 120 accounts, 340 users and 910 entitlements ..."
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from gateway.core import hooks
from gateway.core.models import (
    Account,
    Entitlement,
    EntitlementHolding,
    Permission,
    ProductLine,
    System,
    User,
)
from gateway.routing.config import LineConfig, RoutingConfig
from gateway.routing.decision import (
    ROUTING_PERMISSIONS,
    EntitlementView,
    LineTrace,
    Override,
    UserView,
    resolve_line,
    route_lines,
)

# How many account numbers a preview lists by name; the counts are always complete.
LISTED = 50


@dataclass
class AccountLines:
    """One account's active lines: which systems hold each, and how many entitlements."""

    number: str
    held_by: dict[str, frozenset[str]] = field(default_factory=dict)
    entitlements: Counter[str] = field(default_factory=Counter)
    users: int = 0


@dataclass(frozen=True)
class Movement:
    """Accounts whose line moves from one system to another (the first LISTED by number)."""

    source: str
    target: str
    accounts: int
    users: int
    entitlements: int
    account_numbers: tuple[str, ...] = ()


@dataclass
class _Tally:
    numbers: list[str] = field(default_factory=list)
    users: int = 0
    entitlements: int = 0


@dataclass(frozen=True)
class Preview:
    """What a change would do to one line, before it is made."""

    code: str
    before: LineConfig
    after: LineConfig
    movements: tuple[Movement, ...]
    new_choice_accounts: tuple[str, ...]
    new_choice_count: int
    waiting_for_data: tuple[str, ...]
    waiting_count: int
    accounts: int
    elapsed_ms: float

    @property
    def summary(self) -> str:
        """The sentence the console, the API and the CLI all show."""
        moves = "; ".join(
            f"moves {m.accounts} accounts, {m.users} users and {m.entitlements} entitlements "
            f"from {m.source} to {m.target}"
            for m in self.movements
        )
        text = f"This change {moves or 'moves no accounts'}"
        if self.new_choice_count:
            text += (
                f"; {self.new_choice_count} accounts will now hold entitlements in both "
                "systems and see the choice page"
            )
        return text + "."

    @property
    def back_to_legacy(self) -> Movement | None:
        """Accounts this change sends from new back to legacy, if any: a distinct warning,
        and (except for a rollback) the change needs an explicit confirmation."""
        return next((m for m in self.movements if (m.source, m.target) == ("new", "legacy")), None)

    @property
    def warning(self) -> str:
        """The back-to-legacy warning in words ("" when nobody goes back)."""
        back = self.back_to_legacy
        if back is None:
            return ""
        more = ", …" if back.accounts > len(back.account_numbers) else ""
        return (
            f"{back.accounts} accounts ({back.users} users) go from new back to legacy: "
            f"{', '.join(back.account_numbers)}{more}."
        )

    @property
    def revision(self) -> str:
        """The line's settings the preview was computed on; its confirmation sends it back."""
        return self.before.revision

    @property
    def changes(self) -> tuple[str, ...]:
        """What the change sets, in words: "from legacy to pilot", "add 100100 to the pilot"."""
        return describe_change(self.before, self.after)


def describe_change(before: LineConfig, after: LineConfig) -> tuple[str, ...]:
    """The differences between two settings of one line, one phrase each."""
    phrases = []
    if (before.state, before.percent) != (after.state, after.percent):
        phrases.append(f"from {_setting_text(before)} to {_setting_text(after)}")
    if added := sorted(after.pilot_accounts - before.pilot_accounts):
        phrases.append(f"add {', '.join(added)} to the pilot")
    if dropped := sorted(before.pilot_accounts - after.pilot_accounts):
        phrases.append(f"take {', '.join(dropped)} off the pilot")
    if after.require_salesforce_agreement != before.require_salesforce_agreement:
        phrases.append(
            "require Salesforce's agreement before accounts move to new"
            if after.require_salesforce_agreement
            else "stop requiring Salesforce's agreement"
        )
    for number in sorted(set(before.overrides) | set(after.overrides)):
        old, new = before.overrides.get(number), after.overrides.get(number)
        if new is None and old is not None:
            phrases.append(f"remove the override sending {number} to {old.system}")
        elif new is not None and (old is None or old.system != new.system):
            phrases.append(f"override {number} to {new.system}{_until(new)}")
        elif new is not None and old is not None and old.expires_at != new.expires_at:
            phrases.append(f"keep {number} on {new.system}{_until(new) or ' with no expiry'}")
    return tuple(phrases) or ("no change to the line's settings",)


def _setting_text(line: LineConfig) -> str:
    return f"rollout {line.percent} %" if line.state == "rollout" else line.state


def _until(override: Override) -> str:
    expires = override.expires_at
    return f" until {expires:%Y-%m-%d %H:%M} UTC" if expires else ""


@dataclass(frozen=True)
class LineSides:
    """Where one line's accounts and entitlements are routed now."""

    code: str
    accounts: dict[str, int]
    entitlements: dict[str, int]
    waiting_for_data: tuple[str, ...]


# Selects are typed Any: SQLAlchemy 2.0 and 2.1 spell their type parameters differently.
def _line_rows(cutoff: date, line_id: int | None) -> Any:
    """One row per account and active line: entitlement count and the holding systems."""
    query = (
        select(
            Entitlement.account_id,
            Account.account_number,
            ProductLine.code,
            func.count(func.distinct(Entitlement.id)),
            func.aggregate_strings(System.key, ","),
        )
        .join(Account, Account.id == Entitlement.account_id)
        .join(ProductLine, ProductLine.id == Entitlement.product_line_id)
        .outerjoin(EntitlementHolding, EntitlementHolding.entitlement_id == Entitlement.id)
        .outerjoin(System, System.id == EntitlementHolding.system_id)
        .where(_active(cutoff))
        .group_by(Entitlement.account_id, Account.account_number, ProductLine.code)
    )
    if line_id is not None:
        query = query.where(Entitlement.account_id.in_(_accounts_with_line(line_id)))
    return query


def _active(cutoff: date) -> ColumnElement[bool]:
    return (Entitlement.status == "active") & or_(
        Entitlement.end_date.is_(None), Entitlement.end_date >= cutoff
    )


def _accounts_with_line(line_id: int) -> Any:
    return select(Entitlement.account_id).where(Entitlement.product_line_id == line_id)


def load_accounts(
    db: Session, *, today: date, grace_days: int, line_id: int | None = None
) -> dict[int, AccountLines]:
    """Every account with active entitlements (of line `line_id`, when given), in bulk."""
    cutoff = today - timedelta(days=grace_days)
    accounts: dict[int, AccountLines] = {}
    for account_id, number, code, count, systems in db.execute(_line_rows(cutoff, line_id)):
        lines = accounts.get(account_id)
        if lines is None:
            lines = accounts[account_id] = AccountLines(number)
        lines.held_by[code] = frozenset(systems.split(",")) if systems else frozenset()
        lines.entitlements[code] = count
    _add_user_counts(db, accounts, line_id)
    return accounts


def _add_user_counts(db: Session, accounts: dict[int, AccountLines], line_id: int | None) -> None:
    routable = (
        select(User.account_id, func.count(func.distinct(User.id)))
        .join(Permission, Permission.user_id == User.id)
        .where(User.status == "active", Permission.name.in_(sorted(ROUTING_PERMISSIONS)))
        .group_by(User.account_id)
    )
    if line_id is not None:
        routable = routable.where(User.account_id.in_(_accounts_with_line(line_id)))
    for account_id, count in db.execute(routable):
        if account_id in accounts:
            accounts[account_id].users = count


# Per line that requires Salesforce's agreement: the accounts whose data agrees.
Agreements = Mapping[str, frozenset[str]]
NONE_AGREE: frozenset[str] = frozenset()


def agreements(db: Session, lines: Iterable[LineConfig]) -> dict[str, frozenset[str]]:
    """For each of `lines` that requires it, every account whose new-system data of the
    line agrees with Salesforce: one comparison per line, not one per account."""
    return {
        line.code: hooks.accounts_in_agreement(db, line.code, None)
        for line in lines
        if line.require_salesforce_agreement
    }


def account_trace(
    lines: AccountLines,
    config: RoutingConfig,
    now: datetime,
    down: frozenset[str],
    agreeing: Agreements,
) -> tuple[LineTrace, ...]:
    """The routing rule over one account's lines (one stand-in entitlement per line)."""
    active = [_stand_in(code, held) for code, held in lines.held_by.items()]
    states = [
        config.line_state(code, code, lines.number, agreeing.get(code, NONE_AGREE))
        for code in lines.held_by
    ]
    user = UserView(ROUTING_PERMISSIONS, None, lines.number)
    return route_lines(user, active, states, now=now, down_systems=down)


def changed_line(
    lines: AccountLines, config: RoutingConfig, code: str, now: datetime, agreeing: Agreements
) -> LineTrace:
    """The rule for one line of one account: the only line a change can move."""
    active = [_stand_in(code, lines.held_by[code])]
    user = UserView(ROUTING_PERMISSIONS, None, lines.number)
    state = config.line_state(code, code, lines.number, agreeing.get(code, NONE_AGREE))
    return resolve_line(code, state, active, user, now=now, down_systems=frozenset())


def _stand_in(code: str, held: frozenset[str]) -> EntitlementView:
    """One entitlement standing for all of an account's active ones on a line: the rule
    reads only the line and the systems holding it."""
    return EntitlementView(code, code, code, "", "", Decimal(0), "", None, None, "active", held)


def with_line(config: RoutingConfig, line: LineConfig) -> RoutingConfig:
    """`config` with line `line.code` set as `line` proposes."""
    return replace(config, lines=MappingProxyType({**config.lines, line.code: line}))


def preview_change(
    db: Session,
    config: RoutingConfig,
    proposed: LineConfig,
    *,
    today: date,
    grace_days: int,
    now: datetime,
) -> Preview:
    """Every account holding line `proposed.code`, routed with `config` and with the line
    as proposed (both systems up)."""
    started, code = time.perf_counter(), proposed.code
    line_id = db.scalar(select(ProductLine.id).where(ProductLine.code == code))
    accounts = load_accounts(db, today=today, grace_days=grace_days, line_id=line_id)
    after = with_line(config, proposed)
    agreeing = agreements(db, [config.lines[code], proposed])
    moves: dict[tuple[str, str], _Tally] = {}
    new_choice: list[str] = []
    waiting: list[str] = []
    for lines in accounts.values():
        if code not in lines.held_by:
            continue
        old = account_trace(lines, config, now, frozenset(), agreeing)
        new_line = changed_line(lines, after, code, now, agreeing)
        old_line = _line_of(old, code)
        if old_line.system != new_line.system:
            tally = moves.setdefault((old_line.system, new_line.system), _Tally())
            tally.numbers.append(lines.number)
            tally.users += lines.users
            tally.entitlements += lines.entitlements[code]
            systems_before = {t.system for t in old}
            systems_after = {t.system for t in old if t.line_code != code} | {new_line.system}
            if lines.users and len(systems_after) > 1 and len(systems_before) < 2:
                new_choice.append(lines.number)
        if new_line.gate == "readiness":
            waiting.append(lines.number)
    return Preview(
        code,
        config.lines[code],
        proposed,
        _movements(moves),
        tuple(sorted(new_choice)[:LISTED]),
        len(new_choice),
        tuple(sorted(waiting)[:LISTED]),
        len(waiting),
        sum(1 for a in accounts.values() if code in a.held_by),
        round((time.perf_counter() - started) * 1000, 1),
    )


def _line_of(trace: tuple[LineTrace, ...], code: str) -> LineTrace:
    return next(t for t in trace if t.line_code == code)


def _movements(moves: dict[tuple[str, str], _Tally]) -> tuple[Movement, ...]:
    return tuple(
        Movement(
            source,
            target,
            len(tally.numbers),
            tally.users,
            tally.entitlements,
            tuple(sorted(tally.numbers)[:LISTED]),
        )
        for (source, target), tally in sorted(moves.items())
    )


def line_sides(
    db: Session, config: RoutingConfig, *, today: date, grace_days: int, now: datetime
) -> dict[str, LineSides]:
    """Per line: accounts and entitlements routed to each system now, and who waits for data."""
    accounts: dict[str, Counter[str]] = {code: Counter() for code in config.lines}
    entitlements: dict[str, Counter[str]] = {code: Counter() for code in config.lines}
    waiting: dict[str, list[str]] = {code: [] for code in config.lines}
    agreeing = agreements(db, config.lines.values())
    for lines in load_accounts(db, today=today, grace_days=grace_days).values():
        for trace in account_trace(lines, config, now, config.down_systems, agreeing):
            code = trace.line_code
            accounts.setdefault(code, Counter())[trace.system] += 1
            entitlements.setdefault(code, Counter())[trace.system] += lines.entitlements[code]
            if trace.gate == "readiness":
                waiting.setdefault(code, []).append(lines.number)
    return {
        code: LineSides(
            code,
            dict(accounts[code]),
            dict(entitlements[code]),
            tuple(sorted(waiting.get(code, []))),
        )
        for code in accounts
    }
