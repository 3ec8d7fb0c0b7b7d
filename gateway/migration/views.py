"""IT's console for product lines under /it/: line pages with preview-then-confirm, pilots,
overrides and schedules. Thin: parse the form, call the service, render. CSRF tokens are
checked on every POST by the app-wide CSRFProtect; role `it` is checked before every
request (gateway.core.console)."""

from __future__ import annotations

from collections.abc import Mapping

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.console import (
    checked_back,
    it_actor,
    it_console,
    log_refusal,
    refused,
    start_page,
)
from gateway.core.db import get_session
from gateway.core.errors import ChangeRefused, GatewayError, InvalidChange
from gateway.core.models import ProductLine
from gateway.core.models.base import utcnow
from gateway.core.models.directory import PRODUCT_LINE_STATES
from gateway.core.store import get_store
from gateway.migration import proposals, scheduler, service
from gateway.migration.forms import kept_input, parse_utc, pilot_edit, return_check
from gateway.migration.history import line_events
from gateway.migration.service import preview_for
from gateway.routing.config import LineConfig, RoutingConfig, current_routing_config

bp = it_console("migration_console", __name__)


# The line page's own forms: a refused value re-renders that page with what was typed.
LINE_FORMS = {
    "migration_console.preview": "change",
    "migration_console.pilots_preview": "pilot",
    "migration_console.override_preview": "override",
    "migration_console.agreement_preview": "agreement",
    "migration_console.schedule": "schedule",
}


@bp.errorhandler(ChangeRefused)
def _refused(error: GatewayError) -> ResponseReturnValue:
    """A refused value on the line page re-renders it with the input kept (400/422 and
    the message); a refused confirmation goes back to the page it came from, saying why."""
    code = (request.view_args or {}).get("code")
    if request.method == "POST" and request.endpoint in LINE_FORMS and code:
        db = get_session()
        db.rollback()
        line = db.scalar(select(ProductLine).where(ProductLine.code == code))
        if line is not None:
            log_refusal(error)
            return _line_page(line, refused=error)
    return refused(error)


def _refused_form() -> str | None:
    """Which of the line page's forms was posted: its endpoint says, and the change form
    doubles as the rollback form."""
    name = LINE_FORMS.get(request.endpoint or "")
    return "rollback" if name == "change" and request.form.get("action") == "rollback" else name


def _current(code: str) -> tuple[Session, RoutingConfig, LineConfig]:
    """The session, the routing configuration and line `code` in it (NotFound if none)."""
    db = get_session()
    service.product_line(db, code)
    config = current_routing_config(db)
    return db, config, config.lines[code]


def _preview_page(
    config: RoutingConfig,
    proposed: LineConfig,
    confirm_url: str,
    fields: dict[str, str],
    *,
    rollback: bool = False,
) -> ResponseReturnValue:
    """The preview, and a form confirming exactly it: `fields`, the reason and the
    revision it was computed on go to `confirm_url`."""
    db = get_session()
    reason = service.checked_reason(request.form.get("reason"))
    return render_template(
        "migration/preview.html",
        line=service.product_line(db, proposed.code),
        preview=preview_for(db, config, proposed),
        reason=reason,
        rollback=rollback,
        confirm_url=confirm_url,
        fields=fields,
    )


@bp.get("/lines/<code>")
def line_page(code: str) -> ResponseReturnValue:
    """One line: change its state, pilots, overrides and schedule; its audit trail."""
    return _line_page(service.product_line(get_session(), code))


def _line_page(line: ProductLine, refused: GatewayError | None = None) -> ResponseReturnValue:
    """The line page; after `refused`, with its message and the refused form as typed."""
    db = get_session()
    page = render_template(
        "migration/line.html",
        line=line,
        states=PRODUCT_LINE_STATES,
        config_line=current_routing_config(db).lines[line.code],
        pilots=sorted(service.pilot_numbers(db, line)),
        events=line_events(db, line.code),
        pending=[c for c in scheduler.pending_changes(db) if c.product_line_id == line.id],
        refused=refused,
        kept=kept_input(_refused_form() if refused else None, request.form),
    )
    return page, refused.status if refused else 200


