"""Error pages for people and problem+json documents for APIs, from one hierarchy."""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, Response, g, jsonify, make_response, render_template, request
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from gateway.core import deadline
from gateway.core.metrics import count_dependency_error, count_past_deadline
from gateway.core.store import StoreUnavailable, mark_failed

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """Base of every expected failure: carries what the person or client is told."""

    status = 400
    title = "Request refused"
    event = "request.refused"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        fields: dict[str, Any] | None = None,
        **context: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context
        # Sent with the answer (e.g. WWW-Authenticate on a refused token) and, for
        # problem+json, extra members of the document (e.g. the OAuth `error` code).
        self.headers = dict(headers or {})
        self.fields = dict(fields or {})


class MalformedRequest(GatewayError):
    """A request no route could read: bad JSON, or NUL in the address."""

    status = 400
    title = "Malformed request"
    event = "request.malformed"


class UnsupportedMediaType(GatewayError):
    """A body in a format the API does not read."""

    status = 415
    title = "Unsupported media type"
    event = "request.media_type"


class ChangeRefused(GatewayError):
    """A change IT (or a token) asked for was not made: the console shows why on the page
    the form came from, the API answers problem+json, the CLI prints one line."""

    status = 400
    title = "That change was not made"
    event = "rollout.refused"


class InvalidChange(ChangeRefused):
    status = 422
    event = "rollout.invalid"


class NotFound(ChangeRefused):
    status = 404
    title = "Not found"
    event = "rollout.not_found"


class ConflictingChange(ChangeRefused):
    """What the change was previewed on changed meanwhile, or it is no longer pending."""

    status = 409
    title = "Something changed in the meantime"
    event = "rollout.conflict"


class ServiceUnavailable(GatewayError):
    # Neutral: the IT API, SCIM and the console fail for the same reasons sign-in does.
    status = 503
    title = "Service temporarily unavailable"
    event = "dependency.unavailable"


# Machine clients (the IT API, customers' SCIM provisioning) read problem+json.
PROBLEM_JSON_PATHS = ("/api/", "/scim/")


def wants_problem_json() -> bool:
    return (
        request.path.startswith(PROBLEM_JSON_PATHS)
        or request.accept_mimetypes.best == "application/json"
    )


DEADLINE_DETAIL = "This took longer than it should. Please try again in a minute."


def part_of(error: Exception) -> str:
    if isinstance(error, deadline.RequestTooSlow):
        return error.part
    return "database" if isinstance(error, SQLAlchemyError) else "redis"


def past_deadline(error: Exception) -> Any:
    """The 503 of a request whose deadline (gateway.core.deadline) passed: before a
    call could start, or while one ran (a statement cancelled at the lowered timeout,
    a Redis command that timed out when the time left was already spent)."""
    part = part_of(error)
    count_past_deadline(part)
    if part == "redis":
        mark_failed()  # the hooks after this do not wait on the store again
    log.error(
        "request past its deadline",
        extra={"event": "request.past_deadline", "part": part, "error": type(error).__name__},
    )
    return render_error(503, ServiceUnavailable.title, DEADLINE_DETAIL, unavailable=True)


def unavailable_part(error: Exception) -> str:
    """What failed, as the person or client is told it."""
    return "The database" if isinstance(error, SQLAlchemyError) else "The session store"


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    body["request_id"] = g.get("request_id")
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def error_page(status: int, title: str, detail: str, **extra: Any) -> tuple[str, int]:
    return render_template("error.html", title=title, detail=detail, status=status, **extra), status


def render_error(
    status: int, title: str, detail: str, *, fields: dict[str, Any] | None = None, **extra: Any
) -> Any:
    if wants_problem_json():
        return problem(status, title, detail, **(fields or {}))
    return error_page(status, title, detail, **extra)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_nul_in_address() -> None:
    """NUL is never meaningful in a URL or a form field, and PostgreSQL cannot compare or
    store text holding it: refuse it up front (400) instead of failing at the database
    (a 503 that would count as a dependency error). JSON bodies are checked by schema."""
    address = [request.path, *(text for pair in request.args.items(multi=True) for text in pair)]
    if any("\x00" in text for text in address):
        raise MalformedRequest("The address holds a NUL character.")
    if request.mimetype in FORM_TYPES:
        fields = (text for pair in request.form.items(multi=True) for text in pair)
        if any("\x00" in text for text in fields):
            raise MalformedRequest("A form field holds a NUL character.")


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_in_address)

    @app.errorhandler(GatewayError)
    def _gateway_error(error: GatewayError) -> Any:
        log.warning(
            error.detail,
            extra={"event": error.event, "status": error.status, **error.context},
        )
        answer = make_response(
            render_error(error.status, error.title, error.detail, fields=error.fields)
        )
        answer.headers.update(error.headers)
        return answer

    # Only the errors of a server that cannot be reached or does not answer in time are
    # "down". Any other database error is about the request (below) or a bug (a 500).
    @app.errorhandler(StoreUnavailable)
    @app.errorhandler(redis.RedisError)
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def _dependency_down(error: Exception) -> Any:
        if deadline.passed():
            return past_deadline(error)  # the request ran out of time, the part may be well
        # Fail closed: without the shared store or the database nobody is let in.
        count_dependency_error(error)
        if not isinstance(error, SQLAlchemyError):
            mark_failed()  # what runs after this (hooks) does not wait on the store again
        log.error(
            "dependency unavailable",
            extra={"event": ServiceUnavailable.event, "error": type(error).__name__},
        )
        return render_error(
            503,
            ServiceUnavailable.title,
            f"{unavailable_part(error)} is not answering. Please try again in a minute.",
            unavailable=True,  # the page's masthead must not ask it again (a 500)
        )

    app.register_error_handler(deadline.RequestTooSlow, past_deadline)

    @app.errorhandler(DataError)
    def _value_out_of_range(error: DataError) -> Any:
        # A value our checks let through and the database refused (too long, out of
        # range): the request's fault, and nothing was written. Logged in full, since it
        # means a check is missing.
        log.warning(
            "database refused a value",
            extra={"event": "request.value_refused", "error": str(error.orig)},
        )
        return render_error(
            400, "Request refused", "A value in the request is too long or out of range."
        )

    @app.errorhandler(IntegrityError)
    def _conflict(error: IntegrityError) -> Any:
        # Two requests raced to create the same thing; the loser's transaction was
        # rolled back whole, so trying again sees the winner's result.
        log.warning(
            "concurrent change conflicted",
            extra={"event": "request.conflict", "error": str(error.orig)},
        )
        return render_error(
            409, "Conflicting change", "Another change got there first. Please try again."
        )

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        status = error.code or 500
        log.info(
            "http error", extra={"event": "http.error", "status": status, "path": request.path}
        )
        answer = make_response(render_error(status, error.name, error.description or error.name))
        # Werkzeug's own 405 names the methods the path takes (RFC 9110 §15.5.6); keep it.
        for name, value in error.get_headers():
            if name.lower() == "allow":
                answer.headers[name] = value
        return answer

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error", extra={"event": "request.crashed"})
        return render_error(500, "Something went wrong", "The error has been logged.")
