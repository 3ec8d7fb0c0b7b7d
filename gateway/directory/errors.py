"""What can go wrong with a directory import (down to the file line that caused it) or
a synthetic seed."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.errors import GatewayError


@dataclass(frozen=True)
class RowError:
    """One bad value (or bad line, when `field` is None) in an import file."""

    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        if self.field is None:
            return f"line {self.line}: {self.reason}"
        return f"line {self.line}: {self.field}: {self.reason}"


class DirectoryImportError(GatewayError):
    """An import that could not run; nothing was written."""

    status = 422
    title = "Nothing was imported"
    event = "directory.import_refused"


class UnsupportedFormat(DirectoryImportError):
    """The file is not a CSV or JSONL file the importer understands."""


class ImportRejected(DirectoryImportError):
    """At least one row is bad; every bad row is listed and nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        lines = len({error.line for error in errors})
        first = f"; first: {errors[0]}" if errors else ""
        super().__init__(f"{lines} bad row(s), nothing imported{first}")


class SeedRefused(GatewayError):
    """The directory already holds accounts: seeding is for an empty database."""

    status = 409
    title = "Nothing was seeded"
    event = "directory.seed_refused"
