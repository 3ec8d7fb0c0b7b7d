"""Import files as (line number, fields) rows: CSV with a header row, or JSON Lines.

Line numbers are the file's own (a CSV header is line 1), so an error points at what
a person sees in an editor. Lines that cannot be read become RowErrors in the stream.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from gateway.directory.errors import RowError, UnsupportedFormat
from gateway.directory.rows import RawRow, column_problem

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

SourceItem = RawRow | RowError
Reader = Callable[[TextIO, Sequence[str]], Iterator[SourceItem]]


def read_csv(stream: TextIO, columns: Sequence[str]) -> Iterator[SourceItem]:
    """Rows of a CSV file whose first line names exactly `columns`, in any order."""
    reader = csv.reader(stream, strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        problem = column_problem(1, header, columns)
        if problem:
            yield problem
            return
        yield from _csv_rows(reader, header)
    except csv.Error as error:
        yield RowError(reader.line_num, None, f"unreadable CSV: {error}")


def _csv_rows(reader: CsvReader, header: list[str]) -> Iterator[SourceItem]:
    read_up_to = reader.line_num
    for fields in reader:
        # A quoted value may span lines; the row is reported at the line where it starts.
        starts_at, read_up_to = read_up_to + 1, reader.line_num
        if not fields:
            continue
        if len(fields) != len(header):
            yield RowError(starts_at, None, f"expected {len(header)} fields, found {len(fields)}")
            continue
        yield starts_at, dict(zip(header, fields, strict=True))


def read_jsonl(stream: TextIO, _columns: Sequence[str]) -> Iterator[SourceItem]:
    """One JSON object per line; numbers become text and null an empty value."""
    for line, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            yield RowError(line, None, f"not valid JSON: {error.msg}")
            continue
        except RecursionError:  # the decoder recurses once per level of nesting
            yield RowError(line, None, "not valid JSON: nested too deeply")
            continue
        if not isinstance(value, dict):
            yield RowError(line, None, "must be a JSON object")
            continue
        yield from _json_fields(line, value)


def _json_fields(line: int, value: dict[str, object]) -> Iterator[SourceItem]:
    fields: dict[str, str] = {}
    for name, field_value in value.items():
        if field_value is None:
            fields[name] = ""
        elif isinstance(field_value, str):
            fields[name] = field_value
        elif isinstance(field_value, int | float) and not isinstance(field_value, bool):
            fields[name] = str(field_value)
        else:
            yield RowError(line, name, "must be a string, a number or null")
            return
    yield line, fields


READERS: dict[str, Reader] = {".csv": read_csv, ".jsonl": read_jsonl, ".ndjson": read_jsonl}


class FileRows:
    """A file's rows, read afresh on every pass so validation and writing both stream."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            raise UnsupportedFormat(f"{path.name}: use a .csv, .jsonl or .ndjson file")
        self.path = path
        self._columns = columns
        self._reader = reader

    def __iter__(self) -> Iterator[SourceItem]:
        with self.path.open(encoding="utf-8-sig", newline="") as stream:
            try:
                yield from self._reader(stream, self._columns)
            except UnicodeDecodeError:
                raise UnsupportedFormat(f"{self.path.name}: not UTF-8 text") from None
