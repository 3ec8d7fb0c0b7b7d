"""The IT API's JSON shapes: a line's settings, a preview, a scheduled change, an audit
event. One place, so every endpoint (and the OpenAPI document) agrees on them."""

from __future__ import annotations

from typing import Any

from gateway.core.models import ScheduledChange
from gateway.routing.config import LineConfig
from gateway.routing.preview import Preview


def line_json(line: LineConfig) -> dict[str, Any]:
    return {
        "code": line.code,
        "name": line.name,
        "state": line.state,
        "percent": str(line.percent),
        "pilot_accounts": sorted(line.pilot_accounts),
        "require_salesforce_agreement": line.require_salesforce_agreement,
        "overrides": {
            number: {
                "system": o.system,
                "reason": o.reason,
                "expires_at": o.expires_at.isoformat() if o.expires_at else None,
            }
            for number, o in sorted(line.overrides.items())
        },
        "revision": line.revision,
    }


def preview_json(preview: Preview) -> dict[str, Any]:
    return {
        "product_line": preview.code,
        "revision": preview.revision,
        "changes": list(preview.changes),
        "before": line_json(preview.before),
        "after": line_json(preview.after),
        "summary": preview.summary,
        "back_to_legacy": back_json(preview),
        "movements": [
            {**m.__dict__, "account_numbers": list(m.account_numbers)} for m in preview.movements
        ],
        "new_choice_count": preview.new_choice_count,
        "new_choice_accounts": list(preview.new_choice_accounts),
        "waiting_for_data_count": preview.waiting_count,
        "waiting_for_data": list(preview.waiting_for_data),
        "accounts": preview.accounts,
        "elapsed_ms": preview.elapsed_ms,
    }


def back_json(preview: Preview) -> dict[str, Any] | None:
    """Accounts the change sends from new back to legacy: applying it needs
    `confirm_back_to_legacy: true` (a rollback excepted)."""
    back = preview.back_to_legacy
    if back is None:
        return None
    return {
        "accounts": back.accounts,
        "users": back.users,
        "entitlements": back.entitlements,
        "account_numbers": list(back.account_numbers),
        "warning": preview.warning,
    }


def schedule_json(change: ScheduledChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "product_line": change.product_line.code,
        "state": change.target_state,
        "percent": str(change.target_percent),
        "run_at": change.run_at.isoformat(),
        "reason": change.reason,
        "status": change.status,
        "created_by": change.created_by,
    }
