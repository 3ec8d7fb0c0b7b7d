"""Directory imports under hostile files: CSV and JSON Lines bytes of any encoding
(UTF-8 with and without BOM, UTF-16, Latin-1, bytes that are no text), stray quotes,
NUL, huge fields, rows of the right columns with any values. Every file is imported
whole or refused with a clear DirectoryImportError, and a refused file changes no row.

The service is what `gateway import` runs, so most examples call it directly; one
smaller property runs the command itself and checks it answers one clear line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.directory.rows import KINDS
from gateway.directory.service import DirectoryImportError, import_file
from tests.badinput.harness import changed_tables, error_records, fuzz, snapshot
from tests.badinput.strategies import any_text, huge_text, tricky_text
from tests.conftest import SECRET
from tests.world import World

KIND_NAMES = sorted(KINDS)
# Values a row may hold: real references of the world, dates, numbers and junk.
FIELD_VALUES = st.one_of(
    st.sampled_from(
        [
            "100001",
            "NET",
            "CAD",
            "legacy",
            "new",
            "subscription",
            "perpetual",
            "active",
            "2026-01-01",
            "2026-02-30",
            "9999-12-31",
            "12",
            "1e400",
            "-0",
            "99999999999999999999",
            "pat@ready.example",
            "portal,admin",
            "https://licenses.example/start",
            "Ac\x00me",
            "100100\x00",
        ]
    ),
    any_text,
    tricky_text,
    huge_text,
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]


def csv_text(header: list[str], rows: list[list[str]], quoting: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@st.composite
def import_files(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(kind, file suffix, bytes)."""
    kind = draw(st.sampled_from(KIND_NAMES))
    columns = list(KINDS[kind].columns)
    header = draw(
        st.one_of(
            st.just(columns),
            st.permutations(columns).map(list),
            st.lists(st.one_of(st.sampled_from(columns), any_text), max_size=len(columns) + 1),
        )
    )
    rows = draw(
        st.lists(
            st.one_of(
                st.lists(FIELD_VALUES, min_size=len(header), max_size=len(header)),
                st.lists(FIELD_VALUES, max_size=len(header) + 2),
            ),
            max_size=4,
        )
    )
    suffix = draw(st.sampled_from([".csv", ".csv", ".jsonl", ".ndjson", ".txt"]))
    if suffix == ".csv" or suffix == ".txt":
        quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
        text = csv_text(header, rows, quoting)
    else:
        lines = [json.dumps(dict(zip(header, row, strict=False))) for row in rows]
        text = "\n".join(
            lines
            + draw(
                st.lists(
                    st.sampled_from(["[]", "{", "1", '{"a": {}}', "", "[" * 50_000]), max_size=2
                )
            )
        )
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, errors="replace")
    # Sometimes the bytes themselves are broken: a stray quote, NUL, a cut, junk.
    damage = draw(st.sampled_from(["none", "none", "quote", "nul", "cut", "junk"]))
    if damage == "quote":
        data = data.replace(b",", b',"', 1)
    elif damage == "nul":
        data = data.replace(b",", b",\x00", 1)
    elif damage == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "junk":
        data = draw(st.binary(max_size=200))
    return kind, suffix, data


def test_an_import_is_all_or_nothing_whatever_the_file(
    app: Flask, dbs: Session, world: World, tmp_path: Path
) -> None:
    @fuzz(examples=100)
    @given(file=import_files())
    def imported(file: tuple[str, str, bytes]) -> None:
        kind, suffix, data = file
        path = tmp_path / f"import{suffix}"
        path.write_bytes(data)
        before = snapshot(app)
        with error_records() as records:
            try:
                import_file(dbs, kind, path, actor="badinput")
            except DirectoryImportError as refused:
                assert str(refused), "a refusal says why"
                dbs.rollback()
                assert not changed_tables(before, snapshot(app)), f"refused ({refused}) but wrote"
        assert not records, [record.getMessage() for record in records]

    imported()


@pytest.fixture
def gateway_env(database_url: str, saml_dir: Path, redis_url: str | None) -> dict[str, str]:
    env = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_SAML_DIR": str(saml_dir),
        "GATEWAY_LOG_LEVEL": "ERROR",
    }
    if redis_url:
        env["GATEWAY_REDIS_URL"] = redis_url
    return env


def test_the_import_command_answers_one_clear_line(
    app: Flask, world: World, tmp_path: Path, gateway_env: dict[str, str]
) -> None:
    runner = CliRunner()

    @fuzz(examples=15)
    @given(file=import_files())
    def command(file: tuple[str, str, bytes]) -> None:
        kind, suffix, data = file
        path = tmp_path / f"import{suffix}"
        path.write_bytes(data)
        before = snapshot(app)
        result = runner.invoke(main, ["import", kind, str(path)], env=gateway_env)
        # 0: imported; 1: refused with a message (click's ClickException). Anything
        # else is a traceback the person running it would see.
        assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
        if result.exit_code == 1:
            assert "Error:" in result.output, result.output
            assert not changed_tables(before, snapshot(app))

    command()
