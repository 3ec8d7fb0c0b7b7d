"""A realistic synthetic directory for benchmarks and sizing, written in bulk.

    report = seed_directory(engine, SeedPlan(users=200_000, entitlements=500_000))

Account sizes are skewed (a power law capped at 5,000 users and 5,000 entitlements, so
the largest accounts are the worst case routing meets), product lines stand in every
migration state, and end dates spread over the past and next three years. Rows go in
with PostgreSQL COPY, or executemany in large batches on SQLite; never one ORM object
at a time. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Engine, func, select, text

from gateway.core.models import Account
from gateway.directory.errors import SeedRefused

MAX_USERS_PER_ACCOUNT = 5_000
MAX_ENTITLEMENTS_PER_ACCOUNT = 5_000
LINE_STATES = ("legacy", "pilot", "rollout", "new")
UNITS = ("seat", "endpoint", "device", "core", "user", "site")
KINDS = ("subscription", "subscription", "maintenance", "perpetual")
STATUSES = ("active",) * 17 + ("inactive", "expired", "cancelled")
SYSTEMS = (
    (1, "legacy", "Legacy license center", "https://legacy.licenses.example/start"),
    (2, "new", "New license center", "https://new.licenses.example/start"),
)
BATCH_ROWS = 20_000
Row = tuple[Any, ...]


@dataclass(frozen=True)
class SeedPlan:
    """How big a directory to make."""

    users: int
    entitlements: int
    accounts: int | None = None
    lines: int = 40
    seed: int = 20_260_101

    @property
    def account_count(self) -> int:
        return self.accounts or max(1, self.users // 20)


@dataclass(frozen=True)
class SeedReport:
    """What was written, and the largest account (the routing worst case)."""

    accounts: int
    users: int
    entitlements: int
    holdings: int
    largest_account: str
    largest_account_users: int
    largest_account_entitlements: int


def skewed_sizes(total: int, parts: int, cap: int, exponent: float = 0.8) -> list[int]:
    """Split `total` over `parts` by a power law (rank^-exponent), each in 1..cap
    where the total allows; the first part is the largest."""
    weights = [1 / (rank**exponent) for rank in range(1, parts + 1)]
    scale = total / sum(weights)
    sizes = [min(cap, max(1, int(w * scale))) for w in weights]
    rest, index = total - sum(sizes), parts - 1
    while rest != 0 and parts:
        step = 1 if rest > 0 else -1
        if 1 <= sizes[index] + step <= cap:
            sizes[index] += step
            rest -= step
        index = (index - 1) % parts
    return sizes


def seed_directory(engine: Engine, plan: SeedPlan, now: datetime | None = None) -> SeedReport:
    """Write the whole synthetic directory in one transaction; refuses a non-empty one."""
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        if connection.scalar(select(func.count()).select_from(Account)):
            raise SeedRefused("the directory already has accounts; seed an empty database")
    generator = _Generator(plan, now)
    raw = engine.raw_connection()
    try:
        writer = _writer(engine.dialect.name, raw)
        for table, columns, rows in generator.tables():
            writer(table, columns, rows)
        raw.commit()
    finally:
        raw.close()
    if engine.dialect.name == "postgresql":
        _reset_sequences(engine)
    return generator.report()


def _writer(dialect: str, raw: Any) -> Any:
    def copy(table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        with raw.cursor() as cursor:
            names = ", ".join(f'"{c}"' for c in columns)
            with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copier:
                for row in rows:
                    copier.write_row(row)

    def executemany(table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        statement = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608 - our names
        cursor = raw.cursor()
        iterator = iter(rows)
        while batch := list(islice(iterator, BATCH_ROWS)):
            cursor.executemany(statement, batch)
        cursor.close()

    return copy if dialect == "postgresql" else executemany


def _reset_sequences(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in ("accounts", "users", "product_lines", "systems", "entitlements"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )
    # Statistics for the planner, and a visibility map so index-only scans stay heap-free.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


class _Generator:
    """Rows for every table, generated lazily so 500,000 entitlements stream."""

    def __init__(self, plan: SeedPlan, now: datetime) -> None:
        self.plan, self.now, self.today = plan, now, now.date()
        self.random = random.Random(plan.seed)  # noqa: S311 - synthetic data, not secrets
        count = plan.account_count
        self.users_per_account = skewed_sizes(plan.users, count, MAX_USERS_PER_ACCOUNT)
        self.entitlements_per_account = skewed_sizes(
            plan.entitlements, count, MAX_ENTITLEMENTS_PER_ACCOUNT
        )
        self.line_states = [LINE_STATES[i % len(LINE_STATES)] for i in range(plan.lines)]
        # One account in ten has no data in the new system yet ("waiting for data").
        self.waiting = {a for a in range(1, count + 1) if a % 10 == 3}
        self.holdings = 0

    def tables(self) -> Iterator[tuple[str, Sequence[str], Iterable[Row]]]:
        stamp = (self.now, self.now)
        yield (
            "systems",
            ("id", "key", "name", "entry_url", "created_at", "updated_at"),
            ((*system, *stamp) for system in SYSTEMS),
        )
        yield "product_lines", _LINE_COLUMNS, self._lines()
        yield (
            "accounts",
            ("id", "account_number", "name", "created_at", "updated_at"),
            (
                (a, account_number(a), f"Account {a}", *stamp)
                for a in range(1, self.plan.account_count + 1)
            ),
        )
        yield (
            "pilot_accounts",
            ("product_line_id", "account_id", "added_at", "added_by"),
            (
                (line, account, self.now, "seed")
                for line, state in enumerate(self.line_states, start=1)
                if state == "pilot"
                for account in range(1, min(50, self.plan.account_count) + 1)
            ),
        )
        yield "users", _USER_COLUMNS, self._users()
        yield "permissions", ("user_id", "name"), self._permissions()
        yield "entitlements", _ENTITLEMENT_COLUMNS, self._entitlements()
        yield "entitlement_holdings", ("entitlement_id", "system_id"), self._holdings()

    def _lines(self) -> Iterator[Row]:
        for index, state in enumerate(self.line_states, start=1):
            percent = (index * 7) % 100 if state == "rollout" else 0
            yield (index, f"PL{index:03d}", f"Product line {index}", state, percent,
                   self.now, self.now)  # fmt: skip

    def _users(self) -> Iterator[Row]:
        user_id = 0
        for account, size in enumerate(self.users_per_account, start=1):
            for _ in range(size):
                user_id += 1
                status = "disabled" if user_id % 100 == 99 else "active"
                yield (user_id, f"{self.random.getrandbits(128):032x}", None,
                       user_email(user_id, account), "Seed", f"User {user_id}", account, status,
                       self.now, self.now)  # fmt: skip

    def _permissions(self) -> Iterator[Row]:
        user_id = 0
        for size in self.users_per_account:
            for position in range(size):
                user_id += 1
                if user_id % 20 == 7:  # portal only: the no-access page
                    yield (user_id, "portal")
                    continue
                yield from ((user_id, name) for name in ("portal", "licensing", "downloads"))
                if position == 0 or user_id % 20 == 11:
                    yield (user_id, "admin")

    def _entitlements(self) -> Iterator[Row]:
        entitlement_id, lines = 0, self.plan.lines
        for account, size in enumerate(self.entitlements_per_account, start=1):
            held_lines = max(1, min(lines, 1 + size // 25))
            first = self.random.randrange(lines)
            for k in range(size):
                entitlement_id += 1
                line = (first + k % held_lines) % lines + 1
                yield (entitlement_id, f"E{entitlement_id:08d}", account, line,
                       *self._terms(line), self.now, self.now)  # fmt: skip

    def _terms(self, line: int) -> Row:
        kind = self.random.choice(KINDS)
        end: date | None = self.today + timedelta(days=self.random.randint(-1095, 1095))
        start = (end or self.today) - timedelta(days=self.random.choice((365, 730, 1095)))
        if kind == "perpetual" and self.random.random() < 0.5:
            end = None
        status = self.random.choice(STATUSES)
        if end is not None and end < self.today and status == "active" and line % 2:
            status = "expired"
        quantity = self.random.choice((1, 5, 10, 25, 50, 100, 250, 1000))
        return (f"Product {line}-{quantity}", self.random.choice(UNITS), quantity, kind,
                start, end, status)  # fmt: skip

    def _holdings(self) -> Iterator[Row]:
        entitlement_id = 0
        for account, size in enumerate(self.entitlements_per_account, start=1):
            ready = account not in self.waiting
            for _ in range(size):
                entitlement_id += 1
                self.holdings += 1
                yield (entitlement_id, 1)
            # The new system's export: every entitlement of a ready account on a
            # line that is not plain legacy (the generator repeats the same lines).
            if ready:
                yield from self._new_holdings(entitlement_id - size + 1, entitlement_id)

    def _new_holdings(self, first_id: int, last_id: int) -> Iterator[Row]:
        for entitlement_id in range(first_id, last_id + 1):
            if entitlement_id % 4:  # three in four: lines already exported to the new system
                self.holdings += 1
                yield (entitlement_id, 2)

    def report(self) -> SeedReport:
        return SeedReport(
            accounts=self.plan.account_count,
            users=sum(self.users_per_account),
            entitlements=sum(self.entitlements_per_account),
            holdings=self.holdings,
            largest_account=account_number(1),
            largest_account_users=self.users_per_account[0],
            largest_account_entitlements=self.entitlements_per_account[0],
        )


def account_number(index: int) -> str:
    """The seeded account number of the index-th account (1 is the largest)."""
    return str(100_000 + index)


def user_email(user_id: int, account_index: int) -> str:
    """The seeded e-mail address of a user."""
    return f"user{user_id}@a{account_number(account_index)}.example"


_LINE_COLUMNS = ("id", "code", "name", "state", "rollout_percent", "created_at", "updated_at")
_USER_COLUMNS = ("id", "public_id", "subject", "email", "first_name", "last_name",
                 "account_id", "status", "created_at", "updated_at")  # fmt: skip
_ENTITLEMENT_COLUMNS = ("id", "external_id", "account_id", "product_line_id", "product",
                        "unit_of_measure", "quantity", "kind", "start_date", "end_date",
                        "status", "created_at", "updated_at")  # fmt: skip
__all__ = ["SeedPlan", "SeedRefused", "SeedReport", "seed_directory", "skewed_sizes"]
