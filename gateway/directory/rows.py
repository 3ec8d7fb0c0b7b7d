"""Row validation for directory imports: raw text fields in, database-ready records out.

Pure Python: the reference maps (account number → id and so on) are handed in, so a
whole file can be checked before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from gateway.core.models.directory import (
    ENTITLEMENT_KINDS,
    ENTITLEMENT_STATUSES,
    PRODUCT_LINE_CODE,
    PRODUCT_LINE_CODE_RULE,
)
from gateway.core.settings import PERMISSIONS
from gateway.directory.errors import RowError

# An import places a line on one system. Pilot and rollout need pilot accounts and a
# percentage that a file cannot carry; IT sets them through the audited rollout service.
IMPORTABLE_STATES = ("legacy", "new")

RawRow = tuple[int, Mapping[str, str]]
# A validated row: column name → value, plus "permissions" (users) or "system_id"
# (entitlements), which live in their own tables.
Record = dict[str, Any]

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WHITESPACE = re.compile(r"\s")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LOCAL_HOSTS = ("localhost", "127.0.0.1")
# Numeric(18, 2): sixteen digits before the point.
QUANTITY_LIMIT = Decimal(10) ** 16
CENT = Decimal("0.01")


@dataclass(frozen=True)
class References:
    """Natural keys already in the database, mapped to their row ids."""

    accounts: Mapping[str, int]
    product_lines: Mapping[str, int]
    systems: Mapping[str, int]


class FieldReader:
    """One row's values, read field by field; each bad value becomes a RowError."""

    def __init__(self, line: int, values: Mapping[str, str]) -> None:
        self.line = line
        self.errors: list[RowError] = []
        self._values = values

    def reject(self, field: str, reason: str) -> None:
        """Record that `field` holds a bad value."""
        self.errors.append(RowError(self.line, field, reason))

    def text(self, field: str, max_length: int, *, required: bool = True) -> str:
        """The trimmed value; required unless told otherwise, and no longer than the column."""
        value = self._values[field].strip()
        if required and not value:
            self.reject(field, "is required")
        elif len(value) > max_length:
            self.reject(field, f"is longer than {max_length} characters")
        return value

    def key(self, field: str, max_length: int = 64) -> str:
        """An identifier: required, no spaces inside."""
        value = self.text(field, max_length)
        if WHITESPACE.search(value):
            self.reject(field, "must not contain spaces")
        return value

    def product_line_code(self, field: str) -> str:
        """A product-line code: PRODUCT_LINE_CODE_RULE, nothing else."""
        value = self.key(field)
        if value and not PRODUCT_LINE_CODE.fullmatch(value):
            self.reject(field, f"must be {PRODUCT_LINE_CODE_RULE} (got {value!r})")
        return value

    def choice(self, field: str, allowed: Sequence[str]) -> str:
        """One of `allowed`, exactly as spelled there."""
        value = self._values[field].strip()
        if value not in allowed:
            self.reject(field, f"must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def reference(self, field: str, ids: Mapping[str, int], noun: str) -> int:
        """The id of an existing row named by its key (0 when unknown, with an error)."""
        value = self._values[field].strip()
        if not value:
            self.reject(field, "is required")
        elif value not in ids:
            self.reject(field, f"unknown {noun} {value!r}")
        return ids.get(value, 0)

    def date(self, field: str, *, required: bool) -> date | None:
        """A YYYY-MM-DD date, or None when empty and allowed to be."""
        value = self._values[field].strip()
        if not value:
            if required:
                self.reject(field, "is required")
            return None
        try:
            if ISO_DATE.fullmatch(value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        self.reject(field, f"must be a date as YYYY-MM-DD (got {value!r})")
        return None

    def quantity(self, field: str) -> Decimal:
        """A non-negative decimal with at most two places, as the column stores it."""
        value = self._values[field].strip()
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            self.reject(field, f"must be a decimal number (got {value!r})")
        elif number < 0:
            self.reject(field, "must not be negative")
        elif number >= QUANTITY_LIMIT:
            self.reject(field, "is too large")
        elif number != number.quantize(CENT):
            self.reject(field, "must have at most 2 decimal places")
        return number

    def email(self, field: str) -> str:
        """A lower-cased email address."""
        value = self.text(field, 320).lower()
        if value and not EMAIL.fullmatch(value):
            self.reject(field, f"is not an email address (got {value!r})")
        return value

    def permissions(self, field: str) -> frozenset[str]:
        """A space-separated subset of the known permissions (may be empty)."""
        names = frozenset(self._values[field].split())
        unknown = sorted(names - set(PERMISSIONS))
        if unknown:
            self.reject(field, f"unknown {', '.join(unknown)} (allowed: {' '.join(PERMISSIONS)})")
        return names

    def entry_url(self, field: str) -> str:
        """An absolute https URL; plain http only for a gateway and system on one machine."""
        value = self.text(field, 2048)
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            parts, host = urlsplit(""), None
        secure = parts.scheme == "https" and bool(host)
        local = parts.scheme == "http" and host in LOCAL_HOSTS
        if value and (not (secure or local) or WHITESPACE.search(value)):
            self.reject(field, "must be an absolute https URL (http only for localhost)")
        return value


def _account(row: FieldReader, _refs: References) -> Record:
    return {"account_number": row.key("account_number"), "name": row.text("name", 255)}


def _user(row: FieldReader, refs: References) -> Record:
    return {
        "email": row.email("email"),
        "account_id": row.reference("account_number", refs.accounts, "account"),
        "first_name": row.text("first_name", 255, required=False),
        "last_name": row.text("last_name", 255, required=False),
        "permissions": row.permissions("permissions"),
        # Kept from the first import on: a later import does not rewrite history.
        "added_via": "import",
    }


def _product_line(row: FieldReader, _refs: References) -> Record:
    return {
        "code": row.product_line_code("code"),
        "name": row.text("name", 255),
        "state": row.choice("state", IMPORTABLE_STATES),
    }


def _system(row: FieldReader, _refs: References) -> Record:
    return {
        "key": row.key("key"),
        "name": row.text("name", 255),
        "entry_url": row.entry_url("entry_url"),
    }


def _entitlement(row: FieldReader, refs: References) -> Record:
    kind = row.choice("kind", ENTITLEMENT_KINDS)
    start = row.date("start_date", required=True)
    # Only a perpetual entitlement may run without end (an unknown kind is reported already).
    end = row.date("end_date", required=kind in ("subscription", "maintenance"))
    if start and end and end < start:
        row.reject("end_date", "is before start_date")
    return {
        "external_id": row.key("entitlement_id", 128),
        "account_id": row.reference("account_number", refs.accounts, "account"),
        "product_line_id": row.reference("product_line", refs.product_lines, "product line"),
        "product": row.text("product", 255),
        "unit_of_measure": row.text("unit_of_measure", 64),
        "quantity": row.quantity("quantity"),
        "kind": kind,
        "start_date": start,
        "end_date": end,
        "status": row.choice("status", ENTITLEMENT_STATUSES),
        "system_id": row.reference("system", refs.systems, "system"),
    }


@dataclass(frozen=True)
class KindSpec:
    """One importable kind: its file columns, the column that identifies a row, its parser."""

    columns: tuple[str, ...]
    key_field: str
    key: str
    parse: Callable[[FieldReader, References], Record]

    @cached_property
    def column_set(self) -> frozenset[str]:
        return frozenset(self.columns)

    def column_position(self, error: RowError) -> int:
        """Where the error's field sits in the file, so a row's errors read left to right."""
        return self.columns.index(error.field) if error.field in self.columns else -1


KINDS: dict[str, KindSpec] = {
    "accounts": KindSpec(("account_number", "name"), "account_number", "account_number", _account),
    "users": KindSpec(
        ("email", "account_number", "first_name", "last_name", "permissions"),
        "email",
        "email",
        _user,
    ),
    "product-lines": KindSpec(("code", "name", "state"), "code", "code", _product_line),
    "systems": KindSpec(("key", "name", "entry_url"), "key", "key", _system),
    "entitlements": KindSpec(
        (
            "entitlement_id",
            "account_number",
            "product_line",
            "product",
            "unit_of_measure",
            "quantity",
            "kind",
            "start_date",
            "end_date",
            "status",
            "system",
        ),
        "entitlement_id",
        "external_id",
        _entitlement,
    ),
}


def column_problem(line: int, names: Sequence[str], columns: Sequence[str]) -> RowError | None:
    """One error naming every missing, unknown or repeated column, or None when they match."""
    problems = []
    missing = [name for name in columns if name not in names]
    unknown = [name or "(blank)" for name in names if name not in columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    if repeated:
        problems.append(f"repeated columns: {', '.join(repeated)}")
    if not problems:
        return None
    return RowError(line, None, "; ".join(problems) + f" (expected: {','.join(columns)})")


def validate_rows(
    spec: KindSpec, rows: Iterable[RawRow | RowError], refs: References
) -> Iterator[tuple[Record | None, list[RowError]]]:
    """Each row as a record, or None with its errors; duplicates of an earlier key are errors."""
    first_seen: dict[str, int] = {}
    for item in rows:
        if isinstance(item, RowError):
            yield None, [item]
            continue
        line, values = item
        if values.keys() != spec.column_set:
            problem = column_problem(line, list(values), spec.columns)
            yield None, [problem] if problem else []
            continue
        reader = FieldReader(line, values)
        for field, value in values.items():
            # PostgreSQL cannot store NUL in text (SQLite would, unseen): refuse it here.
            if "\x00" in value:
                reader.reject(field, "holds a NUL character")
        record = spec.parse(reader, refs)
        key = record[spec.key]
        if key in first_seen:
            reader.reject(spec.key_field, f"duplicate of line {first_seen[key]}")
        elif key:
            first_seen[key] = line
        errors = sorted(reader.errors, key=spec.column_position)
        yield (None if errors else record), errors
