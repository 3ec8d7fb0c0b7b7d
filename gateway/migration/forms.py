"""What the IT console's forms carry: dates, pilot edits, the back-to-legacy confirmation,
and the values to put back into a form whose input was refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from gateway.core.errors import InvalidChange
from gateway.core.settings import current_settings
from gateway.migration.guard import ReturnCheck

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


def kept_input(form_name: str | None, values: Mapping[str, str]) -> Callable[..., str]:
    """For a page re-rendered after a refusal: `kept("change", "percent", default)` is what
    the person typed into that form, and the default in every other form."""

    def kept(name: str, field: str, default: object = "") -> str:
        if form_name == name and field in values:
            return values[field]
        return "" if default is None else str(default)

    return kept