@bp.post("/lines/<code>/preview")
def preview(code: str) -> ResponseReturnValue:
    """What the proposed state change (or rollback) does, with a form to confirm it."""
    db, config, current = _current(code)
    rollback = request.form.get("action") == "rollback"
    state = "legacy" if rollback else request.form.get("state", "")
    percent = None if rollback else request.form.get("percent")
    target = service.target_setting(service.product_line(db, code), state, percent)
    fields = {
        "action": "rollback" if rollback else "change",
        "state": target.state,
        "percent": str(target.percent),
        "expected_state": current.state,
        "expected_percent": str(current.percent),
    }
    proposed = proposals.state_proposal(current, target.state, target.percent)
    url = url_for("migration_console.apply", code=code)
    return _preview_page(config, proposed, url, fields, rollback=rollback)


@bp.post("/lines/<code>/apply")
def apply(code: str) -> ResponseReturnValue:
    """Make the previewed change, unless the line changed since the preview."""
    db, form, now = get_session(), request.form, utcnow()
    expected = service.LineSetting(
        form.get("expected_state", ""), service.parse_percent(form.get("expected_percent", "0"))
    )
    back_to_legacy = return_check(form)
    if form.get("action") == "rollback":
        service.rollback(
            db, get_store(), code, reason=form.get("reason"), actor=it_actor(), now=now
        )
    else:
        service.change_state(
            db,
            get_store(),
            code,
            form.get("state", ""),
            form.get("percent"),
            reason=form.get("reason"),
            actor=it_actor(),
            now=now,
            expected=expected,
            revision=form.get("expected_revision"),
            back_to_legacy=back_to_legacy,
        )
    line = service.product_line(db, code)
    flash(
        f"{code} is now {line.state}"
        + (f" at {line.rollout_percent}%" if line.state == "rollout" else "")
        + ". Every instance routes by it within a second.",
        "info",
    )
    return redirect(start_page())


@bp.post("/lines/<code>/pilots/preview")
def pilots_preview(code: str) -> ResponseReturnValue:
    """Which accounts adding (or removing) pilot accounts moves, with a confirm form."""
    db, config, current = _current(code)
    add, remove = pilot_edit(request.form)
    proposed = proposals.pilot_proposal(db, current, add=add, remove=remove)
    fields = {"accounts": " ".join(add or remove), "action": "remove" if remove else "add"}
    return _preview_page(config, proposed, url_for("migration_console.pilots", code=code), fields)


@bp.post("/lines/<code>/pilots")
def pilots(code: str) -> ResponseReturnValue:
    """Apply a previewed pilot edit (the preview's revision is required)."""
    add, remove = pilot_edit(request.form)
    service.set_pilot_accounts(
        get_session(),
        get_store(),
        code,
        add=add,
        remove=remove,
        reason=request.form.get("reason"),
        actor=it_actor(),
        now=utcnow(),
        revision=request.form.get("expected_revision", ""),
        back_to_legacy=return_check(request.form),
    )
    flash(f"Pilot of {code} updated.", "info")
    return redirect(url_for("migration_console.line_page", code=code))


def _agreement_wanted(form: Mapping[str, str]) -> bool:
    """The agreement form's choice: "required" or "not-required", nothing else."""
    wanted = form.get("agreement", "")
    if wanted not in ("required", "not-required"):
        raise InvalidChange("Choose whether the line requires Salesforce's agreement.")
    return wanted == "required"


@bp.post("/lines/<code>/agreement/preview")
def agreement_preview(code: str) -> ResponseReturnValue:
    """Who would wait on legacy (or move on) once the line does (or no longer does)
    require Salesforce's agreement, with a confirm form."""
    _, config, current = _current(code)
    required = _agreement_wanted(request.form)
    proposed = proposals.agreement_proposal(current, required)
    fields = {"agreement": "required" if required else "not-required"}
    return _preview_page(
        config, proposed, url_for("migration_console.agreement", code=code), fields
    )


