"""IT's JSON API for product lines and scheduled changes under /api/v1/: the same
service functions as the console and the CLI.

Bearer tokens with scopes (rollout:read, rollout:write); errors are problem+json
(RFC 9457) through the app's one error handler. The routes are described in
gateway.migration.openapi, part of /api/v1/openapi.json.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from gateway.core.access import api_caller, limit_failed_credentials
from gateway.core.api_input import json_body, query_arguments
from gateway.core.api_schemas import event_json
from gateway.core.audit import Actor
from gateway.core.db import get_session
from gateway.core.errors import InvalidChange, problem
from gateway.core.models.base import utcnow
from gateway.core.openapi import describe
from gateway.core.settings import current_settings
from gateway.core.store import get_store
from gateway.migration import proposals, scheduler, service
from gateway.migration.api_json import line_json, preview_json, schedule_json
from gateway.migration.errors import BackToLegacyUnconfirmed
from gateway.migration.forms import CONFIRM_BACK_FIELD, parse_utc
from gateway.migration.guard import ReturnCheck
from gateway.migration.openapi import MIGRATION_API
from gateway.migration.service import preview_for
from gateway.routing.config import LineConfig, RoutingConfig, current_routing_config

bp = Blueprint("migration_api", __name__, url_prefix="/api/v1")
limit_failed_credentials(bp)
describe(bp, MIGRATION_API)


log = logging.getLogger(__name__)


@bp.errorhandler(BackToLegacyUnconfirmed)
def _unconfirmed(error: BackToLegacyUnconfirmed) -> ResponseReturnValue:
    """409 problem+json naming how many accounts would go back and the field to confirm."""
    log.warning(error.detail, extra={"event": error.event, "status": error.status})
    return problem(
        error.status,
        error.title,
        error.detail,
        back_to_legacy={
            "accounts": error.accounts,
            "users": error.users,
            "account_numbers": list(error.account_numbers),
        },
        confirm_field=CONFIRM_BACK_FIELD,
    )


def _return_check(value: object) -> ReturnCheck:
    """`confirm_back_to_legacy`: JSON true (or "true" as a query parameter) confirms."""
    confirmed = value is True or (isinstance(value, str) and value.lower() == "true")
    return ReturnCheck(confirmed, current_settings().entitlement_grace_days)


def api_actor(scope: str) -> Actor:
    return Actor(api_caller(scope).name, g.get("request_id"))


@bp.get("/product-lines")
def list_lines() -> ResponseReturnValue:
    api_caller("rollout:read")
    config = current_routing_config(get_session())
    return jsonify(product_lines=[line_json(config.lines[code]) for code in sorted(config.lines)])


@bp.get("/product-lines/<code>")
def get_line(code: str) -> ResponseReturnValue:
    api_caller("rollout:read")
    db = get_session()
    service.product_line(db, code)
    return jsonify(line_json(current_routing_config(db).lines[code]))


def _current(code: str) -> tuple[RoutingConfig, LineConfig]:
    db = get_session()
    service.product_line(db, code)
    config = current_routing_config(db)
    return config, config.lines[code]


def _previewed(config: RoutingConfig, proposed: LineConfig) -> ResponseReturnValue:
    return jsonify(preview_json(preview_for(get_session(), config, proposed)))


@bp.post("/product-lines/<code>/preview")
def preview(code: str) -> ResponseReturnValue:
    api_caller("rollout:read")
    body, (config, current) = json_body("Setting"), _current(code)
    target = service.target_setting(
        service.product_line(get_session(), code), str(body.get("state", "")), body.get("percent")
    )
    return _previewed(config, proposals.state_proposal(current, target.state, target.percent))


@bp.post("/product-lines/<code>/state")
def change_state(code: str) -> ResponseReturnValue:
    actor, db, body = api_actor("rollout:write"), get_session(), json_body("Change")
    expected = None
    if "expected_state" in body:
        expected = service.LineSetting(
            str(body["expected_state"]), service.parse_percent(body.get("expected_percent", 0))
        )
    event = service.change_state(
        db,
        get_store(),
        code,
        str(body.get("state", "")),
        body.get("percent"),
        reason=body.get("reason"),
        actor=actor,
        now=utcnow(),
        expected=expected,
        revision=_revision(body.get("expected_revision")),
        back_to_legacy=_return_check(body.get(CONFIRM_BACK_FIELD)),
    )
    return jsonify(audit_event=event_json(event))


def _revision(value: object) -> str | None:
    """`expected_revision` as sent (optional: without it, no staleness check)."""
    return None if value is None else str(value)


@bp.post("/product-lines/<code>/rollback")
def rollback(code: str) -> ResponseReturnValue:
    actor, body = api_actor("rollout:write"), json_body("Reason")
    event = service.rollback(
        get_session(), get_store(), code, reason=body.get("reason"), actor=actor, now=utcnow()
    )
    return jsonify(audit_event=event_json(event))


def _pilot_lists(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    add, remove = body.get("add", []), body.get("remove", [])
    if not isinstance(add, list) or not isinstance(remove, list):
        raise InvalidChange("add and remove: lists of account numbers")
    return [str(n) for n in add], [str(n) for n in remove]


@bp.post("/product-lines/<code>/pilot-accounts/preview")
def preview_pilots(code: str) -> ResponseReturnValue:
    api_caller("rollout:read")
    (config, current), (add, remove) = _current(code), _pilot_lists(json_body("PilotEdit"))
    proposed = proposals.pilot_proposal(get_session(), current, add=add, remove=remove)
    return _previewed(config, proposed)


@bp.post("/product-lines/<code>/pilot-accounts")
def pilot_accounts(code: str) -> ResponseReturnValue:
    actor, body = api_actor("rollout:write"), json_body("Pilots")
    add, remove = _pilot_lists(body)
    event = service.set_pilot_accounts(
        get_session(),
        get_store(),
        code,
        add=add,
        remove=remove,
        reason=body.get("reason"),
        actor=actor,
        now=utcnow(),
        revision=_revision(body.get("expected_revision")),
        back_to_legacy=_return_check(body.get(CONFIRM_BACK_FIELD)),
    )
    return jsonify(audit_event=event_json(event))


@bp.post("/product-lines/<code>/salesforce-agreement/preview")
def preview_agreement(code: str) -> ResponseReturnValue:
    api_caller("rollout:read")
    body, (config, current) = json_body("AgreementSetting"), _current(code)
    return _previewed(config, proposals.agreement_proposal(current, bool(body["require"])))


@bp.put("/product-lines/<code>/salesforce-agreement")
def put_agreement(code: str) -> ResponseReturnValue:
    actor, body = api_actor("rollout:write"), json_body("Agreement")
    event = service.set_salesforce_agreement(
        get_session(),
        get_store(),
        code,
        bool(body["require"]),
        reason=body.get("reason"),
        actor=actor,
        now=utcnow(),
        revision=_revision(body.get("expected_revision")),
        back_to_legacy=_return_check(body.get(CONFIRM_BACK_FIELD)),
    )
    return jsonify(audit_event=event_json(event))


@bp.post("/product-lines/<code>/overrides/<account>/preview")
def preview_override(code: str, account: str) -> ResponseReturnValue:
    api_caller("rollout:read")
    body, (config, current) = json_body("OverrideSetting"), _current(code)
    proposed = proposals.override_proposal(
        get_session(),
        current,
        account,
        str(body.get("system", "")),
        reason=str(body.get("reason") or ""),
        now=utcnow(),
        expires_at=parse_utc(body.get("expires_at"), "expires_at"),
    )
    return _previewed(config, proposed)


@bp.put("/product-lines/<code>/overrides/<account>")
def put_override(code: str, account: str) -> ResponseReturnValue:
    actor, body = api_actor("rollout:write"), json_body("Override")
    event = service.set_override(
        get_session(),
        get_store(),
        code,
        account,
        str(body.get("system", "")),
        reason=body.get("reason"),
        actor=actor,
        now=utcnow(),
        expires_at=parse_utc(body.get("expires_at"), "expires_at"),
        revision=_revision(body.get("expected_revision")),
        back_to_legacy=_return_check(body.get(CONFIRM_BACK_FIELD)),
    )
    return jsonify(audit_event=event_json(event))


@bp.post("/product-lines/<code>/overrides/<account>/removal-preview")
def preview_override_removal(code: str, account: str) -> ResponseReturnValue:
    api_caller("rollout:read")
    config, current = _current(code)
    return _previewed(config, proposals.removal_proposal(get_session(), current, account))


@bp.delete("/product-lines/<code>/overrides/<account>")
def delete_override(code: str, account: str) -> ResponseReturnValue:
    actor = api_actor("rollout:write")
    query = query_arguments("delete", "/api/v1/product-lines/{code}/overrides/{account}")
    event = service.remove_override(
        get_session(),
        get_store(),
        code,
        account,
        reason=query["reason"],
        actor=actor,
        now=utcnow(),
        revision=query["expected_revision"],
        back_to_legacy=_return_check(query.get(CONFIRM_BACK_FIELD)),
    )
    return jsonify(audit_event=event_json(event))


@bp.get("/scheduled-changes")
def list_scheduled() -> ResponseReturnValue:
    api_caller("rollout:read")
    db = get_session()
    return jsonify(
        pending=[schedule_json(c) for c in scheduler.pending_changes(db)],
        recent=[schedule_json(c) for c in scheduler.recent_changes(db)],
    )


@bp.post("/scheduled-changes")
def create_scheduled() -> ResponseReturnValue:
    actor, body = api_actor("rollout:write"), json_body("Schedule")
    run_at = parse_utc(body.get("run_at"), "run_at")
    if run_at is None:
        raise InvalidChange("run_at: required, e.g. 2027-01-15T06:00:00Z")
    change = scheduler.schedule_change(
        get_session(),
        get_store(),
        str(body.get("product_line", "")),
        str(body.get("state", "")),
        body.get("percent"),
        run_at=run_at,
        reason=body.get("reason"),
        actor=actor,
        now=utcnow(),
        back_to_legacy=_return_check(body.get(CONFIRM_BACK_FIELD)),
    )
    return jsonify(schedule_json(change)), 201


@bp.post("/scheduled-changes/<int(max=2147483647):change_id>/cancel")
def cancel_scheduled(change_id: int) -> ResponseReturnValue:
    actor, body = api_actor("rollout:write"), json_body("Reason")
    change = scheduler.cancel_change(
        get_session(), get_store(), change_id, reason=body.get("reason"), actor=actor, now=utcnow()
    )
    return jsonify(schedule_json(change))
