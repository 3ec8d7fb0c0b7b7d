"""GET /api/v1/me/entitlements: the "Your entitlements" page's rows as JSON, for the
signed-in user's session (the portal's own pages call it from the browser)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from gateway.core.access import SIGNED_IN, api_caller
from gateway.core.api_input import query_arguments
from gateway.core.db import get_session
from gateway.core.openapi import describe
from gateway.core.units import request_locale
from gateway.entitlements import service
from gateway.entitlements.errors import EntitlementsNotShown
from gateway.entitlements.openapi import ENTITLEMENTS_API, ENTITLEMENTS_PATH
from gateway.routing.service import today_utc

bp = Blueprint("entitlements_api", __name__)
describe(bp, ENTITLEMENTS_API)


def entitlement_json(row: service.EntitlementRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "product_line": {"code": row.line_code, "name": row.line_name},
        "product": row.product,
        "quantity": row.quantity_plain,
        "unit": row.unit_of_measure,
        "quantity_text": row.quantity_text,
        "kind": row.kind,
        "start_date": row.start.isoformat() if row.start else None,
        "end_date": row.end.isoformat() if row.end else None,
        "days_left": row.days_left,
        "systems": [{"key": holder.key, "name": holder.name} for holder in row.systems],
        "status": row.status,
    }


@bp.get(ENTITLEMENTS_PATH)
def my_entitlements() -> ResponseReturnValue:
    user = api_caller(SIGNED_IN).user
    assert user is not None  # SIGNED_IN callers are signed-in users
    if not service.may_see_entitlements(user.permission_names):
        raise EntitlementsNotShown(
            "Your organisation's administrators decide who sees its entitlements: "
            "ask one of them for the licensing or downloads permission.",
            user_id=user.id,
        )
    arguments = query_arguments("get", ENTITLEMENTS_PATH)
    filters = service.Filters(
        line=arguments["line"],
        system=arguments["system"],
        kind=arguments["kind"],
        expiring_within=arguments["expiring_within"],
    )
    listing = service.Listing(
        sort=arguments["sort"],
        direction=arguments["dir"],
        page=arguments["page"],
        per_page=arguments["per_page"],
    )
    shown = service.entitlement_page(
        get_session(), user.account_id, filters, listing, today=today_utc(), locale=request_locale()
    )
    return jsonify(
        entitlements=[entitlement_json(row) for row in shown.items],
        total=shown.total,
        page=shown.page,
        per_page=shown.per_page,
        pages=shown.pages,
    )
