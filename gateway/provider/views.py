"""OpenID Connect provider endpoints: discovery, JWKS, authorize, token, userinfo, logout,
and the machine API the community portal reads entitlement data from."""

from __future__ import annotations

import logging
import time
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidRequestError, UnsupportedResponseTypeError
from authlib.oidc.core.errors import LoginRequiredError
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from gateway.core.db import get_session
from gateway.core.errors import GatewayError
from gateway.core.extensions import csrf, limiter
from gateway.core.session import current_user, end_session
from gateway.core.store import get_store
from gateway.provider import api, token_guard
from gateway.provider.claims import CLAIMS_SUPPORTED, SCOPES_SUPPORTED
from gateway.provider.clients import find_client
from gateway.provider.freshness import (
    MARKER_PARAMETER,
    FreshnessRequest,
    InvalidMaxAge,
    Verdict,
    issue_marker,
    judge,
    redeem_marker,
    session_auth_time,
)
from gateway.provider.grants import issuer, keyring
from gateway.provider.logout import remember_client, session_ending, verified_id_token_hint

log = logging.getLogger(__name__)
bp = Blueprint("provider", __name__)


def server() -> AuthorizationServer:
    authorization_server: AuthorizationServer = current_app.extensions["oidc_server"]
    return authorization_server


def protector() -> ResourceProtector:
    resource_protector: ResourceProtector = current_app.extensions["oidc_protector"]
    return resource_protector


def discovery_document(base: str) -> dict[str, Any]:
    """The provider metadata (OpenID Connect Discovery 1.0)."""
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oidc/authorize",
        "token_endpoint": f"{base}/oidc/token",
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "jwks_uri": f"{base}/oidc/jwks",
        "end_session_endpoint": f"{base}/oidc/logout",
        "scopes_supported": list(SCOPES_SUPPORTED),
        "claims_supported": list(CLAIMS_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "request_parameter_supported": False,
        "claims_parameter_supported": False,
    }


def cacheable(response: Response, seconds: int) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    return response


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return cacheable(jsonify(discovery_document(issuer())), 300)


@bp.get("/oidc/jwks")
def jwks() -> Response:
    return cacheable(jsonify(keys=list(keyring().published)), 60)


