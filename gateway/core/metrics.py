"""Prometheus metrics: what they are, where they are counted, and /metrics.

Under gunicorn every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR
(gateway.gunicorn_conf sets it up), and /metrics adds up all workers, whichever one
answers the scrape. Without that variable (the demo, tests) the values live in this
process. /metrics answers 404 unless GATEWAY_METRICS_TOKEN is set, and then only to
`Authorization: Bearer <token>`: it tells who uses which license center.

Labels are bounded: endpoints are Flask endpoint names, systems are configured
system keys, grants and results come from fixed lists.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import REGISTRY
from sqlalchemy.exc import SQLAlchemyError

SIGNINS = Counter(
    "gateway_signins",
    "Sign-in answers at the ACS or the OIDC callback, by method and result.",
    ["method", "result"],
)
ROUTING_DECISIONS = Counter(
    "gateway_routing_decisions",
    "Routing decisions by kind (system, choice, none, no_access, unavailable) and system.",
    ["kind", "system"],
)
HANDOFFS = Counter(
    "gateway_handoffs", "Browsers sent on to a license center, by system.", ["system"]
)
TOKEN_REQUESTS = Counter(
    "gateway_token_requests",
    "Token endpoint answers, by grant type and result (ok or the OAuth error code).",
    ["grant", "result"],
)
DEPENDENCY_ERRORS = Counter(
    "gateway_dependency_errors",
    "Requests answered 503 because a dependency failed, by part (database, redis).",
    ["part"],
)
REQUESTS_PAST_DEADLINE = Counter(
    "gateway_requests_past_deadline",
    "Requests answered 503 because their deadline passed (GATEWAY_REQUEST_DEADLINE_SECONDS), "
    "by the part they were waiting on or about to call (database, redis).",
    ["part"],
)
REQUEST_SECONDS = Histogram(
    "gateway_request_duration_seconds",
    "Time from the request's first hook to its response, by Flask endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RESPONSES = Counter(
    "gateway_http_responses", "Responses by Flask endpoint and status class.", ["endpoint", "code"]
)
SCHEDULER_RUNS = Counter(
    "gateway_scheduler_runs", "Rounds of the scheduled-change thread, by result.", ["result"]
)

SIGNIN_ENDPOINTS = {"sso.acs": "saml", "sso.oidc_callback": "oidc"}
TOKEN_ENDPOINT = "provider.token"  # noqa: S105 - an endpoint name, not a secret
GRANTS = ("authorization_code", "refresh_token", "client_credentials")
# RFC 6749 §5.2 and the extensions authlib answers with; anything else is "error".
TOKEN_ERRORS = (
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
)
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

bp = Blueprint("metrics", __name__)
P = ParamSpec("P")
R = TypeVar("R")


def count_routing_decision(kind: str, systems: Sequence[str]) -> None:
    """One routing decision; a choice is labelled with all its systems."""
    ROUTING_DECISIONS.labels(kind=kind, system="+".join(sorted(systems)) or "none").inc()


def count_handoff(system: str) -> None:
    HANDOFFS.labels(system=system).inc()


def count_dependency_error(error: BaseException) -> None:
    """A request refused because the database or the shared store failed."""
    part = "database" if isinstance(error, SQLAlchemyError) else "redis"
    DEPENDENCY_ERRORS.labels(part=part).inc()


def count_past_deadline(part: str) -> None:
    """A request refused because its deadline passed while it waited on `part`."""
    REQUESTS_PAST_DEADLINE.labels(part=part).inc()


def count_failed_scheduled_change() -> None:
    """A due change that could not be applied (an error, or refused as it would send
    accounts back to legacy unconfirmed): its round counts as an error round."""
    SCHEDULER_RUNS.labels(result="error").inc()


def counted_scheduler_run(work: Callable[P, R]) -> Callable[P, R]:
    """Count each call of `work` as an ok or failed scheduler round (and re-raise).

    Both series start at 0 in a process that runs the scheduler, so "no successful
    round lately" can be alerted on, and processes without one have no series."""
    for result in ("ok", "error"):
        SCHEDULER_RUNS.labels(result=result)

    @wraps(work)
    def counted(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = work(*args, **kwargs)
        except Exception:
            SCHEDULER_RUNS.labels(result="error").inc()
            raise
        SCHEDULER_RUNS.labels(result="ok").inc()
        return result

    return counted


def signin_result(status: int) -> str:
    """What a sign-in answer's status says happened."""
    if status < 400:
        return "success"
    if status == 429:
        return "rate_limited"
    if status == 503:
        return "unavailable"
    return "refused" if status < 500 else "error"


def token_result(response: Response) -> str:
    if response.status_code == 200:
        return "ok"
    body = response.get_json(silent=True) if response.is_json else None
    code = body.get("error") if isinstance(body, dict) else None
    return code if code in TOKEN_ERRORS else "error"


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    endpoint = request.endpoint or "unmatched"  # a 404 has none; paths would be unbounded
    started = g.pop("metrics_started", None)
    if started is not None:
        REQUEST_SECONDS.labels(endpoint=endpoint).observe(time.perf_counter() - started)
    RESPONSES.labels(endpoint=endpoint, code=f"{response.status_code // 100}xx").inc()
    if endpoint in SIGNIN_ENDPOINTS:
        method = SIGNIN_ENDPOINTS[endpoint]
        SIGNINS.labels(method=method, result=signin_result(response.status_code)).inc()
    elif endpoint == TOKEN_ENDPOINT:
        grant = request.form.get("grant_type", "")
        TOKEN_REQUESTS.labels(
            grant=grant if grant in GRANTS else "other", result=token_result(response)
        ).inc()
    return response


def registry() -> CollectorRegistry:
    """All workers' values under gunicorn; this process's otherwise."""
    if not os.environ.get(METRICS_DIR_VARIABLE):
        return REGISTRY
    merged = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    return merged


def authorized(offered: str, token: str) -> bool:
    """Whether the Authorization header carries the bearer token (constant time)."""
    scheme, _, credentials = offered.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), token.encode()
    )


@bp.get("/metrics")
def metrics() -> Any:
    """The Prometheus exposition, for the scraper holding GATEWAY_METRICS_TOKEN."""
    token = current_app.extensions["settings"].metrics_token
    if not token:
        abort(404)
    if not authorized(request.headers.get("Authorization", ""), token):
        return Response(
            "metrics need the bearer token\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Time and count every request, and mount /metrics."""
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)
