"""Start-up as an operator meets it: the real `gateway` command and real gunicorn,
run as processes from a folder outside the checkout, with only the variables given.

A bad setting stops each of them with exit status non-zero and one line naming the
variable; gunicorn's master stops at once instead of rebooting workers forever.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SECRET
from tests.ops.processes import BIN, clean_env, run

BAD_SETTINGS = [
    ("GATEWAY_DATABASE_URL", "not-a-url"),
    ("GATEWAY_DATABASE_URL", "mysql://db.example.com/switchyard"),
    ("GATEWAY_SAML_ATTRIBUTE_MAP", "{bad"),
    ("GATEWAY_SAML_ATTRIBUTE_MAP", '["email"]'),
    (
        "GATEWAY_SAML_ATTRIBUTE_MAP",
        '{"email": "mail", "first_name": "gn", "last_name": "sn", "account_number": "acct", '
        '"frist_name": "typo"}',
    ),
    (
        "GATEWAY_OIDC_CLAIM_MAP",
        '{"subject": "sub", "email": "email", "first_name": "given_name", '
        '"last_name": "family_name", "account_number": "acct", "colour": "blue"}',
    ),
    ("GATEWAY_SYSTEM_HEALTH_URLS", '{"legacy": '),
    ("GATEWAY_SESSION_MINUTES", "forever"),
    ("GATEWAY_LOG_LEVEL", "chatty"),
    ("GATEWAY_METRICS_TOKEN", "short"),
]


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(("variable", "value"), BAD_SETTINGS)
def test_gateway_command_stops_with_one_line_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = run([BIN / "gateway", "db", "upgrade"], tmp_path, {variable: value})
    assert result.returncode == 1
    assert one_line(result.stderr).startswith(f"Error: {variable}: ")


def test_unknown_map_key_is_named(tmp_path: Path) -> None:
    variable, value = BAD_SETTINGS[5]
    result = run([BIN / "gateway", "db", "upgrade"], tmp_path, {variable: value})
    assert "unknown keys ['colour']" in one_line(result.stderr)


def test_unreachable_database_at_upgrade_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://switchyard:hunter2-secret@127.0.0.1:1/switchyard"
    result = run([BIN / "gateway", "db", "upgrade"], tmp_path, {"GATEWAY_DATABASE_URL": url})
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("Error: GATEWAY_DATABASE_URL: cannot use postgresql+psycopg://")
    assert "hunter2-secret" not in line


def test_upgrade_needs_neither_saml_nor_secret_and_uses_the_data_folder(tmp_path: Path) -> None:
    data_home = tmp_path / "data"
    result = run([BIN / "gateway", "db", "upgrade"], tmp_path, {"XDG_DATA_HOME": str(data_home)})
    assert result.returncode == 0, result.stderr
    database = data_home / "switchyard" / "gateway.db"
    assert str(database) in result.stdout
    tables = {row[0] for row in sqlite3.connect(database).execute("select name from sqlite_master")}
    assert {"users", "alembic_version"} <= tables
    assert result.stderr == ""


def test_default_database_without_xdg_is_under_home(tmp_path: Path) -> None:
    result = run([BIN / "gateway", "db", "upgrade"], tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "home" / ".local" / "share" / "switchyard" / "gateway.db").is_file()


def app_env(tmp_path: Path, saml_dir: Path) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}",
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_SAML_DIR": str(saml_dir),
    }


def test_import_on_unmigrated_database_says_run_upgrade(tmp_path: Path, saml_dir: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_number,name\nA-1,Acme\n")
    result = run(
        [BIN / "gateway", "import", "accounts", accounts], tmp_path, app_env(tmp_path, saml_dir)
    )
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("Error: the database sqlite:///")
    assert line.endswith("run gateway db upgrade")


def test_commands_do_not_log_the_embedded_store_warning(tmp_path: Path, saml_dir: Path) -> None:
    env = app_env(tmp_path, saml_dir)
    assert run([BIN / "gateway", "db", "upgrade"], tmp_path, env).returncode == 0
    result = run([BIN / "gateway", "client", "list"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "embedded store" not in result.stderr
    assert result.stderr == ""


def gunicorn(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    command = [BIN / "gunicorn", "-c", "python:gateway.gunicorn_conf", *args, "gateway.wsgi:app"]
    return subprocess.Popen(  # noqa: S603 - our own virtualenv's gunicorn
        command,
        cwd=tmp_path,
        env=clean_env(tmp_path, {"GATEWAY_BIND_HOST": "127.0.0.1", "PORT": "0", **env}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GATEWAY_BASE_URL", "sso.example.com"), ("PORT", "eighty"), ("GATEWAY_WORKERS", "0")],
)
def test_gunicorn_master_refuses_a_bad_setting_at_once(
    tmp_path: Path, saml_dir: Path, variable: str, value: str
) -> None:
    server = gunicorn(tmp_path, {**app_env(tmp_path, saml_dir), variable: value})
    _, stderr = server.communicate(timeout=30)
    assert server.returncode == 1
    assert one_line(stderr).startswith(f"switchyard: cannot start: {variable}: ")


def test_gunicorn_stops_when_a_worker_cannot_build_the_app(tmp_path: Path) -> None:
    """A settings folder without the IdP certificate is found by the app factory in the
    worker: the worker exits with gunicorn's boot-error status, and the master stops."""
    folder = Path(__file__).resolve().parents[2] / "idp_config"  # shipped without a cert
    env = {"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_SAML_DIR": str(folder)}
    env["GATEWAY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'gateway.db'}"
    server = gunicorn(tmp_path, env)
    _, stderr = server.communicate(timeout=60)
    assert server.returncode == 3
    assert stderr.count("Booting worker") == 1  # not rebooted
    assert "switchyard: cannot start: GATEWAY_SAML_DIR: " in stderr
    assert "Traceback" not in stderr


def test_top_level_wsgi_module_still_serves_from_a_checkout(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {"GATEWAY_BASE_URL": "not a url", "PYTHONPATH": str(root)}
    result = run([sys.executable, "-c", "import wsgi"], tmp_path, env)
    assert result.returncode == 3
    assert one_line(result.stderr).startswith("switchyard: cannot start: GATEWAY_BASE_URL")


# A process that serves a few requests, then says which of the packages only commands
# and the Salesforce sync need it loaded.
SERVED = """
import sys
from gateway.app import create_app

client = create_app().test_client()
for path in ("/healthz", "/login", "/entitlements", "/api/v1/product-lines", "/scim/v2/Users"):
    client.get(path, base_url="https://sso.test")
print(sorted(name for name in ("alembic", "simple_salesforce", "zeep") if name in sys.modules))
"""


def test_serving_requests_loads_neither_alembic_nor_the_salesforce_client(
    tmp_path: Path, saml_dir: Path
) -> None:
    """Alembic (8 MB of a worker's memory) loads only to migrate or check the schema,
    simple-salesforce and zeep (3 MB more) only for a sync."""
    env = app_env(tmp_path, saml_dir)
    assert run([BIN / "gateway", "db", "upgrade"], tmp_path, env).returncode == 0
    served = run([sys.executable, "-c", SERVED], tmp_path, env)
    assert served.returncode == 0, served.stderr
    assert served.stdout.strip() == "[]"
    # What needs them does load them (so the check above cannot pass on a misspelt name).
    needs = (
        "import sys, gateway.salesforce.client\n"
        "from gateway.core.db import alembic_config\n"
        "alembic_config('sqlite://')\n"
        "print(sorted({'alembic', 'simple_salesforce', 'zeep'} & set(sys.modules)))"
    )
    loaded = run([sys.executable, "-c", needs], tmp_path, env).stdout.strip()
    assert loaded == "['alembic', 'simple_salesforce', 'zeep']"
