"""The OpenAPI description of the migration API (gateway.migration.api): product lines,
their previews and changes, and scheduled changes. Bodies are read against these
schemas (gateway.core.api_input)."""

from __future__ import annotations

from typing import Any

from gateway.core.api_schemas import (
    CODE,
    COUNT,
    DATE_TIME,
    IDENTIFIER,
    MOMENT,
    REASON,
    REVISION,
    STATE,
    STRINGS,
    TEXT,
    answer,
    strict,
)
from gateway.core.models.rollout import OVERRIDE_SYSTEMS, SCHEDULE_STATUSES
from gateway.core.openapi import IT_READ, IT_TOKEN, ApiDescription, Operation, query

CONFIRM_BACK: dict[str, Any] = {
    "type": "boolean",
    "description": "confirms a change that sends accounts from new back to legacy; without "
    "it such a change is refused with 409 naming them",
}
PERCENT: dict[str, Any] = {
    "type": ["number", "string", "null"],
    "minimum": 0,
    "maximum": 100,
    "pattern": r"^(100(\.00?)?|[0-9]{1,2}(\.[0-9]{1,2})?)%?$",
    "description": "a percentage from 0 to 100 with at most two decimals (more are refused "
    "with 422); needed for `rollout`, kept as it is for other states when left out",
}
PERCENT_TEXT: dict[str, Any] = {"type": "string", "pattern": r"^[0-9]{1,3}\.[0-9]{2}$"}
ACCOUNTS: dict[str, Any] = {"type": "array", "maxItems": 1000, "items": IDENTIFIER}
OVERRIDE_SYSTEM: dict[str, Any] = {"type": "string", "enum": list(OVERRIDE_SYSTEMS)}
REQUIRED_AGREEMENT: dict[str, Any] = {
    "type": "boolean",
    "description": "true: an account moves to new only once its entitlements of the line "
    "there agree with Salesforce (no difference in the drift report); false: once the new "
    "system holds them",
}

REQUEST_SCHEMAS: dict[str, dict[str, Any]] = {
    "Setting": strict(["state"], state=STATE, percent=PERCENT),
    "Change": strict(
        ["state", "reason"],
        state=STATE,
        percent=PERCENT,
        reason=REASON,
        expected_state=STATE,
        expected_percent=PERCENT,
        expected_revision=REVISION,
        confirm_back_to_legacy=CONFIRM_BACK,
    ),
    "Reason": strict(["reason"], reason=REASON),
    "PilotEdit": strict([], add=ACCOUNTS, remove=ACCOUNTS),
    "Pilots": strict(
        ["reason"],
        add=ACCOUNTS,
        remove=ACCOUNTS,
        reason=REASON,
        expected_revision=REVISION,
        confirm_back_to_legacy=CONFIRM_BACK,
    ),
    "AgreementSetting": strict(["require"], require=REQUIRED_AGREEMENT),
    "Agreement": strict(
        ["require", "reason"],
        require=REQUIRED_AGREEMENT,
        reason=REASON,
        expected_revision=REVISION,
        confirm_back_to_legacy=CONFIRM_BACK,
    ),
    "OverrideSetting": strict(["system"], system=OVERRIDE_SYSTEM, reason=TEXT, expires_at=MOMENT),
    "Override": strict(
        ["system", "reason"],
        system=OVERRIDE_SYSTEM,
        reason=REASON,
        expires_at=MOMENT,
        expected_revision=REVISION,
        confirm_back_to_legacy=CONFIRM_BACK,
    ),
    "Schedule": strict(
        ["product_line", "state", "run_at", "reason"],
        product_line=CODE,
        state=STATE,
        percent=PERCENT,
        run_at=MOMENT,
        reason=REASON,
        confirm_back_to_legacy=CONFIRM_BACK,
    ),
}

_LINE = answer(
    code={"type": "string"},
    name={"type": "string"},
    state=STATE,
    percent=PERCENT_TEXT,
    pilot_accounts=STRINGS,
    require_salesforce_agreement={"type": "boolean"},
    overrides={
        "type": "object",
        "additionalProperties": answer(
            system=OVERRIDE_SYSTEM,
            reason={"type": "string"},
            expires_at={"type": ["string", "null"], "format": "date-time"},
        ),
    },
    revision={"type": "string"},
)
_SCHEDULED = answer(
    id={"type": "integer"},
    product_line={"type": "string"},
    state=STATE,
    percent=PERCENT_TEXT,
    run_at=DATE_TIME,
    reason={"type": "string"},
    status={"type": "string", "enum": list(SCHEDULE_STATUSES)},
    created_by={"type": "string"},
)
_MOVEMENT = answer(
    source={"type": "string"},
    target={"type": "string"},
    accounts=COUNT,
    users=COUNT,
    entitlements=COUNT,
    account_numbers=STRINGS,
)
_BACK_TO_LEGACY = {
    "oneOf": [
        {"type": "null"},
        answer(
            accounts=COUNT,
            users=COUNT,
            entitlements=COUNT,
            account_numbers=STRINGS,
            warning={"type": "string"},
        ),
    ],
    "description": "accounts this change sends from new back to legacy (null: none)",
}

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "ProductLine": _LINE,
    "ProductLines": answer(product_lines={"type": "array", "items": _LINE}),
    "Preview": answer(
        product_line={"type": "string"},
        revision={"type": "string"},
        changes=STRINGS,
        before=_LINE,
        after=_LINE,
        summary={"type": "string"},
        movements={"type": "array", "items": _MOVEMENT},
        new_choice_count=COUNT,
        new_choice_accounts=STRINGS,
        waiting_for_data_count=COUNT,
        waiting_for_data=STRINGS,
        accounts=COUNT,
        elapsed_ms={"type": "number", "minimum": 0},
        back_to_legacy=_BACK_TO_LEGACY,
    ),
    "ScheduledChange": _SCHEDULED,
    "ScheduledChanges": answer(
        pending={"type": "array", "items": _SCHEDULED},
        recent={"type": "array", "items": _SCHEDULED},
    ),
}

