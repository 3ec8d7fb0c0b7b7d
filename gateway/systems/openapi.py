"""The OpenAPI description of the systems API (gateway.systems.api): the maintenance
switch and its preview. Bodies are read against these schemas (gateway.core.api_input)."""

from __future__ import annotations

from typing import Any

from gateway.core.api_schemas import COUNT, IDENTIFIER, REASON, STRINGS, answer, strict
from gateway.core.openapi import IT_TOKEN, ApiDescription, Operation

CUSTOMER_MESSAGE: dict[str, Any] = {
    "type": "string",
    "maxLength": 500,
    "pattern": r"^[^\x00]*$",
    "description": "what customers read on the status page and notices (IT's reason is not "
    "shown to them)",
}
_GROUP = answer(accounts=COUNT, users=COUNT, account_numbers=STRINGS)

SCHEMAS: dict[str, dict[str, Any]] = {
    "Maintenance": strict(
        ["down", "reason"],
        down={"type": "boolean"},
        reason=REASON,
        customer_message=CUSTOMER_MESSAGE,
        expected_maintenance={
            "type": "boolean",
            "description": "the preview's `maintenance_before`: refused with 409 if it changed",
        },
    ),
    "MaintenanceSwitch": strict(["down"], down={"type": "boolean"}),
    "MaintenancePreview": answer(
        system={"type": "string"},
        maintenance_before={"type": "boolean"},
        maintenance_after={"type": "boolean"},
        summary={"type": "string"},
        rerouted=_GROUP,
        status_page=_GROUP,
        partly_unavailable=_GROUP,
        restored=_GROUP,
        accounts=COUNT,
        elapsed_ms={"type": "number", "minimum": 0},
    ),
}

SYSTEMS_API = ApiDescription(
    operations=(
        Operation(
            "post",
            "/api/v1/systems/{key}/maintenance/preview",
            "Who a maintenance switch would send elsewhere or to the status page (nothing changes)",
            IT_TOKEN,
            "rollout:read",
            body="MaintenanceSwitch",
            answer="MaintenancePreview",
        ),
        Operation(
            "post",
            "/api/v1/systems/{key}/maintenance",
            "Switch a system's maintenance mode, with IT's reason and a message for customers",
            IT_TOKEN,
            "rollout:write",
            body="Maintenance",
            answer="Audited",
            refusals=("409",),
        ),
    ),
    schemas=SCHEMAS,
    path_parameters={"key": {**IDENTIFIER, "description": "system key (legacy or new)"}},
)
