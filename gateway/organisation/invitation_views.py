"""Invitation pages: the org admin's list and invite form under /org/invitations, and
the page the mailed link opens, /org/invitations/<token>, where the invited person
accepts once signed in. Thin views over gateway.organisation.invitations; every form
is a POST with Flask-WTF's CSRF token, as everywhere."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.audit import Actor
from gateway.core.console import log_refusal
from gateway.core.db import get_session
from gateway.core.errors import ChangeRefused, NotFound, render_error
from gateway.core.mail import mail_configured
from gateway.core.models import Account
from gateway.core.models.base import utcnow
from gateway.core.session import SignedInUser, require_signed_in_user
from gateway.core.settings import PERMISSIONS, current_settings
from gateway.organisation import invitations
from gateway.organisation.errors import NotOrgAdmin

bp = Blueprint("org_invitations", __name__, url_prefix="/org/invitations")


def require_org_admin() -> SignedInUser:
    """The signed-in user if they are an admin of their own organisation, else
    NotOrgAdmin (403); signed out, a sign-in that comes back here."""
    user = require_signed_in_user()
    if "admin" not in user.permission_names:
        raise NotOrgAdmin("Only your organisation's admins can manage invitations.")
    return user


def _actor(user: SignedInUser) -> Actor:
    return Actor(user.email, g.get("request_id"), via="console")


@bp.errorhandler(ChangeRefused)
def _refused(error: ChangeRefused) -> ResponseReturnValue:
    """A refused form goes back to the list saying why, with nothing of it saved; an
    invitation that is not the organisation's is a plain 404, as if it did not exist."""
    log_refusal(error)
    get_session().rollback()
    if request.method == "GET" or isinstance(error, NotFound):
        return render_error(error.status, error.title, error.detail)  # type: ignore[no-any-return]
    flash(error.detail, "error")
    return redirect(url_for("org_invitations.list_page"))


@bp.get("")
def list_page() -> ResponseReturnValue:
    admin = require_org_admin()
    db = get_session()
    page = request.args.get("page", default=1, type=int) or 1
    return render_template(
        "organisation/invitation_list.html",
        account=db.get(Account, admin.account_id),
        invitations=invitations.list_invitations(db, admin.account_id, now=utcnow(), page=page),
        permissions=PERMISSIONS,
        mail_configured=mail_configured(current_settings()),
        days=current_settings().invitation_days,
    )


@bp.post("")
def invite() -> ResponseReturnValue:
    admin = require_org_admin()
    db = get_session()
    account = db.get(Account, admin.account_id)
    assert account is not None
    created = invitations.invite(
        db,
        _actor(admin),
        account,
        email=request.form.get("email", ""),
        permissions=request.form.getlist("permissions"),
        now=utcnow(),
    )
    flash(f"Invitation sent to {created.invitation.email}.", "info")
    return redirect(url_for("org_invitations.list_page"))


@bp.post("/<int:invitation_id>/resend")
def resend(invitation_id: int) -> ResponseReturnValue:
    admin = require_org_admin()
    sent = invitations.resend(
        get_session(), _actor(admin), admin.account_id, invitation_id, now=utcnow()
    )
    flash(
        f"Invitation sent again to {sent.invitation.email}; the old link no longer works.", "info"
    )
    return redirect(url_for("org_invitations.list_page"))


@bp.post("/<int:invitation_id>/revoke")
def revoke(invitation_id: int) -> ResponseReturnValue:
    admin = require_org_admin()
    revoked = invitations.revoke(
        get_session(), _actor(admin), admin.account_id, invitation_id, now=utcnow()
    )
    flash(f"Invitation for {revoked.email} revoked.", "info")
    return redirect(url_for("org_invitations.list_page"))


@bp.get("/<token>")
def show(token: str) -> ResponseReturnValue:
    """The mailed link: who invites the signed-in person, to do what, and Accept."""
    user = require_signed_in_user()
    db = get_session()
    invitation = invitations.invitation_for_link(db, token, user, now=utcnow())
    return render_template(
        "organisation/invitation_accept.html",
        invitation=invitation,
        account=db.get(Account, invitation.account_id),
        permissions=[p for p in PERMISSIONS if p in invitations.permission_names(invitation)],
    )


@bp.post("/<token>")
def accept(token: str) -> ResponseReturnValue:
    user = require_signed_in_user()
    invitations.accept(get_session(), token, user, now=utcnow())
    # Where the new permissions take them: routing decides, as after any sign-in.
    return redirect(url_for("landing.route"))


def init_app(app: Flask) -> None:
    """Mount the invitation pages."""
    app.register_blueprint(bp)
