"""Flask extensions, created unbound here and bound to the app in create_app."""

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_qualified_name, get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# app.extensions: endpoint → whether no rate limit applies to it.
UNLIMITED_ENDPOINTS = "unlimited_endpoints"


@limiter.request_filter
def _declares_no_limit() -> bool:
    """Whether no rate limit applies to this request's endpoint: then flask-limiter is
    skipped for it. It otherwise works out every endpoint's limits on every request,
    also for the many that declare none (routing among them: 6% of its CPU, measured).

    There are no default or application limits, so an endpoint is limited only by its
    own @limiter.limit or its blueprint's; this asks flask-limiter for both, once per
    endpoint and app (a dynamic limit is read from settings, fixed for an app)."""
    endpoint = request.endpoint
    if endpoint is None:
        return False
    known: dict[str, bool] = current_app.extensions.setdefault(UNLIMITED_ENDPOINTS, {})
    unlimited = known.get(endpoint)
    if unlimited is None:
        manager, view = limiter.limit_manager, current_app.view_functions.get(endpoint)
        unlimited = view is not None and not (
            manager.default_limits
            or manager.application_limits
            or manager.decorated_limits(get_qualified_name(view))
            or (request.blueprint and manager.blueprint_limits(current_app, request.blueprint))
        )
        known[endpoint] = unlimited
    return unlimited
