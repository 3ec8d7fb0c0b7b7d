"""/renewals/settings: a signed-in org admin turns their renewal reminders on or off
(their own setting only, taken from the session, never from the form)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.audit import Actor
from gateway.core.db import get_session, one_transaction
from gateway.core.errors import InvalidChange
from gateway.core.models import User
from gateway.core.models.base import utcnow
from gateway.core.session import SignedInUser, require_signed_in_user
from gateway.renewals import service
from gateway.renewals.errors import NotOrgAdmin

bp = Blueprint("renewals", __name__, url_prefix="/renewals")


def _signed_in_admin() -> tuple[SignedInUser, User]:
    viewer = require_signed_in_user()
    if "admin" not in viewer.permission_names:
        raise NotOrgAdmin(
            "Renewal reminders go to your organisation's administrators.", user_id=viewer.id
        )
    # The signed-in user was read outside a transaction; what follows may write.
    db = one_transaction(get_session())
    user = db.get(User, viewer.id)
    assert user is not None
    return viewer, user


@bp.get("/settings")
def settings_page() -> ResponseReturnValue:
    _, user = _signed_in_admin()
    return render_template(
        "renewals/settings.html", user=user, thresholds=service.thresholds_text()
    )


@bp.post("/settings")
def save_settings() -> ResponseReturnValue:
    viewer, user = _signed_in_admin()
    wanted = request.form.get("renewal_reminders")
    if wanted not in ("on", "off"):
        raise InvalidChange("Renewal reminders: on or off.")
    actor = Actor(viewer.email, g.get("request_id"), via="console")
    service.set_reminders(get_session(), actor, user, wanted == "on", now=utcnow())
    flash(
        "You receive renewal reminders."
        if wanted == "on"
        else "You no longer receive renewal reminders.",
        "info",
    )
    return redirect(url_for("renewals.settings_page"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
