"""Guards of the token endpoint: rate limits per client id and per address, an
OAuth-shaped 429, and one log line per failed client authentication.

The client id a request claims (HTTP Basic user, `client_id` form field or a client
assertion's unverified `sub`) is only a bucket name here: it is read before anything
is verified, which is exactly when a guess must already be counted.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Response, jsonify, request
from flask_limiter.util import get_remote_address
from joserfc import jws
from joserfc.errors import JoseError

from gateway.core.settings import current_settings

log = logging.getLogger(__name__)

# Long enough for our 32-hex-digit ids; anything longer is not a client of ours.
CLIENT_ID_LOGGED = 64


def unreadable_basic_credentials() -> bool:
    """Whether the request carries HTTP Basic credentials authlib cannot read: not UTF-8,
    or a scheme with nothing after it ("Basic " and a tab); authlib would raise on them
    (UnicodeDecodeError, ValueError) rather than answer invalid_client."""
    try:
        extract_basic_authorization(request.headers)
    except ValueError:  # UnicodeDecodeError is one
        return True
    return False


def claimed_client_id() -> str:
    """The client id this token request names, unverified; "" when it names none."""
    try:
        basic_id, _ = extract_basic_authorization(request.headers)
    except ValueError:  # unreadable: the token endpoint answers invalid_client
        basic_id = None
    claimed = basic_id or request.form.get("client_id") or _assertion_subject()
    return str(claimed or "")[:CLIENT_ID_LOGGED]


def _assertion_subject() -> str | None:
    assertion = request.form.get("client_assertion")
    if not assertion:
        return None
    try:
        claims = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, TypeError):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) else None


def per_client_key() -> str:
    return "oidc-token-client:" + claimed_client_id()


def per_client_limit() -> str:
    return current_settings().oidc_token_rate_limit_per_client


def per_address_limit() -> str:
    return current_settings().oidc_token_rate_limit_per_address


def too_many_requests(error: Any) -> Response:
    """A 429 in the token endpoint's own error shape (RFC 6749 §5.2); flask-limiter
    adds Retry-After and the X-RateLimit headers to it."""
    log.warning(
        "token request rate-limited",
        extra={
            "event": "oidc.token_rate_limited",
            "client_id": claimed_client_id(),
            "address": get_remote_address(),
            "limit": str(getattr(error, "description", "")),
        },
    )
    response = jsonify(
        error="temporarily_unavailable",
        error_description="Too many token requests; retry after the Retry-After delay.",
    )
    response.status_code = 429
    response.headers["Cache-Control"] = "no-store"
    return response


def invalid_client_response() -> Response:
    """RFC 6749 §5.2 invalid_client, for credentials too malformed to hand to authlib."""
    response = jsonify(
        error="invalid_client", error_description="The client credentials cannot be read."
    )
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Basic realm="token"'
    response.headers["Cache-Control"] = "no-store"
    return response


def log_failed_client_authentication(response: Response) -> None:
    """One warning per invalid_client answer, naming the claimed client and address."""
    if response.status_code not in (400, 401) or not response.is_json:
        return
    body = response.get_json(silent=True)
    if isinstance(body, dict) and body.get("error") == "invalid_client":
        log.warning(
            "client authentication failed",
            extra={
                "event": "oidc.invalid_client",
                "client_id": claimed_client_id(),
                "address": get_remote_address(),
            },
        )
