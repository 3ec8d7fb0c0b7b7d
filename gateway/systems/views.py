"""The console's maintenance switch: preview who is sent elsewhere or sees the status
page, then confirm with IT's reason and the separate message customers read.

Under /it/, with the IT role and CSRF checks of every console page."""

from __future__ import annotations

from flask import flash, redirect, render_template, request
from flask.typing import ResponseReturnValue

from gateway.core.audit import checked_reason
from gateway.core.console import it_actor, it_console, refused, start_page
from gateway.core.db import get_session
from gateway.core.errors import ChangeRefused, InvalidChange
from gateway.core.models.base import utcnow
from gateway.core.settings import current_settings
from gateway.core.store import get_store
from gateway.routing.config import current_routing_config
from gateway.routing.service import today_utc
from gateway.systems.service import customer_text, preview_maintenance, set_maintenance

bp = it_console("systems_console", __name__)
bp.register_error_handler(ChangeRefused, refused)

SWITCH = {"on": True, "off": False}


def _switch(field: str, missing: str) -> bool:
    value = request.form.get(field, "")
    if value not in SWITCH:
        raise InvalidChange(missing)
    return SWITCH[value]


@bp.post("/systems/<key>/maintenance/preview")
def maintenance_preview(key: str) -> ResponseReturnValue:
    """Who this maintenance switch sends elsewhere or to the status page, with a confirm form."""
    down = _switch("down", "down: on or off")
    db, form = get_session(), request.form
    preview = preview_maintenance(
        db,
        current_routing_config(db),
        key,
        down,
        today=today_utc(),
        grace_days=current_settings().entitlement_grace_days,
        now=utcnow(),
    )
    return render_template(
        "systems/maintenance_preview.html",
        preview=preview,
        reason=checked_reason(form.get("reason")),
        customer_message=customer_text(form.get("customer_message")),
    )


@bp.post("/systems/<key>/maintenance")
def maintenance(key: str) -> ResponseReturnValue:
    """Apply a previewed maintenance switch (refused when it changed since the preview)."""
    expected = _switch("expected_maintenance", "Preview the maintenance change first.")
    down = _switch("down", "down: on or off")
    set_maintenance(
        get_session(),
        get_store(),
        key,
        down,
        reason=request.form.get("reason"),
        actor=it_actor(),
        now=utcnow(),
        customer_message=request.form.get("customer_message"),
        expected=expected,
    )
    flash(f"{key} is {'down for maintenance' if down else 'back in service'}.", "info")
    return redirect(start_page())
