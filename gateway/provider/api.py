"""The machine API: the community portal's server reads entitlement and expiry data
with a client_credentials token carrying the `entitlements:read` scope."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Flask, current_app, jsonify
from sqlalchemy import select

from gateway.core import access, hooks
from gateway.core.api_schemas import ACCOUNT, IDENTIFIER, STRINGS, answer
from gateway.core.db import get_session
from gateway.core.errors import GatewayError, problem
from gateway.core.models import Account, Entitlement
from gateway.core.models.directory import ENTITLEMENT_KINDS
from gateway.core.openapi import MACHINE, ApiDescription, Operation, add_operations
from gateway.core.units import quantity_for_people, request_locale
from gateway.provider.clients import may_read_account

log = logging.getLogger(__name__)
READ_SCOPE = "entitlements:read"


class TokenRefused(GatewayError):
    """No live client_credentials token with the scope (401), or one without it (403)."""

    title = "Not authorised"
    event = "provider.token_refused"


def verify_client_token(scope: str) -> access.Caller:
    """The client whose live token carries `scope`; else TokenRefused with the OAuth error
    code in the problem document and in WWW-Authenticate (RFC 6750)."""
    try:
        token = current_app.extensions["oidc_protector"].acquire_token([scope])
    except OAuth2Error as error:
        refusal = TokenRefused(
            error.description or error.error,
            headers={"WWW-Authenticate": f'Bearer error="{error.error}", scope="{scope}"'},
            fields={"error": error.error},
        )
        refusal.status = 403 if error.error == "insufficient_scope" else 401
        raise refusal from None
    client_id: str = token.record.client_id
    return access.Caller(client_id, frozenset({scope}))


_ENTITLEMENT = answer(
    id={"type": "string"},
    product_line={"type": "string"},
    product={"type": "string"},
    product_line_name={"type": "string"},
    unit_of_measure={"type": "string"},
    quantity={"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"},
    quantity_text={
        "type": "string",
        "description": "the quantity and unit written for people, in the request's "
        "Accept-Language locale (default en): `5,000,000 USD revenue`, `1,200 endpoints`",
    },
    kind={"type": "string", "enum": list(ENTITLEMENT_KINDS)},
    status={"type": "string"},
    start_date={"type": ["string", "null"], "format": "date"},
    end_date={"type": ["string", "null"], "format": "date"},
    days_left={
        "type": ["integer", "null"],
        "description": "days from today (UTC) to end_date; negative once ended; null: no end",
    },
    systems=STRINGS,
)
MACHINE_API = ApiDescription(
    operations=(
        Operation(
            "get",
            "/api/v1/accounts/{account_number}/entitlements",
            "An account's entitlements with units of measure and expiry dates (the portal's "
            "server)",
            MACHINE,
            READ_SCOPE,
            answer="AccountEntitlements",
        ),
    ),
    schemas={
        "AccountEntitlements": answer(
            account=ACCOUNT, entitlements={"type": "array", "items": _ENTITLEMENT}
        )
    },
    path_parameters={"account_number": {**IDENTIFIER, "description": "account number"}},
    security_schemes={
        "machineToken": {
            "type": "oauth2",
            "description": "An access token the portal's server gets with client_credentials.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/oidc/token",
                    "scopes": {READ_SCOPE: "read accounts' entitlements"},
                }
            },
        }
    },
)


def init_app(app: Flask) -> None:
    """Authenticate the machine API's scope with client_credentials tokens, and describe it."""
    access.add_token_verifier(app, READ_SCOPE, verify_client_token)
    # Other capabilities' machine routes (support eligibility) keep to the allow-lists.
    hooks.set_client_account_check(app, may_read_account)
    add_operations(app, MACHINE_API)


def account_entitlements(account_number: str) -> Any:
    """An account's entitlements with units of measure and expiry dates. An account
    outside the client's allow-list answers like one that does not exist."""
    client_id = access.api_caller(READ_SCOPE, account=account_number).name
    db = get_session()
    account = db.scalar(select(Account).where(Account.account_number == account_number))
    if account is not None and not may_read_account(db, client_id, account.id):
        log.warning(
            "machine client asked for an account outside its allow-list",
            extra={"event": "provider.account_not_allowed", "client_id": client_id},
        )
        account = None
    if account is None:
        return problem(404, "Not found", f"No account {account_number}.")
    rows = db.scalars(
        select(Entitlement)
        .where(Entitlement.account_id == account.id)
        .order_by(Entitlement.external_id)
    ).all()
    today, locale = datetime.now(UTC).date(), request_locale()
    return jsonify(
        account={"number": account.account_number, "name": account.name},
        entitlements=[entitlement_document(row, today, locale) for row in rows],
    )


def entitlement_document(row: Entitlement, today: date, locale: str) -> dict[str, Any]:
    return {
        "id": row.external_id,
        "product_line": row.product_line.code,
        "product_line_name": row.product_line.name,
        "product": row.product,
        "unit_of_measure": row.unit_of_measure,
        "quantity": str(row.quantity),
        "quantity_text": quantity_for_people(row.quantity, row.unit_of_measure, locale).text,
        "kind": row.kind,
        "status": row.status,
        "start_date": row.start_date.isoformat() if row.start_date else None,
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "days_left": (row.end_date - today).days if row.end_date else None,
        "systems": sorted(h.system.key for h in row.holdings),
    }
