"""Single sign-on from the community portal: SAML Service Provider and/or OpenID Connect
relying party → an Identity."""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, request, url_for

from gateway.core.errors import problem, wants_problem_json
from gateway.core.session import NotSignedIn
from gateway.core.settings import Settings, SettingsError
from gateway.sso.binding import is_loopback_http
from gateway.sso.config import SamlEndpoints


def init_app(app: Flask) -> None:
    """Load the SAML settings and the upstream OIDC client once, and mount the endpoints."""
    from gateway.sso import schemas, views
    from gateway.sso.config import load_saml_config, saml_configured
    from gateway.sso.oidc import UpstreamOidc

    settings: Settings = app.extensions["settings"]
    schemas.install()
    # Without upstream OIDC, SAML is required: loading it reports what is missing.
    saml_on = not settings.oidc_issuer or saml_configured(settings.saml_dir)
    app.extensions["saml"] = (
        load_saml_config(settings.saml_dir, settings.base_url) if saml_on else None
    )
    if app.extensions["saml"] is not None:
        refuse_plain_http_saml(app.extensions["saml"].endpoints)
    app.extensions["upstream_oidc"] = UpstreamOidc(app, settings) if settings.oidc_issuer else None
    app.extensions["login_method"] = login_method(settings, saml_on=saml_on)
    app.extensions["legacy_issuer"] = legacy_issuer(app)
    app.register_blueprint(views.bp)
    app.register_error_handler(NotSignedIn, _not_signed_in)


def refuse_plain_http_saml(endpoints: SamlEndpoints) -> None:
    """SAML sign-in binds the browser with a Secure cookie, which browsers drop on plain
    http: outside this machine every sign-in would fail, so refuse it at start-up."""
    if not endpoints.https and not is_loopback_http(endpoints):
        raise SettingsError(
            "GATEWAY_BASE_URL: SAML sign-in needs an https:// URL (plain http only on "
            "localhost), since its browser-binding cookie is Secure"
        )


def login_method(settings: Settings, *, saml_on: bool) -> str:
    """What /login starts: GATEWAY_LOGIN_METHOD, else SAML when it is configured."""
    chosen = settings.login_method or ("saml" if saml_on else "oidc")
    if chosen == "saml" and not saml_on:
        raise SettingsError(
            "GATEWAY_LOGIN_METHOD: saml, but GATEWAY_SAML_DIR has no settings.json naming the "
            "IdP's certificate"
        )
    if chosen == "oidc" and not settings.oidc_issuer:
        raise SettingsError("GATEWAY_LOGIN_METHOD: oidc needs GATEWAY_OIDC_ISSUER")
    return chosen


def legacy_issuer(app: Flask) -> str:
    """The issuer whose sign-ins take over users kept before issuers were (issuer '').

    Only the IdP /login signs in with: those users came from it, and a second IdP
    configured beside it must not claim their subjects (its "42" is another person)."""
    if app.extensions["login_method"] == "saml":
        return str(app.extensions["saml"].idp_entity_id)
    settings: Settings = app.extensions["settings"]
    assert settings.oidc_issuer  # login_method() checked it
    return settings.oidc_issuer


def _not_signed_in(error: NotSignedIn) -> Any:
    """APIs answer 401; pages start a sign-in that comes back to them."""
    if wants_problem_json():
        return problem(401, error.title, error.detail)
    return redirect(url_for("sso.login", next=request.full_path.rstrip("?")))
