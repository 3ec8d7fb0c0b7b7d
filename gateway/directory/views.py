"""Directory API: who the signed-in user is."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from gateway.core.session import require_user

bp = Blueprint("directory", __name__)


@bp.get("/api/v1/me")
def me() -> Any:
    """The signed-in user as the portal and the tests see them."""
    user = require_user()
    return jsonify(
        subject=user.subject,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        account={"number": user.account.account_number, "name": user.account.name},
        permissions=sorted(user.permission_names),
    )
