"""What IT's console pages share, whichever capability serves them: the /it/ prefix and
the IT role check before every request, the audit actor, the `back` field of forms, and
how a refused change answers (a flash on the page the form came from).

Capabilities build their console blueprints with `it_console`; the console's start
page (hooks.start_page("it")) is where a form goes back to when it names no page."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, g, redirect, request
from flask.typing import ResponseReturnValue

from gateway.core import hooks
from gateway.core.access import require_it
from gateway.core.audit import Actor
from gateway.core.db import get_session
from gateway.core.errors import GatewayError, render_error
from gateway.core.settings import current_settings
from gateway.core.targets import checked_target, safe_target

log = logging.getLogger(__name__)
CONSOLE_PREFIX = "/it"


def it_console(name: str, import_name: str) -> Blueprint:
    """A blueprint under /it/ whose every request needs a signed-in IT user."""
    bp = Blueprint(name, import_name, url_prefix=CONSOLE_PREFIX)

    @bp.before_request
    def _only_it() -> None:
        g.it_user = require_it()

    return bp


def it_actor() -> Actor:
    """The signed-in IT user, as the audit log names them."""
    return Actor(g.it_user.email, g.get("request_id"))


def start_page() -> str:
    """The console's start page (the one the insights capability registers)."""
    return hooks.start_page("it") or CONSOLE_PREFIX + "/"


def checked_back() -> str:
    """The form's `back` page, through the same target check as every `next`: an
    outside address is refused (UnsafeRedirect) before anything changes."""
    return checked_target(request.form.get("back")) or start_page()


def fallback_back(default: str) -> str:
    """The form's `back` page when it passes the target check, else `default` (for a
    change already refused, where a second error page would only hide the first)."""
    value = request.form.get("back")
    target = safe_target(value, current_settings().base_url, ())
    if value and target is None:
        log.warning("unsafe back target ignored", extra={"event": "rollout.unsafe_back"})
    return target or default


def log_refusal(error: GatewayError) -> None:
    log.warning(error.detail, extra={"event": error.event, "status": error.status, **error.context})


def refused(error: GatewayError) -> ResponseReturnValue:
    """A refused GET is an error page; a refused POST goes back to the page it came from
    (else the start page), saying why, with nothing of it saved."""
    log_refusal(error)
    if request.method == "GET":
        return render_error(error.status, error.title, error.detail)  # type: ignore[no-any-return]
    get_session().rollback()
    flash(error.detail, "error")
    return redirect(fallback_back(start_page()))
