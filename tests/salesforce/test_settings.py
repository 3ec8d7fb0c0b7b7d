"""Salesforce settings: bad values stop start-up with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.settings import SettingsError, load_settings
from gateway.salesforce.client import SalesforceClient
from gateway.salesforce.errors import SalesforceNotConfigured


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"salesforce_login_url": "http://login.salesforce.com"},
            "GATEWAY_SALESFORCE_LOGIN_URL: Value error, must be an https:// URL",
        ),
        ({"salesforce_api_version": "62"}, "GATEWAY_SALESFORCE_API_VERSION: String should match"),
        (
            {"salesforce_private_key_file": "/nonexistent/key.pem"},
            "GATEWAY_SALESFORCE_PRIVATE_KEY_FILE: Value error, no such file",
        ),
        (
            {"salesforce_client_secret": "s3cret"},
            "GATEWAY_SALESFORCE_CLIENT_SECRET: Value error, needs GATEWAY_SALESFORCE_CLIENT_ID",
        ),
        (
            {"salesforce_unit_field": "Unit of Measure"},
            "GATEWAY_SALESFORCE_UNIT_FIELD: Value error, must be a Salesforce field name",
        ),
        (
            {"salesforce_product_line_field": "Product2.Family; DELETE"},
            "GATEWAY_SALESFORCE_PRODUCT_LINE_FIELD: Value error",
        ),
        ({"salesforce_attempts": "0"}, "GATEWAY_SALESFORCE_ATTEMPTS: Input should be greater"),
    ],
)
def test_bad_values_name_their_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], message: str
) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"GATEWAY_{name.upper()}", value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_key_file_needs_the_consumer_key_and_username(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not read here")
    monkeypatch.setenv("GATEWAY_SALESFORCE_PRIVATE_KEY_FILE", str(key))
    with pytest.raises(SettingsError, match="GATEWAY_SALESFORCE_PRIVATE_KEY_FILE: .*CONSUMER_KEY"):
        load_settings()
    monkeypatch.setenv("GATEWAY_SALESFORCE_CONSUMER_KEY", "3MVG9")
    monkeypatch.setenv("GATEWAY_SALESFORCE_USERNAME", "sync@vendor.example")
    assert load_settings().salesforce_auth == "jwt-bearer"


def test_the_defaults_describe_no_org_and_the_sync_says_what_to_set() -> None:
    settings = load_settings()
    assert (settings.salesforce_login_url, settings.salesforce_auth) == (None, None)
    assert settings.salesforce_account_number_field == "AccountNumber"
    with pytest.raises(SalesforceNotConfigured, match="GATEWAY_SALESFORCE_LOGIN_URL"):
        SalesforceClient(settings)
    with pytest.raises(SalesforceNotConfigured, match="GATEWAY_SALESFORCE_CLIENT_ID"):
        SalesforceClient(load_settings(salesforce_login_url="https://login.salesforce.com"))