@bp.post("/lines/<code>/agreement")
def agreement(code: str) -> ResponseReturnValue:
    """Apply a previewed agreement setting (the preview's revision is required)."""
    required = _agreement_wanted(request.form)
    service.set_salesforce_agreement(
        get_session(),
        get_store(),
        code,
        required,
        reason=request.form.get("reason"),
        actor=it_actor(),
        now=utcnow(),
        revision=request.form.get("expected_revision", ""),
        back_to_legacy=return_check(request.form),
    )
    flash(
        f"{code} now {'requires' if required else 'does not require'} Salesforce's agreement "
        "before accounts move to new.",
        "info",
    )
    return redirect(url_for("migration_console.line_page", code=code))


@bp.post("/lines/<code>/overrides/preview")
def override_preview(code: str) -> ResponseReturnValue:
    """Where forcing one account to a system sends it (or why it waits), with a confirm form."""
    db, config, current = _current(code)
    form = request.form
    expires_at = parse_utc(form.get("expires_at"), "expires_at")
    proposed = proposals.override_proposal(
        db,
        current,
        form.get("account", ""),
        form.get("system", ""),
        reason=form.get("reason", ""),
        now=utcnow(),
        expires_at=expires_at,
    )
    fields = {
        "account": form.get("account", "").strip(),
        "system": form.get("system", ""),
        "expires_at": expires_at.isoformat() if expires_at else "",
    }
    return _preview_page(config, proposed, url_for("migration_console.override", code=code), fields)


@bp.post("/lines/<code>/overrides")
def override(code: str) -> ResponseReturnValue:
    """Apply a previewed override (the preview's revision is required)."""
    form = request.form
    service.set_override(
        get_session(),
        get_store(),
        code,
        form.get("account", ""),
        form.get("system", ""),
        reason=form.get("reason"),
        actor=it_actor(),
        now=utcnow(),
        expires_at=parse_utc(form.get("expires_at"), "expires_at"),
        revision=form.get("expected_revision", ""),
        back_to_legacy=return_check(form),
    )
    flash(f"Override for account {form.get('account')} saved.", "info")
    return redirect(url_for("migration_console.line_page", code=code))


@bp.post("/lines/<code>/overrides/<account>/remove/preview")
def remove_override_preview(code: str, account: str) -> ResponseReturnValue:
    """Where the account goes once its override is gone, with a confirm form."""
    db, config, current = _current(code)
    proposed = proposals.removal_proposal(db, current, account)
    url = url_for("migration_console.remove_override", code=code, account=account)
    return _preview_page(config, proposed, url, {})


@bp.post("/lines/<code>/overrides/<account>/remove")
def remove_override(code: str, account: str) -> ResponseReturnValue:
    """Apply a previewed override removal (the preview's revision is required)."""
    service.remove_override(
        get_session(),
        get_store(),
        code,
        account,
        reason=request.form.get("reason"),
        actor=it_actor(),
        now=utcnow(),
        revision=request.form.get("expected_revision", ""),
        back_to_legacy=return_check(request.form),
    )
    flash(f"Override for account {account} removed.", "info")
    return redirect(url_for("migration_console.line_page", code=code))


@bp.post("/lines/<code>/schedule")
def schedule(code: str) -> ResponseReturnValue:
    form = request.form
    run_at = parse_utc(form.get("run_at"), "run_at")
    if run_at is None:
        raise InvalidChange("Say when (UTC) the change should happen.")
    scheduler.schedule_change(
        get_session(),
        get_store(),
        code,
        form.get("state", ""),
        form.get("percent"),
        run_at=run_at,
        reason=form.get("reason"),
        actor=it_actor(),
        now=utcnow(),
        back_to_legacy=return_check(form),
    )
    flash(f"Change of {code} scheduled for {run_at:%Y-%m-%d %H:%M} UTC.", "info")
    return redirect(url_for("migration_console.line_page", code=code))


@bp.post("/schedules/<int:change_id>/cancel")
def cancel(change_id: int) -> ResponseReturnValue:
    back = checked_back()
    scheduler.cancel_change(
        get_session(),
        get_store(),
        change_id,
        reason=request.form.get("reason"),
        actor=it_actor(),
        now=utcnow(),
    )
    flash(f"Scheduled change {change_id} cancelled.", "info")
    return redirect(back)
