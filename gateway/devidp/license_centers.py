"""Stand-in license centers for the demo: real relying parties of Switchyard.

Each one is entered through its initiate_login_uri (OIDC Core §4, third-party-
initiated login), runs the code flow against Switchyard with the relying-party
library in relying_party.py, shows the verified claims, and ends its session on
a back-channel logout.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)

from gateway.devidp.relying_party import CenterSessions, LoginRefused, RelyingParty, SignedIn

log = logging.getLogger(__name__)
bp = Blueprint("license_center", __name__)

COLOURS = {"legacy": "#7a4a12", "new": "#0b5cad"}
SHOWN_CLAIMS = (
    "email",
    "name",
    "account_number",
    "account_name",
    "permissions",
    "product_lines",
    "sub",
)


@dataclass(frozen=True)
class LicenseCenter:
    """One stand-in center: its name, its relying party and its sessions."""

    key: str
    name: str
    relying_party: RelyingParty
    sessions: CenterSessions


def create_license_center(key: str, name: str, relying_party: RelyingParty) -> Flask:
    """A small app named `name` ("legacy" or "new" `key`) signing users in through Switchyard."""
    app = Flask(__name__, template_folder="templates", static_folder=None)
    app.name = f"license-center-{key}"
    app.config.update(
        SECRET_KEY=secrets.token_urlsafe(32),
        # All demo servers share the host 127.0.0.1, and cookies ignore the port.
        SESSION_COOKIE_NAME=f"license_center_{key}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["license_center"] = LicenseCenter(key, name, relying_party, CenterSessions())
    app.register_blueprint(bp)
    app.register_error_handler(LoginRefused, _refused)
    return app


def center() -> LicenseCenter:
    found: LicenseCenter = current_app.extensions["license_center"]
    return found


def browser_id() -> str:
    """This browser's id at this center (the cookie carries nothing else)."""
    if "browser" not in session:
        session["browser"] = secrets.token_urlsafe(24)
    return str(session["browser"])


def _refused(error: LoginRefused) -> Any:
    log.warning(
        "license center refused a sign-in message",
        extra={"event": "license_center.refused", "center": center().key, "reason": error.reason},
    )
    if request.path == "/oidc/backchannel-logout":
        return jsonify(error="invalid_request", error_description=error.reason), 400
    return _page(refused=error.reason), 400


def _page(signed_in: SignedIn | None = None, **extra: Any) -> str:
    here = center()
    return render_template(
        "devidp/license_center.html",
        name=here.name,
        colour=COLOURS.get(here.key, "#333"),
        signed_in=signed_in,
        shown_claims=[(c, signed_in.claims[c]) for c in SHOWN_CLAIMS if c in signed_in.claims]
        if signed_in
        else [],
        sign_out_url=here.relying_party.end_session_url(signed_in) if signed_in else None,
        sign_in_url=sign_in_url(here.relying_party),
        jwks_uri=here.relying_party.metadata().get("jwks_uri") if signed_in else None,
        **extra,
    )


def sign_in_url(rp: RelyingParty) -> str:
    """Our own sign-in button: the same login initiation Switchyard uses."""
    config = rp.config
    query = urlencode({"iss": config.issuer, "target_link_uri": config.home})
    return f"{config.initiate_login_uri}?{query}"


@bp.get("/")
@bp.get("/start")
def home() -> Any:
    """Who is signed in here, with the claims verified from Switchyard's id_token."""
    return _page(center().sessions.current(browser_id()))


@bp.get("/me")
def me() -> Any:
    """The same as the home page, for tests and scripts."""
    signed_in = center().sessions.current(browser_id())
    if signed_in is None:
        return jsonify(signed_in=False)
    return jsonify(
        signed_in=True, claims=signed_in.claims, kid=signed_in.kid, target=signed_in.target
    )


@bp.route("/oidc/login", methods=["GET", "POST"])
def login() -> Any:
    """Third-party-initiated login: only Switchyard may start it, only towards our pages."""
    args = request.values
    rp = center().relying_party
    if args.get("iss") != rp.config.issuer:
        raise LoginRefused("Sign-in may only be started by Switchyard (iss).")
    url, pending = rp.start(
        browser_id(),
        login_hint=args.get("login_hint"),
        target=rp.own_target(args.get("target_link_uri")),
    )
    center().sessions.add_pending(pending)
    return redirect(url)


@bp.get("/oidc/callback")
def callback() -> Any:
    """The authorization response: state, iss, code exchange, id_token verification."""
    here, browser = center(), browser_id()
    pending = here.sessions.take_pending(request.args.get("state", ""), browser)
    if pending is None:
        raise LoginRefused("This sign-in was not started here, or has expired (state).")
    signed_in = here.relying_party.finish(
        pending, request.query_string.decode(), request.args.to_dict()
    )
    here.sessions.sign_in(browser, signed_in)
    log.info(
        "signed in at the license center",
        extra={"event": "license_center.signed_in", "center": here.key, "kid": signed_in.kid},
    )
    return redirect(signed_in.target)


@bp.post("/oidc/backchannel-logout")
def backchannel_logout() -> Any:
    """Switchyard ends a session server to server: verify, then forget it here."""
    here = center()
    token = request.form.get("logout_token", "")
    claims = here.relying_party.verify_logout_token(token, here.sessions)
    ended = here.sessions.end_matching(sub=claims.get("sub"), sid=claims.get("sid"))
    log.info(
        "back-channel logout",
        extra={"event": "license_center.logged_out", "center": here.key, "ended": ended},
    )
    answer = jsonify(ended=ended)
    answer.headers["Cache-Control"] = "no-store"
    return answer


@bp.get("/signed-out")
def signed_out() -> Any:
    """Where Switchyard sends the browser after RP-initiated logout."""
    center().sessions.sign_out(browser_id())
    return _page(None, just_signed_out=True)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok", system=center().key)
