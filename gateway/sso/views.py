"""Sign-in endpoints: /login, SAML (metadata, login, ACS, single logout), the upstream
OpenID Connect callback, and /logout."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
)

from gateway.core import hooks
from gateway.core.db import get_session
from gateway.core.extensions import csrf, limiter
from gateway.core.session import end_session
from gateway.core.settings import current_settings
from gateway.core.store import get_store
from gateway.core.targets import checked_target
from gateway.sso import logout as saml_logout
from gateway.sso import saml
from gateway.sso.binding import BINDING_COOKIE, binding_cookie_options, browser_binding
from gateway.sso.config import current_saml
from gateway.sso.errors import SignInError
from gateway.sso.identity import Identity
from gateway.sso.oidc import current_oidc
from gateway.sso.service import roles_of, start_session, upsert_user

log = logging.getLogger(__name__)
bp = Blueprint("sso", __name__)


def _signin_limit() -> str:
    return current_settings().signin_rate_limit


@bp.get("/saml/metadata")
def metadata() -> Response:
    xml = current_saml().login.get_sp_metadata()
    return Response(xml, mimetype="application/samlmetadata+xml")


def _fresh() -> bool:
    """`fresh=1`: the caller (e.g. the provider's prompt=login) wants a new authentication."""
    value = request.args.get("fresh", "0")
    if value not in ("0", "1"):
        raise SignInError("The sign-in link is malformed: fresh must be 1 or 0.", fresh=value)
    return value == "1"


@bp.get("/login")
@limiter.limit(_signin_limit)
def login() -> Any:
    """Sign in with the configured method (GATEWAY_LOGIN_METHOD); `next` is where to go,
    `fresh=1` asks the portal to authenticate the person again."""
    target = checked_target(request.args.get("next"))
    fresh = _fresh()
    if current_app.extensions["login_method"] == "oidc":
        return redirect(current_oidc().start_login(target, fresh=fresh))
    return _saml_sign_in(target, fresh)


@bp.get("/saml/login")
@limiter.limit(_signin_limit)
def saml_login() -> Any:
    """SP-initiated SAML sign-in, whatever /login uses: `next` is where to go afterwards,
    `fresh=1` sends ForceAuthn."""
    return _saml_sign_in(checked_target(request.args.get("next")), _fresh())


def _saml_sign_in(target: str | None, fresh: bool) -> Any:
    """Redirect to the IdP, binding the sign-in to this browser with a cookie."""
    config = current_saml()
    binding = browser_binding(request.cookies.get(BINDING_COOKIE))
    url = saml.start_login(config, get_store(), target, binding=binding, fresh=fresh)
    response = redirect(url)
    options = binding_cookie_options(config.endpoints, saml.PENDING_TTL)
    response.set_cookie(BINDING_COOKIE, binding, **options)
    return response


@bp.get("/sso/oidc/login")
@limiter.limit(_signin_limit)
def oidc_login() -> Any:
    """Sign-in at the portal's OpenID Connect provider, whatever /login uses; with
    `fresh=1` the portal must authenticate the person again (prompt=login, max_age=0)."""
    target = checked_target(request.args.get("next"))
    return redirect(current_oidc().start_login(target, fresh=_fresh()))


@bp.get("/sso/oidc/callback")
@limiter.limit(_signin_limit)
def oidc_callback() -> Any:
    """The portal's authorization response: every check in gateway.sso.oidc, then routing."""
    identity, target = current_oidc().finish_login(request.args.to_dict(), session)
    response = signed_in(
        identity, checked_target(target), method="oidc", auth_time=identity.auth_time
    )
    session["signin_method"] = "oidc"  # sign-out must not send it a SAML LogoutRequest
    return response


def signed_in(
    identity: Identity,
    target: str | None,
    *,
    method: str,
    auth_time: int | None = None,
    **context: Any,
) -> Any:
    """Upsert the user, start a fresh session and route them, whatever the protocol.
    `auth_time`: when the person authenticated at the portal, if it said."""
    settings = current_settings()
    user = upsert_user(
        get_session(),
        identity,
        settings.jit_permission_set,
        legacy_issuer=current_app.extensions["legacy_issuer"],
    )
    roles = roles_of(identity, settings.it_group, settings.support_group)
    start_session(user, identity, roles, auth_time=auth_time)
    log.info(
        "signed in",
        extra={
            "event": "signin.succeeded",
            "method": method,
            "user_id": user.id,
            "account_id": user.account_id,
            **context,
        },
    )
    return hooks.signed_in(user, target)


@bp.post("/saml/acs")
@csrf.exempt  # type: ignore[untyped-decorator]  # a cross-site POST from the IdP; the signature and InResponseTo protect it
@limiter.limit(_signin_limit)
def acs() -> Any:
    settings = current_settings()
    accepted = saml.accept_response(
        current_saml(),
        get_store(),
        request.form.to_dict(),
        attribute_map=settings.saml_attribute_map,
        idp_initiated=settings.saml_idp_initiated,
        clock_skew=timedelta(seconds=settings.saml_clock_skew_seconds),
        browser_binding=request.cookies.get(BINDING_COOKIE),
    )
    target = accepted.target
    if not accepted.solicited:
        target = checked_target(accepted.relay_state)
    return signed_in(
        accepted.identity,
        target,
        method="saml",
        auth_time=accepted.auth_time,
        solicited=accepted.solicited,
    )


@bp.route("/saml/sls", methods=["GET", "POST"])
@csrf.exempt  # type: ignore[untyped-decorator]  # signed LogoutRequest/LogoutResponse messages; unsigned ones are refused
def sls() -> Any:
    """Single logout from the IdP, or the IdP's answer to our logout."""
    url = saml_logout.handle_sls(current_saml(), get_store(), request.args.to_dict(), session)
    return redirect(url) if url else render_template("signed_out.html")


@bp.get("/logout")
def logout_page() -> Any:
    return render_template("logout.html")


@bp.post("/logout")
def logout() -> Any:
    """End our session, then ask the IdP to end its own when it supports single logout."""
    if session.get("signin_method") == "oidc" or current_app.extensions["saml"] is None:
        # Not a SAML session: no LogoutRequest to the IdP, only ours ends (and the RPs hear).
        hooks.signing_out(session)
        end_session()
        log.info("signed out", extra={"event": "signout.local"})
        return render_template("signed_out.html")
    url = saml_logout.start_logout(current_saml(), get_store(), session)
    return redirect(url) if url else render_template("signed_out.html")
