"""Single sign-on from the community portal: SAML Service Provider → an Identity."""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, request, url_for

from gateway.errors import problem, wants_problem_json
from gateway.settings import Settings
from gateway.sso.errors import NotSignedIn


def init_app(app: Flask, settings: Settings) -> None:
    """Load the SAML settings once and mount the endpoints."""
    from gateway.sso import views
    from gateway.sso.config import load_saml_config

    app.extensions["saml"] = load_saml_config(settings.saml_dir, settings.base_url)
    app.register_blueprint(views.bp)
    app.register_error_handler(NotSignedIn, _not_signed_in)


def _not_signed_in(error: NotSignedIn) -> Any:
    """APIs answer 401; pages start a sign-in that comes back to them."""
    if wants_problem_json():
        return problem(401, error.title, error.detail)
    return redirect(url_for("sso.login", next=request.full_path.rstrip("?")))
