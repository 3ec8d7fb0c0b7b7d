"""Upstream OpenID Connect settings: a bad value stops start-up naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import create_app
from gateway.core.settings import Settings, SettingsError, load_settings


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"login_method": "saml", "saml_dir": Path("/nonexistent")}, "GATEWAY_LOGIN_METHOD: saml"),
        ({"login_method": "oidc", "oidc_issuer": None}, "GATEWAY_LOGIN_METHOD: oidc needs"),
    ],
)
def test_login_method_without_its_configuration_stops_start_up(
    settings: Settings, update: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        create_app(settings.model_copy(update=update))


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"GATEWAY_OIDC_ISSUER": "http://portal.example"}, "GATEWAY_OIDC_ISSUER: .* https"),
        ({"GATEWAY_OIDC_ISSUER": "https://portal.example"}, "GATEWAY_OIDC_CLIENT_ID: .*required"),
        (
            {"GATEWAY_OIDC_ISSUER": "https://portal.example", "GATEWAY_OIDC_CLIENT_ID": "c"},
            "GATEWAY_OIDC_CLIENT_SECRET: .*required",
        ),
        ({"GATEWAY_OIDC_SCOPE": "email profile"}, "GATEWAY_OIDC_SCOPE: .*openid"),
        ({"GATEWAY_OIDC_CLAIM_MAP": '{"email": "mail"}'}, "GATEWAY_OIDC_CLAIM_MAP: .*missing"),
        ({"GATEWAY_LOGIN_METHOD": "ldap"}, "GATEWAY_LOGIN_METHOD"),
        ({"GATEWAY_OIDC_CLOCK_SKEW_SECONDS": "-1"}, "GATEWAY_OIDC_CLOCK_SKEW_SECONDS"),
        ({"GATEWAY_OIDC_CLOCK_SKEW_SECONDS": "a minute"}, "GATEWAY_OIDC_CLOCK_SKEW_SECONDS"),
        ({"GATEWAY_OIDC_HTTP_DEADLINE_SECONDS": "0"}, "GATEWAY_OIDC_HTTP_DEADLINE_SECONDS"),
        ({"GATEWAY_OIDC_HTTP_DEADLINE_SECONDS": "60"}, "GATEWAY_OIDC_HTTP_DEADLINE_SECONDS"),
    ],
)
def test_invalid_oidc_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()
