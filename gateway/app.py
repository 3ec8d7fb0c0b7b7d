"""The application factory: wiring only, no I/O at import time."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.core import (
    admission,
    announce,
    db,
    deadline,
    errors,
    headers,
    jobs,
    mail,
    openapi,
    secret_keys,
    server_sessions,
    store,
)
from gateway.core import logs as ops_logging
from gateway.core import metrics as ops_metrics
from gateway.core import session as signed_in
from gateway.core.extensions import csrf, keep_answers_when_limit_headers_fail, limiter
from gateway.core.settings import Settings, load_settings, require_secret_key

SESSION_COOKIE = "switchyard_session"


def create_app(settings: Settings | None = None, *, demo: Any = None) -> Flask:
    """Build the gateway. `demo` (a DemoConfig, only from `gateway demo`) adds the
    development identity provider; no environment variable can turn it on."""
    settings = settings or load_settings()
    ops_logging.configure_logging(settings.log_level)
    app = Flask(__name__, instance_relative_config=False)
    app.extensions["settings"] = settings
    keys = _secret_keys(settings, demo is not None)
    secret_keys.init_app(app, keys)
    app.config.update(_flask_config(settings, keys))

    database_url = db.database_url_of(settings)
    db.init_app(app, database_url, db.DatabaseLimits.of(settings))
    app.extensions["database_url"] = database_url
    store.init_app(app, settings.redis_url, settings.redis_timeout_seconds)
    ops_logging.init_app(app)  # first, so every later hook logs with the request id
    ops_metrics.init_app(app)  # next, so the latency covers every later hook
    server_sessions.init_app(app, store.get_store(app))
    signed_in.init_app(app)  # after the store check: reading the session needs the store
    csrf.init_app(app)
    limiter.init_app(app)
    keep_answers_when_limit_headers_fail(app)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    if settings.active_requests:
        app.wsgi_app = admission.Admission(  # type: ignore[method-assign]
            app.wsgi_app, active=settings.active_requests, wait_seconds=settings.queue_seconds
        )

    errors.init_app(app)
    openapi.init_app(app)  # /api/v1/openapi.json, from what each capability describes
    _register_capabilities(app)
    headers.init_app(app, https=settings.is_https, form_targets=_idp_origins(app))
    if demo is not None:
        from gateway.devidp import init_app as init_devidp

        init_devidp(app, demo)
    announce.init_app(app, store.get_store(app))
    mail.init_app(app)  # the delivery job, when GATEWAY_SMTP_URL is set
    # Last: its middleware wraps admission (the wait for a turn counts), and its
    # after_request hook runs first.
    deadline.init_app(app, settings.request_deadline_seconds)
    jobs.start(app)
    return app


def _register_capabilities(app: Flask) -> None:
    from gateway import (
        directory,
        entitlements,
        insights,
        landing,
        migration,
        ops,
        organisation,
        provider,
        renewals,
        routing,
        salesforce,
        sso,
        systems,
    )

    for capability in (
        ops,
        sso,
        provider,
        routing,
        landing,
        directory,
        insights,
        migration,
        systems,
        organisation,
        renewals,
        entitlements,
        salesforce,
    ):
        capability.init_app(app)


def _secret_keys(settings: Settings, demo: bool) -> secret_keys.SecretKeys:
    """One key per purpose; a demo without a configured secret makes one up."""
    secret = settings.secret_key if (settings.secret_key or not demo) else secrets.token_urlsafe(48)
    return secret_keys.SecretKeys.of(
        secret or require_secret_key(settings), settings.key_encryption_key
    )


def _flask_config(settings: Settings, keys: secret_keys.SecretKeys) -> dict[str, Any]:
    return {
        # Never the raw secret: signed cookies (the anonymous CSRF cookie) use one
        # derived key, Flask-WTF's form tokens another.
        "SECRET_KEY": keys.cookie_signing,
        "WTF_CSRF_SECRET_KEY": keys.csrf,
        "PERMANENT_SESSION_LIFETIME": settings.session_minutes * 60,
        "SESSION_COOKIE_NAME": SESSION_COOKIE,
        "SESSION_COOKIE_SECURE": settings.is_https,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": 3600,
        "RATELIMIT_STORAGE_URI": settings.redis_url or "memory://",
        "RATELIMIT_STORAGE_OPTIONS": rate_limit_storage_options(settings),
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_STRATEGY": "moving-window",
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "PREFERRED_URL_SCHEME": "https" if settings.is_https else "http",
    }


def rate_limit_storage_options(settings: Settings) -> dict[str, Any]:
    """The limiter's Redis connections fail as fast as the store's (limits passes these
    to redis-py); with Sentinel it counts on the master only: a replica's copy may lag."""
    if not settings.redis_url:
        return {}
    options = store.client_options(settings.redis_timeout_seconds)
    if settings.redis_url.startswith("redis+sentinel:"):
        return {**options, "use_replicas": False, "sentinel_kwargs": options}
    return options


def _idp_origins(app: Flask) -> list[str]:
    """The IdP origins that sign-out redirects to after its form POST."""
    from gateway.core.targets import origin

    saml = app.extensions["saml"]  # None when only upstream OIDC is configured
    return [origin(saml.idp_slo_url)] if saml and saml.idp_slo_url else []
