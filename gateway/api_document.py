"""The whole /api/v1 description without building an app, for tools and the contract
tests: the contributions each capability describes its blueprints with. The served
document (/api/v1/openapi.json) is assembled from the same ones as the app registers
the blueprints; tests/api checks the two are equal. Top layer, like gateway.app: it
may import every capability."""

from __future__ import annotations

from typing import Any

from gateway.core.openapi import ApiDescription, it_operation_rows
from gateway.core.openapi import openapi_document as assemble
from gateway.directory.views import ME_API
from gateway.entitlements.openapi import ENTITLEMENTS_API
from gateway.insights.openapi import INSIGHTS_API
from gateway.migration.openapi import MIGRATION_API
from gateway.organisation.openapi import ORGANISATION_API
from gateway.provider.api import MACHINE_API
from gateway.salesforce.api import SUPPORT_API
from gateway.systems.openapi import SYSTEMS_API

DESCRIPTIONS: tuple[ApiDescription, ...] = (
    MIGRATION_API,
    SYSTEMS_API,
    INSIGHTS_API,
    MACHINE_API,
    ME_API,
    ORGANISATION_API,
    ENTITLEMENTS_API,
    SUPPORT_API,
)
# IT's API as (method, path, scope, summary, body schema) rows, for the access tests.
OPERATIONS = it_operation_rows(DESCRIPTIONS)


def openapi_document() -> dict[str, Any]:
    """The document the app serves at /api/v1/openapi.json."""
    return assemble(DESCRIPTIONS)
