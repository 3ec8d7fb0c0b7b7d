"""SAML endpoints: metadata, login, ACS, single logout, and /logout."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, session

from gateway.db import get_session
from gateway.extensions import csrf, limiter
from gateway.routing.targets import checked_target
from gateway.routing.views import route_response
from gateway.settings import current_settings
from gateway.sso import logout as saml_logout
from gateway.sso import saml
from gateway.sso.config import current_saml
from gateway.sso.signin import roles_of, start_session, upsert_user
from gateway.store import get_store

log = logging.getLogger(__name__)
bp = Blueprint("sso", __name__)


def _signin_limit() -> str:
    return current_settings().signin_rate_limit


@bp.get("/saml/metadata")
def metadata() -> Response:
    xml = current_saml().login.get_sp_metadata()
    return Response(xml, mimetype="application/samlmetadata+xml")


@bp.get("/saml/login")
@limiter.limit(_signin_limit)
def login() -> Any:
    """SP-initiated sign-in: `next` is where to go afterwards."""
    target = checked_target(request.args.get("next"))
    return redirect(saml.start_login(current_saml(), get_store(), target))


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
    )
    target = accepted.target
    if not accepted.solicited:
        target = checked_target(accepted.relay_state)
    user = upsert_user(get_session(), accepted.identity, settings.jit_permission_set)
    start_session(user, accepted.identity, roles_of(accepted.identity, settings.it_group))
    log.info(
        "signed in",
        extra={
            "event": "signin.succeeded",
            "user_id": user.id,
            "account_id": user.account_id,
            "solicited": accepted.solicited,
        },
    )
    return route_response(user, target)


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
    url = saml_logout.start_logout(current_saml(), get_store(), session)
    return redirect(url) if url else render_template("signed_out.html")
