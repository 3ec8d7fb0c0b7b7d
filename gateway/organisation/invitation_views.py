"""The page a mailed invitation link opens, /org/invitations/<token>, where the invited
person accepts once signed in (the admin's list and forms are in the console, views.py).
Thin views over gateway.organisation.invitations; the form carries Flask-WTF's CSRF
token, as everywhere."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from gateway.core.console import log_refusal
from gateway.core.db import get_session, one_transaction
from gateway.core.errors import ChangeRefused, render_error
from gateway.core.models import Account
from gateway.core.models.base import utcnow
from gateway.core.session import require_signed_in_user
from gateway.core.settings import PERMISSIONS
from gateway.organisation import invitations

bp = Blueprint("org_invitations", __name__, url_prefix="/org/invitations")


@bp.errorhandler(ChangeRefused)
def _refused(error: ChangeRefused) -> ResponseReturnValue:
    """A link that cannot be accepted is a page saying why; nothing of it is saved."""
    log_refusal(error)
    get_session().rollback()
    return render_error(error.status, error.title, error.detail)  # type: ignore[no-any-return]


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
    # The fast read of the user ran outside a transaction; the acceptance is one.
    invitations.accept(one_transaction(get_session()), token, user, now=utcnow())
    # Where the new permissions take them: routing decides, as after any sign-in.
    return redirect(url_for("landing.route"))


def init_app(app: Flask) -> None:
    """Mount the invitation pages."""
    app.register_blueprint(bp)
