"""What the IT console's forms carry: dates, pilot edits, the back-to-legacy confirmation,
where to go back to, and the values to put back into a form whose input was refused."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from flask import request, url_for

from gateway.core.settings import current_settings
from gateway.core.targets import checked_target, safe_target
from gateway.rollout.errors import InvalidChange
from gateway.rollout.guard import ReturnCheck

log = logging.getLogger(__name__)
# The field confirming a change that sends accounts from new back to legacy: the
# console's checkbox, the API's body member (for DELETE, its query parameter).
CONFIRM_BACK_FIELD = "confirm_back_to_legacy"


def parse_utc(value: str | None, field: str) -> datetime | None:
    """An ISO date-time from a form or JSON body, read as UTC when it names no zone."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidChange(f"{field}: use a date and time such as 2027-01-15T06:00") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def pilot_edit(form: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The pilot form's accounts, as (add, remove)."""
    numbers = form.get("accounts", "").replace(",", " ").split()
    return (numbers, []) if form.get("action") != "remove" else ([], numbers)


def return_check(form: Mapping[str, str]) -> ReturnCheck:
    """Whether the person ticked "send them back to legacy" on the preview."""
    return ReturnCheck(
        confirmed=form.get(CONFIRM_BACK_FIELD) == "yes",
        grace_days=current_settings().entitlement_grace_days,
    )


def checked_back() -> str:
    """The form's `back` page, through the same target check as every `next`: an
    outside address is refused (UnsafeRedirect) before anything changes."""
    return checked_target(request.form.get("back")) or url_for("rollout_console.dashboard")


def fallback_back(default: str) -> str:
    """The form's `back` page when it passes the target check, else `default` (for a
    change already refused, where a second error page would only hide the first)."""
    value = request.form.get("back")
    target = safe_target(value, current_settings().base_url, ())
    if value and target is None:
        log.warning("unsafe back target ignored", extra={"event": "rollout.unsafe_back"})
    return target or default


def kept_input(form_name: str | None, values: Mapping[str, str]) -> Callable[..., str]:
    """For a page re-rendered after a refusal: `kept("change", "percent", default)` is what
    the person typed into that form, and the default in every other form."""

    def kept(name: str, field: str, default: object = "") -> str:
        if form_name == name and field in values:
            return values[field]
        return "" if default is None else str(default)

    return kept
