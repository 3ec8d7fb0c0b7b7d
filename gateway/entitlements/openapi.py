"""The OpenAPI description of /api/v1/me/entitlements (gateway.entitlements.api): the
signed-in user's account's entitlements, as the "Your entitlements" page shows them.
Queries are read against it (gateway.core.api_input)."""

from __future__ import annotations

from typing import Any

from gateway.core.api_schemas import CODE, COUNT, IDENTIFIER, answer
from gateway.core.models.directory import ENTITLEMENT_KINDS, ENTITLEMENT_STATUSES
from gateway.core.openapi import SIGNED_IN, ApiDescription, Operation, query
from gateway.entitlements.service import (
    DIRECTIONS,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_WITHIN_DAYS,
    PAGE_SIZE,
    SORTS,
)

ENTITLEMENTS_PATH = "/api/v1/me/entitlements"
_DATE: dict[str, Any] = {"type": ["string", "null"], "format": "date"}

ENTITLEMENT = answer(
    id={"type": "string", "description": "the license centers' entitlement id"},
    product_line=answer(code={"type": "string"}, name={"type": "string"}),
    product={"type": "string"},
    quantity={
        "type": "string",
        "pattern": r"^[0-9]+(\.[0-9]+)?$",
        "description": "a decimal number as a string, e.g. `5000000` or `2.5`",
    },
    unit={"type": "string", "description": "the unit of measure as the license center has it"},
    quantity_text={
        "type": "string",
        "description": "the quantity for people, in the request's Accept-Language: "
        "`5,000,000 USD revenue`, `1 seat`",
    },
    kind={"type": "string", "enum": list(ENTITLEMENT_KINDS)},
    start_date=_DATE,
    end_date={**_DATE, "description": "null for a perpetual licence"},
    days_left={
        "type": ["integer", "null"],
        "description": "days from today (UTC) to the end date; negative once it has ended",
    },
    systems={
        "type": "array",
        "items": answer(key={"type": "string"}, name={"type": "string"}),
        "description": "the license centers that hold it",
    },
    status={"type": "string", "enum": list(ENTITLEMENT_STATUSES)},
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "MyEntitlement": ENTITLEMENT,
    "MyEntitlements": answer(
        entitlements={"type": "array", "items": {"$ref": "#/components/schemas/MyEntitlement"}},
        total=COUNT,
        page={"type": "integer", "minimum": 1},
        per_page={"type": "integer", "minimum": 1},
        pages={"type": "integer", "minimum": 1},
    ),
}

ENTITLEMENTS_API = ApiDescription(
    operations=(
        Operation(
            "get",
            ENTITLEMENTS_PATH,
            "The signed-in user's account's entitlements, a page at a time",
            SIGNED_IN,
            answer="MyEntitlements",
            # Portal-only users: their organisation's admins decide (403).
            refusals=("403",),
            query=(
                query(
                    "page",
                    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                    "which page, from 1 (past the last: the last)",
                ),
                query(
                    "per_page",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_PAGE_SIZE,
                        "default": PAGE_SIZE,
                    },
                    "entitlements per page",
                ),
                query("line", CODE, "only this product line"),
                query("system", IDENTIFIER, "only those this license center holds"),
                query(
                    "kind", {"type": "string", "enum": list(ENTITLEMENT_KINDS)}, "only this kind"
                ),
                query(
                    "expiring_within",
                    {"type": "integer", "minimum": 0, "maximum": MAX_WITHIN_DAYS},
                    "only terms ending between today and this many days from now",
                ),
                query(
                    "sort",
                    {"type": "string", "enum": list(SORTS), "default": "end"},
                    "order by product line, product, end date or days left",
                ),
                query(
                    "dir",
                    {"type": "string", "enum": list(DIRECTIONS), "default": "asc"},
                    "ascending or descending",
                ),
            ),
        ),
    ),
    schemas=SCHEMAS,
)