def with_query(url: str, values: dict[str, str]) -> str:
    """`url` with `values` set in its query string, replacing same-named ones."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in values]
    return urlunsplit(parts._replace(query=urlencode([*kept, *values.items()])))


def with_issuer(response: Response) -> Response:
    """Add RFC 9207 `iss` to an authorization response redirect (success or error)."""
    location = response.headers.get("Location")
    if response.status_code in (302, 303) and location:
        response.headers["Location"] = with_query(location, {"iss": issuer()})
    return response


@bp.get("/oidc/authorize")
def authorize() -> Any:
    """Authorization code flow for a signed-in user whose sign-in is fresh enough for
    the request (prompt, max_age); others sign in (again) first and come back."""
    user = current_user()
    if user is None and not asks_about_the_sign_in(request.args):
        return redirect(url_for("sso.login", next=request.full_path))
    if invalid_error_characters(request.args.get("response_type", "")):
        # authlib echoes an unsupported response_type into its error description, which
        # must be plain ASCII, and raises ValueError building the error instead (a 500).
        refused = UnsupportedResponseTypeError("The response type is not supported.", "")
        return authorization_error(refused)
    try:
        grant = server().get_consent_grant(end_user=user)
        detour = freshness_detour(grant, signed_in=user is not None)
    except OAuth2Error as error:
        return authorization_error(error)
    if detour is not None:
        return detour
    response = server().create_authorization_response(grant_user=user, grant=grant)
    issued = "code=" in response.headers.get("Location", "")
    if user is not None and response.status_code == 302 and issued:
        remember_client(session, grant.request.client.client_id)
        log.info(
            "code issued",
            extra={
                "event": "oidc.code_issued",
                "user_id": user.id,
                "client_id": grant.request.client.client_id,
            },
        )
    return with_issuer(response)


def asks_about_the_sign_in(query: Any) -> bool:
    """Whether the request sets prompt or max_age (then it is validated before any
    sign-in, so its errors reach the client)."""
    return bool(query.get("prompt")) or query.get("max_age") is not None


def freshness_detour(grant: Any, *, signed_in: bool) -> BaseResponse | None:
    """None when the session's sign-in is fresh enough for this request; else the
    redirect to a fresh sign-in. Raises LoginRequiredError when the client must hear
    login_required (prompt=none, or a fresh sign-in that was already asked for)."""
    payload = grant.request.payload
    client_id = grant.request.client.client_id
    try:
        wanted = FreshnessRequest.of(request.args)
    except InvalidMaxAge as error:
        raise InvalidRequestError(
            str(error), redirect_uri=payload.redirect_uri, state=payload.state
        ) from None
    now = int(time.time())
    asked_at = redeem_marker(get_store(), request.args.get(MARKER_PARAMETER), client_id)
    auth_time = session_auth_time(session) if signed_in else None
    settings = current_app.extensions["settings"]
    skew = max(settings.saml_clock_skew_seconds, settings.oidc_clock_skew_seconds)
    verdict = judge(wanted, auth_time=auth_time, now=now, asked_at=asked_at, skew=skew)
    if verdict is Verdict.FRESH_ENOUGH:
        return None
    log.info(
        "sign-in not fresh enough for the request",
        extra={"event": "oidc.sign_in_not_fresh", "client_id": client_id, "verdict": verdict.value},
    )
    if verdict is Verdict.LOGIN_REQUIRED:
        raise LoginRequiredError(redirect_uri=payload.redirect_uri, state=payload.state)
    marker = issue_marker(get_store(), client_id, now)
    target = with_query(request.full_path, {MARKER_PARAMETER: marker})
    return redirect(url_for("sso.login", next=target, fresh=1))


def authorization_error(error: OAuth2Error) -> Any:
    """Redirect errors go back to the client (with iss); the rest get a page."""
    log.warning(
        "authorization request refused",
        extra={
            "event": "oidc.authorize_refused",
            "error": error.error,
            "description": error.description,
        },
    )
    if error.redirect_uri:
        return with_issuer(server().handle_error_response(request, error))
    raise GatewayError(f"{error.error}: {error.description}")


@bp.post("/oidc/token")
@csrf.exempt  # type: ignore[untyped-decorator]  # clients authenticate themselves
@limiter.limit(token_guard.per_address_limit)
@limiter.limit(token_guard.per_client_limit, key_func=token_guard.per_client_key)
def token() -> Response:
    if token_guard.unreadable_basic_credentials():
        response = token_guard.invalid_client_response()
        token_guard.log_failed_client_authentication(response)
        return response
    response = cast(Response, server().create_token_response())
    response.headers["Cache-Control"] = "no-store"
    token_guard.log_failed_client_authentication(response)
    return response


@bp.errorhandler(429)
def rate_limited(error: Exception) -> Response:
    return token_guard.too_many_requests(error)


@bp.route("/oidc/userinfo", methods=["GET", "POST"])
@csrf.exempt  # type: ignore[untyped-decorator]  # bearer token, no cookie
def userinfo() -> Response:
    response: Response = server().create_endpoint_response("userinfo")
    return response


@bp.get("/oidc/logout")
def rp_logout() -> Any:
    """RP-initiated logout: with a valid id_token_hint, end the session and go back to
    the client's registered post-logout URI; without one, ask the user to confirm."""
    hint = verified_id_token_hint(request.args.get("id_token_hint", ""))
    user = current_user()
    if hint is None or user is None or hint.get("sub") != user.public_id:
        # Without proof that this user's own application asks, a link could sign
        # anyone out: let the person confirm instead.
        return render_template("logout.html")
    audience = hint.get("aud")
    client_id = audience[0] if isinstance(audience, list) else audience
    client = find_client(get_session(), str(client_id))
    target = request.args.get("post_logout_redirect_uri")
    if target and (client is None or target not in client.post_logout_redirect_uris):
        raise GatewayError("That sign-out return address is not registered for the application.")
    session_ending(session)
    end_session()
    if not target:
        return render_template("signed_out.html")
    state = request.args.get("state")
    return redirect(with_query(target, {"state": state}) if state else target)


bp.add_url_rule(
    "/api/v1/accounts/<account_number>/entitlements", view_func=api.account_entitlements
)
