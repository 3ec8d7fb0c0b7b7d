"""The IT API's maintenance switch: preview, then switch with IT's reason and the
separate message customers read, under /api/v1/."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from gateway.core.access import api_caller, limit_failed_credentials
from gateway.core.api_input import json_body
from gateway.core.api_schemas import event_json
from gateway.core.audit import Actor
from gateway.core.db import get_session
from gateway.core.errors import InvalidChange
from gateway.core.models.base import utcnow
from gateway.core.openapi import describe
from gateway.core.settings import current_settings
from gateway.core.store import get_store
from gateway.routing.config import current_routing_config
from gateway.routing.service import today_utc
from gateway.systems.openapi import SYSTEMS_API
from gateway.systems.service import preview_maintenance, set_maintenance

bp = Blueprint("systems_api", __name__, url_prefix="/api/v1")
limit_failed_credentials(bp)
describe(bp, SYSTEMS_API)


def _flag(body: dict[str, object], field: str, *, required: bool) -> bool | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, bool):
        raise InvalidChange(f"{field}: true or false")
    return value


@bp.post("/systems/<key>/maintenance/preview")
def preview_maintenance_switch(key: str) -> ResponseReturnValue:
    """Who `{"down": true}` (or false) would send elsewhere or to the status page."""
    api_caller("rollout:read")
    down = _flag(json_body("MaintenanceSwitch"), "down", required=True)
    db = get_session()
    preview = preview_maintenance(
        db,
        current_routing_config(db),
        key,
        bool(down),
        today=today_utc(),
        grace_days=current_settings().entitlement_grace_days,
        now=utcnow(),
    )
    return jsonify(preview.as_dict())


@bp.post("/systems/<key>/maintenance")
def maintenance(key: str) -> ResponseReturnValue:
    """Switch maintenance; `expected_maintenance` (the preview's `maintenance_before`)
    refuses it with 409 when someone switched it meanwhile."""
    caller, body = api_caller("rollout:write"), json_body("Maintenance")
    down = _flag(body, "down", required=True)
    message = body.get("customer_message")
    if message is not None and not isinstance(message, str):
        raise InvalidChange("customer_message: text shown to customers")
    event = set_maintenance(
        get_session(),
        get_store(),
        key,
        bool(down),
        reason=body.get("reason"),
        actor=Actor(caller.name, g.get("request_id")),
        now=utcnow(),
        customer_message=message,
        expected=_flag(body, "expected_maintenance", required=False),
    )
    return jsonify(audit_event=event_json(event))
