"""Start-up refuses a configuration it cannot run safely, naming the variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway import create_app
from gateway.cli import main
from gateway.core import db
from gateway.core.settings import Settings, SettingsError, load_model, load_settings
from tests.conftest import SECRET


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GATEWAY_BASE_URL", "ftp://sso.example.com", "GATEWAY_BASE_URL"),
        ("GATEWAY_SESSION_MINUTES", "forever", "GATEWAY_SESSION_MINUTES"),
        ("GATEWAY_SECRET_KEY", "short", "GATEWAY_SECRET_KEY: Value error, must be at least 32"),
        ("GATEWAY_JIT_PERMISSIONS", "portal superuser", "GATEWAY_JIT_PERMISSIONS"),
        ("GATEWAY_SAML_ATTRIBUTE_MAP", '{"email": "mail"}', "GATEWAY_SAML_ATTRIBUTE_MAP"),
    ],
)
def test_invalid_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_secret_key_is_required_outside_the_demo(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_SECRET_KEY: required"):
        create_app(settings.model_copy(update={"secret_key": None}))


def test_fingerprint_pinning_is_refused(settings: Settings, saml_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "saml"
    folder.mkdir()
    config = json.loads((saml_dir / "settings.json").read_text())
    config["idp"]["certFingerprint"] = "AA:BB"
    (folder / "settings.json").write_text(json.dumps(config))
    with pytest.raises(SettingsError, match="certFingerprint is not accepted"):
        create_app(settings.model_copy(update={"saml_dir": folder}))


def test_missing_idp_certificate_is_refused(settings: Settings) -> None:
    shipped = Path(__file__).resolve().parents[2] / "idp_config"
    with pytest.raises(SettingsError, match="GATEWAY_SAML_DIR: .* has no idp.x509cert"):
        create_app(settings.model_copy(update={"saml_dir": shipped}))


def test_cli_reports_bad_settings_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_BASE_URL", "not a url")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "Error: GATEWAY_BASE_URL" in result.output


def test_cli_db_upgrade_migrates(
    monkeypatch: pytest.MonkeyPatch, saml_dir: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET)
    monkeypatch.setenv("GATEWAY_SAML_DIR", str(saml_dir))
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at head" in result.output
    import sqlite3

    tables = {
        row[0]
        for row in sqlite3.connect(tmp_path / "fresh.db").execute(
            "select name from sqlite_master where type='table'"
        )
    }
    assert {"accounts", "users", "entitlements", "alembic_version"} <= tables


class SettingsWithPlainMap(BaseSettings):
    """A settings model whose map pydantic-settings decodes itself (no JsonMap)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")
    extra_map: dict[str, str] = {}


def test_a_value_the_settings_source_cannot_decode_still_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_EXTRA_MAP", "{bad")
    with pytest.raises(SettingsError) as raised:
        load_model(SettingsWithPlainMap, {})
    message = str(raised.value)
    assert message.startswith("GATEWAY_EXTRA_MAP: cannot be read")
    assert "\n" not in message


def test_default_database_is_in_the_data_folder_and_said_at_start_up(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    expected = tmp_path / "data" / "switchyard" / "gateway.db"
    with caplog.at_level("INFO", logger="gateway.core.db"):
        app = create_app(settings.model_copy(update={"database_url": None}))
    assert app.extensions["database_url"] == f"sqlite:///{expected}"
    (notice,) = [r for r in caplog.records if getattr(r, "event", None) == "db.default_sqlite"]
    assert notice.levelname == "INFO" and str(expected) in notice.getMessage()
    db.engine_of(app).dispose()


def test_a_sign_in_rate_limit_flask_limiter_cannot_read_stops_start_up() -> None:
    # flask-limiter would log the bad value and then not limit sign-ins at all.
    with pytest.raises(SettingsError, match="^GATEWAY_SIGNIN_RATE_LIMIT: "):
        load_settings(signin_rate_limit="thirty per minute", secret_key=SECRET)
