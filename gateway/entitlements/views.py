"""The customer's "Your entitlements" page (/entitlements) and its CSV (/entitlements.csv).

The account is always the signed-in user's own, taken from their session; nothing in the
URL names it. Filters and order come from a GET form, so every view is a link that can
be bookmarked, printed or exported as it stands.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from gateway.core import hooks
from gateway.core.csv_export import csv_text
from gateway.core.db import get_session
from gateway.core.models.directory import ENTITLEMENT_KINDS
from gateway.core.session import has_role, require_signed_in_user
from gateway.core.settings import current_settings
from gateway.core.units import request_locale
from gateway.entitlements import service
from gateway.routing.service import org_admins, today_utc

bp = Blueprint("entitlements", __name__)
# Vendor staff hold no customer entitlements: the masthead offers them no such page.
VENDOR_ROLES = ("it", "support")
# ASCII digits only: str.isdigit() also takes "²", which int() refuses.
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


def _number(text: str | None, low: int, high: int) -> int | None:
    """A whole number within [low, high] from a query argument, else None."""
    if text is None or not WHOLE_NUMBER.fullmatch(text.strip()):
        return None
    value = int(text.strip())
    return value if low <= value <= high else None


def filters_from(args: Mapping[str, str]) -> service.Filters:
    """The page's filters from its GET form; an empty or unknown value filters nothing."""
    kind = args.get("kind") or None
    return service.Filters(
        line=(args.get("line") or None),
        system=(args.get("system") or None),
        kind=kind if kind in ENTITLEMENT_KINDS else None,
        expiring_within=_number(args.get("within"), 0, service.MAX_WITHIN_DAYS),
    )


def listing_from(args: Mapping[str, str]) -> service.Listing:
    """Order and page from the GET form; anything unknown falls back to the default."""
    sort = args.get("sort", "end")
    direction = args.get("dir", "asc")
    return service.Listing(
        sort=sort if sort in service.SORTS else "end",
        direction=direction if direction in service.DIRECTIONS else "asc",
        page=_number(args.get("page"), 1, service.MAX_PAGE) or 1,
        per_page=_number(args.get("per_page"), 1, service.MAX_PAGE_SIZE) or service.PAGE_SIZE,
    )


def _query(args: Mapping[str, str], **changes: Any) -> dict[str, Any]:
    """This view's query arguments with `changes` (None drops one): for sort and page links."""
    kept = {
        key: args[key]
        for key in ("line", "system", "kind", "within", "sort", "dir", "per_page", "page")
        if args.get(key)
    }
    kept.update(changes)
    return {key: value for key, value in kept.items() if value is not None}


@bp.get("/entitlements")
def page() -> ResponseReturnValue:
    """The signed-in user's account's entitlements, a page at a time."""
    user = require_signed_in_user()
    db = get_session()
    account = service.account_of(db, user.account_id)
    if not service.may_see_entitlements(user.permission_names):
        return render_template(
            "entitlements/not_allowed.html",
            account=account,
            admins=org_admins(db, user.account_id),
            is_admin="admin" in user.permission_names,
            support_contact=current_settings().support_contact,
        )
    filters, listing, today = filters_from(request.args), listing_from(request.args), today_utc()
    shown = service.entitlement_page(
        db, user.account_id, filters, listing, today=today, locale=request_locale()
    )
    args = request.args.to_dict()

    def link(**changes: Any) -> str:
        return url_for("entitlements.page", **_query(args, **changes))

    def sort_link(key: str) -> str:
        """Sort by `key`; the key already sorted by turns around."""
        same = listing.sort == key and listing.direction == "asc"
        return link(sort=key, dir="desc" if same else "asc", page=None)

    choices = service.filter_choices(db, user.account_id)
    return render_template(
        "entitlements/page.html",
        account=account,
        shown=shown,
        filters=filters,
        listing=listing,
        choices=choices,
        # Per line, whether Salesforce covers support today ({}: not connected).
        support=hooks.support_eligibility_of(
            account.account_number, [code for code, _ in choices.lines]
        ),
        link=link,
        sort_link=sort_link,
        csv_link=url_for("entitlements.export", **_query(args, page=None, per_page=None)),
        bands=service.HIGHLIGHT_DAYS,
        long_date=service.long_date,
        today_text=service.long_date(today),
    )


@bp.get("/entitlements.csv")
def export() -> ResponseReturnValue:
    """Every entitlement the page's filters match, in its order, as CSV."""
    user = require_signed_in_user()
    if not service.may_see_entitlements(user.permission_names):
        return render_template(
            "entitlements/not_allowed.html",
            account=service.account_of(get_session(), user.account_id),
            admins=org_admins(get_session(), user.account_id),
            is_admin="admin" in user.permission_names,
            support_contact=current_settings().support_contact,
        ), 403
    rows = service.all_entitlements(
        get_session(),
        user.account_id,
        filters_from(request.args),
        listing_from(request.args),
        today=today_utc(),
        locale=request_locale(),
    )
    body = csv_text(service.CSV_HEADER, service.csv_rows(rows))
    name = f"entitlements-{user.account_number}-{today_utc().isoformat()}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_safe_file_name(name)}"'},
    )


def _safe_file_name(name: str) -> str:
    """Account numbers are identifiers, but a header is no place for quotes or controls."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _entitlements_link() -> dict[str, Callable[[], str | None]]:
    def link() -> str | None:
        """Where "Your entitlements" points for the signed-in customer, if anywhere."""
        # From the session alone: every page shows the header, and this costs no query
        # (the page itself checks the user and their permissions).
        if not isinstance(session.get("user_id"), int):
            return None
        if any(has_role(role) for role in VENDOR_ROLES):
            return None
        return url_for("entitlements.page")

    return {"entitlements_link": link}


bp.app_context_processor(_entitlements_link)
