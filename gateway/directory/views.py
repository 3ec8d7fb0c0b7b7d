"""Directory API: who the signed-in user is."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from gateway.core import openapi
from gateway.core.access import SIGNED_IN, api_caller
from gateway.core.api_schemas import ACCOUNT, NULLABLE_TEXT, STRINGS, answer

bp = Blueprint("directory", __name__)
ME_API = openapi.ApiDescription(
    operations=(
        openapi.Operation(
            "get", "/api/v1/me", "The signed-in user", openapi.SIGNED_IN, answer="Me"
        ),
    ),
    schemas={
        "Me": answer(
            subject=NULLABLE_TEXT,
            email={"type": "string"},
            first_name={"type": "string"},
            last_name={"type": "string"},
            account=ACCOUNT,
            permissions=STRINGS,
        )
    },
)
openapi.describe(bp, ME_API)


@bp.get("/api/v1/me")
def me() -> Any:
    """The signed-in user as the portal and the tests see them."""
    user = api_caller(SIGNED_IN).user
    assert user is not None  # SIGNED_IN callers are signed-in users
    return jsonify(
        subject=user.subject,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        account={"number": user.account.account_number, "name": user.account.name},
        permissions=sorted(user.permission_names),
    )
