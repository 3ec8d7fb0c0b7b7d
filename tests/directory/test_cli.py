"""`gateway import KIND FILE`: a one-line summary, or every bad row on stderr and exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.models import Account, AuditEvent
from tests.conftest import SECRET
from tests.directory.conftest import WriteFile, snapshot


@pytest.fixture
def gateway_env(database_url: str, saml_dir: Path) -> dict[str, str]:
    """What build_app reads: the test database and a valid SAML folder."""
    return {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_SAML_DIR": str(saml_dir),
        "GATEWAY_LOG_LEVEL": "ERROR",
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["import", *args], env=env)


def test_a_good_file_is_imported_and_summarised(
    dbs: Session, write_file: WriteFile, gateway_env: dict[str, str]
) -> None:
    path = write_file("accounts.csv", "account_number,name", "100100,Acme", "100200,Globex")
    result = run(gateway_env, "accounts", str(path), "--actor", "ops@example.com")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("accounts.csv: 2 accounts read, 2 created, 0 updated, 0 unchanged\n")
    dbs.rollback()
    assert sorted(dbs.scalars(select(Account.account_number))) == ["100100", "100200"]
    assert dbs.scalars(select(AuditEvent.actor)).one() == "ops@example.com"


def test_bad_rows_are_listed_on_stderr_and_the_exit_status_is_1(
    dbs: Session, write_file: WriteFile, gateway_env: dict[str, str]
) -> None:
    before = snapshot(dbs)
    path = write_file(
        "users.csv",
        "email,account_number,first_name,last_name,permissions",
        "not-an-email,100100,Pat,Lee,portal billing",
        "kim@acme.example,100100,Kim,Ko,portal",
    )
    result = run(gateway_env, "users", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "line 2: email: is not an email address (got 'not-an-email')",
        "line 2: account_number: unknown account '100100'",
        "line 2: permissions: unknown billing (allowed: portal licensing downloads admin)",
        "line 3: account_number: unknown account '100100'",
        "Error: users.csv: 2 bad row(s); nothing imported",
    ]
    assert snapshot(dbs) == before


def test_a_missing_file_is_a_clear_error(
    dbs: Session, tmp_path: Path, gateway_env: dict[str, str]
) -> None:
    result = run(gateway_env, "accounts", str(tmp_path / "nowhere.csv"))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'nowhere.csv'}: no such file\n"
    assert dbs.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_a_file_of_another_format_is_a_clear_error(
    dbs: Session, write_file: WriteFile, gateway_env: dict[str, str]
) -> None:
    path = write_file("accounts.xlsx", "account_number,name")
    result = run(gateway_env, "accounts", str(path))
    assert result.exit_code == 1
    assert result.stderr == "Error: accounts.xlsx: use a .csv, .jsonl or .ndjson file\n"


def test_an_unknown_kind_is_a_usage_error(
    write_file: WriteFile, gateway_env: dict[str, str]
) -> None:
    path = write_file("licenses.csv", "id")
    result = run(gateway_env, "licenses", str(path))
    assert result.exit_code == 2
    assert "'licenses' is not one of 'accounts', 'users'" in result.stderr
