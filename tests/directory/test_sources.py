"""Reading import files: the line numbers a person sees in an editor, and unreadable lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.directory.errors import RowError, UnsupportedFormat
from gateway.directory.sources import FileRows
from tests.directory.conftest import WriteFile

ACCOUNT_COLUMNS = ("account_number", "name")


def test_csv_rows_carry_their_file_line_numbers(write_file: WriteFile) -> None:
    path = write_file(
        "accounts.csv", "account_number,name", '100100,"Acme', 'Manufacturing"', "", "100200,Globex"
    )
    assert list(FileRows(path, ACCOUNT_COLUMNS)) == [
        (2, {"account_number": "100100", "name": "Acme\nManufacturing"}),
        (5, {"account_number": "100200", "name": "Globex"}),
    ]


def test_csv_columns_may_come_in_any_order_with_a_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes("\ufeffname , account_number\r\nAcme,100100\r\n".encode())
    assert list(FileRows(path, ACCOUNT_COLUMNS)) == [
        (2, {"name": "Acme", "account_number": "100100"})
    ]


def test_a_csv_row_with_the_wrong_number_of_fields_is_an_error(write_file: WriteFile) -> None:
    path = write_file("accounts.csv", "account_number,name", "100100,Acme,extra", "100200")
    assert list(FileRows(path, ACCOUNT_COLUMNS)) == [
        RowError(2, None, "expected 2 fields, found 3"),
        RowError(3, None, "expected 2 fields, found 1"),
    ]


def test_a_bad_csv_header_is_one_error_on_line_1_and_nothing_more(write_file: WriteFile) -> None:
    path = write_file("accounts.csv", "account_number,title,region", "100100,Acme,EU")
    assert list(FileRows(path, ACCOUNT_COLUMNS)) == [
        RowError(
            1,
            None,
            "missing columns: name; unknown columns: title, region (expected: account_number,name)",
        )
    ]


def test_an_empty_csv_file_is_missing_its_header(write_file: WriteFile) -> None:
    path = write_file("accounts.csv")
    assert list(FileRows(path, ACCOUNT_COLUMNS)) == [
        RowError(1, None, "missing columns: account_number, name (expected: account_number,name)")
    ]


def test_unbalanced_csv_quotes_are_reported(write_file: WriteFile) -> None:
    path = write_file("accounts.csv", "account_number,name", '100100,"Acme"x')
    [error] = list(FileRows(path, ACCOUNT_COLUMNS))
    assert isinstance(error, RowError)
    assert (error.line, error.field) == (2, None)
    assert error.reason.startswith("unreadable CSV: ")


def test_jsonl_values_become_text_and_blank_lines_keep_their_numbers(write_file: WriteFile) -> None:
    path = write_file(
        "e.jsonl",
        json.dumps({"quantity": 25, "price": 2.5, "end_date": None}),
        "",
        json.dumps({"quantity": "7"}),
    )
    assert list(FileRows(path, ACCOUNT_COLUMNS)) == [
        (1, {"quantity": "25", "price": "2.5", "end_date": ""}),
        (3, {"quantity": "7"}),
    ]


def test_unreadable_jsonl_lines_are_errors_and_the_rest_still_read(write_file: WriteFile) -> None:
    path = write_file(
        "accounts.ndjson",
        '{"account_number": }',
        "[1, 2]",
        json.dumps({"account_number": "1", "name": ["Acme"]}),
        json.dumps({"account_number": True, "name": "Acme"}),
        json.dumps({"account_number": "2", "name": "Globex"}),
    )
    assert list(FileRows(path, ACCOUNT_COLUMNS)) == [
        RowError(1, None, "not valid JSON: Expecting value"),
        RowError(2, None, "must be a JSON object"),
        RowError(3, "name", "must be a string, a number or null"),
        RowError(4, "account_number", "must be a string, a number or null"),
        (5, {"account_number": "2", "name": "Globex"}),
    ]


def test_files_are_read_afresh_on_each_pass(write_file: WriteFile) -> None:
    rows = FileRows(write_file("accounts.csv", "account_number,name", "1,Acme"), ACCOUNT_COLUMNS)
    assert list(rows) == list(rows) == [(2, {"account_number": "1", "name": "Acme"})]


@pytest.mark.parametrize("name", ["accounts.txt", "accounts.xlsx", "accounts"])
def test_only_csv_and_jsonl_files_are_accepted(write_file: WriteFile, name: str) -> None:
    with pytest.raises(UnsupportedFormat, match="use a .csv, .jsonl or .ndjson file"):
        FileRows(write_file(name, "account_number,name"), ACCOUNT_COLUMNS)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes("account_number,name\n1,Müller\n".encode("latin-1"))
    with pytest.raises(UnsupportedFormat, match="not UTF-8 text"):
        list(FileRows(path, ACCOUNT_COLUMNS))
