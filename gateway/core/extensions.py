"""Flask extensions, created unbound here and bound to the app in create_app."""

import logging
from collections.abc import Callable
from functools import partial

import redis
from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_qualified_name, get_remote_address
from flask_wtf.csrf import CSRFProtect
from limits.errors import StorageError

log = logging.getLogger(__name__)

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


def keep_answers_when_limit_headers_fail(app: Flask) -> None:
    """flask-limiter adds its X-RateLimit-* headers after the view, reading the counts
    from Redis once more. When Redis fails between the limit check and that read, its
    error would turn an answer the view has already made (a finished sign-in) into a bare
    500. The answer goes out without those headers instead, and the failure is logged;
    the session's own write after it copes with a failed store by itself.

    Call after limiter.init_app(app). flask-limiter registers that hook as a partial of
    its own method bound to the limiter; a release that changes this is refused here."""
    hooks = app.after_request_funcs.setdefault(None, [])
    found = [
        i for i, hook in enumerate(hooks) if isinstance(hook, partial) and hook.args == (limiter,)
    ]
    if len(found) != 1:
        raise RuntimeError("flask-limiter's response-header hook not found: check its release")
    inject_headers: Callable[[Response], Response] = hooks[found[0]]  # type: ignore[assignment]

    def inject_or_leave(response: Response) -> Response:
        try:
            answer: Response = inject_headers(response)
        except (redis.RedisError, StorageError) as error:
            log.warning(
                "rate-limit headers left out: the limiter's store failed after the view",
                extra={"event": "ratelimit.headers_unavailable", "error": type(error).__name__},
            )
            return response
        return answer

    hooks[found[0]] = inject_or_leave