_REASON_QUERY = query("reason", REASON, "recorded in the audit log", required=True)
_REVISION_QUERY = query("expected_revision", REVISION, "the removal preview's `revision`")
_CONFIRM_QUERY = query(
    "confirm_back_to_legacy",
    {"type": "string", "enum": ["true", "false"]},
    CONFIRM_BACK["description"],
)
_LINE_PATH = "/api/v1/product-lines/{code}"
_OVERRIDE = _LINE_PATH + "/overrides/{account}"

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/api/v1/product-lines",
        "Every line's routing settings",
        IT_READ,
        "rollout:read",
        answer="ProductLines",
    ),
    Operation(
        "get", _LINE_PATH, "One line's settings", IT_READ, "rollout:read", answer="ProductLine"
    ),
    Operation(
        "post",
        _LINE_PATH + "/preview",
        "What a state change would move (nothing changes); its `revision` goes back as "
        "`expected_revision`",
        IT_TOKEN,
        "rollout:read",
        body="Setting",
        answer="Preview",
    ),
    Operation(
        "post",
        _LINE_PATH + "/state",
        "Change a line's state (and percent); audited",
        IT_TOKEN,
        "rollout:write",
        body="Change",
        answer="Audited",
        refusals=("409",),
    ),
    Operation(
        "post",
        _LINE_PATH + "/rollback",
        "Back to legacy in one action; audited",
        IT_TOKEN,
        "rollout:write",
        body="Reason",
        answer="Audited",
    ),
    Operation(
        "post",
        _LINE_PATH + "/pilot-accounts/preview",
        "What adding or removing pilot accounts would move (nothing changes)",
        IT_TOKEN,
        "rollout:read",
        body="PilotEdit",
        answer="Preview",
    ),
    Operation(
        "post",
        _LINE_PATH + "/pilot-accounts",
        "Add or remove pilot accounts; audited",
        IT_TOKEN,
        "rollout:write",
        body="Pilots",
        answer="Audited",
        refusals=("409",),
    ),
    Operation(
        "post",
        _LINE_PATH + "/salesforce-agreement/preview",
        "Who would wait on legacy (or move on) if the line required Salesforce's agreement "
        "(nothing changes)",
        IT_TOKEN,
        "rollout:read",
        body="AgreementSetting",
        answer="Preview",
    ),
    Operation(
        "put",
        _LINE_PATH + "/salesforce-agreement",
        "Require (or stop requiring) Salesforce's agreement before accounts move to new; audited",
        IT_TOKEN,
        "rollout:write",
        body="Agreement",
        answer="Audited",
        refusals=("409",),
    ),
    Operation(
        "post",
        _OVERRIDE + "/preview",
        "Where an override would send the account, or that it waits for data (nothing changes)",
        IT_TOKEN,
        "rollout:read",
        body="OverrideSetting",
        answer="Preview",
    ),
    Operation(
        "post",
        _OVERRIDE + "/removal-preview",
        "Where the account goes once its override is removed (nothing changes)",
        IT_TOKEN,
        "rollout:read",
        answer="Preview",
    ),
    Operation(
        "put",
        _OVERRIDE,
        "Force one account's line to a system, optionally until a time",
        IT_TOKEN,
        "rollout:write",
        body="Override",
        answer="Audited",
        refusals=("409",),
    ),
    Operation(
        "delete",
        _OVERRIDE,
        "Remove an override; audited",
        IT_TOKEN,
        "rollout:write",
        answer="Audited",
        query=(_REASON_QUERY, _REVISION_QUERY, _CONFIRM_QUERY),
        refusals=("409",),
    ),
    Operation(
        "get",
        "/api/v1/scheduled-changes",
        "Pending and recent scheduled changes",
        IT_READ,
        "rollout:read",
        answer="ScheduledChanges",
    ),
    Operation(
        "post",
        "/api/v1/scheduled-changes",
        "Schedule a change (the time must be ahead)",
        IT_TOKEN,
        "rollout:write",
        body="Schedule",
        answer="ScheduledChange",
        success="201",
        refusals=("404",),
    ),
    Operation(
        "post",
        "/api/v1/scheduled-changes/{id}/cancel",
        "Cancel a pending change",
        IT_TOKEN,
        "rollout:write",
        body="Reason",
        answer="ScheduledChange",
        refusals=("409",),
    ),
)

MIGRATION_API = ApiDescription(
    operations=OPERATIONS,
    schemas={**REQUEST_SCHEMAS, **RESPONSE_SCHEMAS},
    path_parameters={
        "code": {**CODE, "description": "product-line code, e.g. NET"},
        "account": {**IDENTIFIER, "description": "account number"},
        "id": {"type": "integer", "minimum": 0, "maximum": 2_147_483_647},
    },
)
