"""The OpenID Connect provider both license centers trust (authlib's server components)."""

from __future__ import annotations

from flask import Flask

from gateway.core import hooks
from gateway.core.settings import Settings


def init_app(app: Flask) -> None:
    """Build the authorization server once and mount its endpoints."""
    from gateway.provider import api, views
    from gateway.provider.backchannel import BackchannelSender
    from gateway.provider.logout import access_ended, session_ending
    from gateway.provider.server import build_server

    settings: Settings = app.extensions["settings"]
    server, protector = build_server(app, settings)
    app.extensions["oidc_server"] = server
    app.extensions["oidc_protector"] = protector
    app.extensions["backchannel_sender"] = BackchannelSender(
        attempts=settings.oidc_backchannel_logout_attempts,
        retry_seconds=settings.oidc_backchannel_logout_retry_seconds,
    )
    hooks.on_sign_out(app, session_ending)
    hooks.on_access_ended(app, access_ended)
    app.register_blueprint(views.bp)
    api.init_app(app)  # its token verifier for the machine API, and its description
