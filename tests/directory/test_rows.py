"""Row validation: each bad value is named with its field and a reason a person can act on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway.directory.errors import RowError
from gateway.directory.rows import KINDS, References, column_problem, validate_rows

REFERENCES = References(
    accounts={"100100": 11}, product_lines={"NETGUARD": 21}, systems={"legacy": 31, "new": 32}
)
GOOD = {
    "accounts": {"account_number": "100100", "name": "Acme"},
    "users": {
        "email": "pat@acme.example",
        "account_number": "100100",
        "first_name": "Pat",
        "last_name": "Lee",
        "permissions": "portal licensing",
    },
    "product-lines": {"code": "NETGUARD", "name": "NetGuard", "state": "legacy"},
    "systems": {"key": "new", "name": "New", "entry_url": "https://new.example.com/start"},
    "entitlements": {
        "entitlement_id": "E-1",
        "account_number": "100100",
        "product_line": "NETGUARD",
        "product": "NetGuard 5400",
        "unit_of_measure": "seat",
        "quantity": "25",
        "kind": "subscription",
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
        "status": "active",
        "system": "legacy",
    },
}


def check(
    import_kind: str, /, **changes: str
) -> tuple[dict[str, object] | None, list[tuple[str | None, str]]]:
    """Validate one row of `import_kind` (GOOD with `changes`) as line 2 of a file."""
    values = {**GOOD[import_kind], **changes}
    [(record, errors)] = list(validate_rows(KINDS[import_kind], [(2, values)], REFERENCES))
    assert all(error.line == 2 for error in errors)
    return record, [(error.field, error.reason) for error in errors]


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_a_good_row_of_each_kind_passes(kind: str) -> None:
    record, errors = check(kind)
    assert errors == []
    assert record is not None


def test_an_entitlement_becomes_ids_and_typed_values() -> None:
    record, _ = check("entitlements", quantity=" 2.5 ", kind="perpetual", end_date="")
    assert record == {
        "external_id": "E-1",
        "account_id": 11,
        "product_line_id": 21,
        "product": "NetGuard 5400",
        "unit_of_measure": "seat",
        "quantity": Decimal("2.5"),
        "kind": "perpetual",
        "start_date": date(2025, 1, 1),
        "end_date": None,
        "status": "active",
        "system_id": 31,
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"quantity": "-1"}, [("quantity", "must not be negative")]),
        ({"quantity": "abc"}, [("quantity", "must be a decimal number (got 'abc')")]),
        ({"quantity": "NaN"}, [("quantity", "must be a decimal number (got 'NaN')")]),
        ({"quantity": ""}, [("quantity", "must be a decimal number (got '')")]),
        ({"quantity": "1.234"}, [("quantity", "must have at most 2 decimal places")]),
        ({"quantity": "1e16"}, [("quantity", "is too large")]),
        (
            {"start_date": "2025-02-30"},
            [("start_date", "must be a date as YYYY-MM-DD (got '2025-02-30')")],
        ),
        (
            {"start_date": "20250101"},
            [("start_date", "must be a date as YYYY-MM-DD (got '20250101')")],
        ),
        ({"start_date": ""}, [("start_date", "is required")]),
        ({"end_date": ""}, [("end_date", "is required")]),
        ({"kind": "maintenance", "end_date": ""}, [("end_date", "is required")]),
        ({"end_date": "2024-12-31"}, [("end_date", "is before start_date")]),
        (
            {"kind": "lifetime", "end_date": ""},
            [("kind", "must be one of perpetual, subscription, maintenance (got 'lifetime')")],
        ),
        (
            {"status": "on"},
            [("status", "must be one of active, inactive, expired, cancelled (got 'on')")],
        ),
        ({"entitlement_id": "E 1"}, [("entitlement_id", "must not contain spaces")]),
        ({"entitlement_id": ""}, [("entitlement_id", "is required")]),
        ({"product": " "}, [("product", "is required")]),
        ({"product": "x" * 256}, [("product", "is longer than 255 characters")]),
        ({"account_number": "999"}, [("account_number", "unknown account '999'")]),
        ({"product_line": "ANALYTICS"}, [("product_line", "unknown product line 'ANALYTICS'")]),
        ({"system": "staging"}, [("system", "unknown system 'staging'")]),
        ({"system": ""}, [("system", "is required")]),
        (
            {"quantity": "-1", "entitlement_id": "E 1", "status": "on"},
            [
                ("entitlement_id", "must not contain spaces"),
                ("quantity", "must not be negative"),
                ("status", "must be one of active, inactive, expired, cancelled (got 'on')"),
            ],
        ),
    ],
)
def test_bad_entitlement_values_are_named(
    changes: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    record, errors = check("entitlements", **changes)
    assert errors == expected
    assert record is None


@pytest.mark.parametrize("quantity", ["0", "1.20", "9999999999999999.99"])
def test_quantities_the_column_can_hold_pass(quantity: str) -> None:
    assert check("entitlements", quantity=quantity)[1] == []


def test_a_perpetual_entitlement_may_have_no_end_date() -> None:
    assert check("entitlements", kind="perpetual", end_date="")[1] == []


def test_emails_are_lower_cased_and_permissions_become_a_set() -> None:
    record, _ = check("users", email=" Pat@ACME.example ", permissions="licensing  portal portal")
    assert record is not None
    assert record["email"] == "pat@acme.example"
    assert record["permissions"] == frozenset({"portal", "licensing"})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"email": "not-an-email"}, [("email", "is not an email address (got 'not-an-email')")]),
        ({"email": "pat@localhost"}, [("email", "is not an email address (got 'pat@localhost')")]),
        ({"email": ""}, [("email", "is required")]),
        (
            {"permissions": "portal billing root"},
            [("permissions", "unknown billing, root (allowed: portal licensing downloads admin)")],
        ),
        ({"account_number": "100200"}, [("account_number", "unknown account '100200'")]),
    ],
)
def test_bad_user_values_are_named(
    changes: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    assert check("users", **changes)[1] == expected


def test_a_user_may_have_no_names_and_no_permissions() -> None:
    record, errors = check("users", first_name="", last_name="", permissions="")
    assert errors == []
    assert record is not None and record["permissions"] == frozenset()


@pytest.mark.parametrize(
    "url",
    [
        "https://new.example.com/start",
        "http://localhost:5001/start",
        "http://127.0.0.1/start",
    ],
)
def test_entry_urls_that_are_https_or_local_pass(url: str) -> None:
    assert check("systems", entry_url=url)[1] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://new.example.com/start",
        "ftp://new.example.com/",
        "/start",
        "https://",
        "https://new.example.com/st art",
        "https://[::1/start",
    ],
)
def test_other_entry_urls_are_refused(url: str) -> None:
    reason = "must be an absolute https URL (http only for localhost)"
    assert check("systems", entry_url=url)[1] == [("entry_url", reason)]


def test_product_line_state_is_legacy_or_new() -> None:
    assert check("product-lines", state="pilot")[1] == [
        ("state", "must be one of legacy, new (got 'pilot')")
    ]


def test_a_key_seen_earlier_in_the_file_is_a_duplicate() -> None:
    rows = [
        (2, GOOD["users"]),
        (3, {**GOOD["users"], "email": "PAT@acme.example"}),
        (4, {**GOOD["users"], "email": "pat@acme.example"}),
    ]
    results = list(validate_rows(KINDS["users"], rows, REFERENCES))
    assert [errors for _, errors in results] == [
        [],
        [RowError(3, "email", "duplicate of line 2")],
        [RowError(4, "email", "duplicate of line 2")],
    ]


def test_rows_with_missing_or_unknown_columns_get_one_error_each() -> None:
    rows = [(1, {"account_number": "1", "nom": "Acme", "extra": "x"})]
    [(record, errors)] = list(validate_rows(KINDS["accounts"], rows, REFERENCES))
    assert record is None
    assert errors == [
        RowError(
            1,
            None,
            "missing columns: name; unknown columns: nom, extra (expected: account_number,name)",
        )
    ]


def test_column_problem_names_repeated_columns() -> None:
    problem = column_problem(1, ["code", "name", "state", "name"], KINDS["product-lines"].columns)
    assert problem == RowError(1, None, "repeated columns: name (expected: code,name,state)")
    assert column_problem(1, ["state", "code", "name"], KINDS["product-lines"].columns) is None


def test_a_blank_column_name_is_shown_as_blank() -> None:
    problem = column_problem(1, ["account_number", "name", ""], KINDS["accounts"].columns)
    assert problem == RowError(1, None, "unknown columns: (blank) (expected: account_number,name)")
