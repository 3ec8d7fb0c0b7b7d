"""The machine API: the community portal's server reads entitlement and expiry data
with a client_credentials token carrying the `entitlements:read` scope."""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Response, current_app, jsonify
from sqlalchemy import select

from gateway.core.db import get_session
from gateway.core.errors import problem
from gateway.core.models import Account, Entitlement
from gateway.provider.clients import may_read_account

log = logging.getLogger(__name__)
READ_SCOPE = "entitlements:read"


def bearer_client_id(scope: str) -> str | Response:
    """The client id of the live token with `scope` this request carries; else the
    problem answer."""
    try:
        token = current_app.extensions["oidc_protector"].acquire_token([scope])
    except OAuth2Error as error:
        status = 403 if error.error == "insufficient_scope" else 401
        answer = problem(
            status, "Not authorised", error.description or error.error, error=error.error
        )
        answer.headers["WWW-Authenticate"] = f'Bearer error="{error.error}", scope="{scope}"'
        return answer
    client_id: str = token.record.client_id
    return client_id


def account_entitlements(account_number: str) -> Any:
    """An account's entitlements with units of measure and expiry dates. An account
    outside the client's allow-list answers like one that does not exist."""
    client_id = bearer_client_id(READ_SCOPE)
    if isinstance(client_id, Response):
        return client_id
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
    return jsonify(
        account={"number": account.account_number, "name": account.name},
        entitlements=[entitlement_document(row) for row in rows],
    )


def entitlement_document(row: Entitlement) -> dict[str, Any]:
    return {
        "id": row.external_id,
        "product_line": row.product_line.code,
        "product": row.product,
        "unit_of_measure": row.unit_of_measure,
        "quantity": str(row.quantity),
        "kind": row.kind,
        "status": row.status,
        "start_date": row.start_date.isoformat() if row.start_date else None,
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "systems": sorted(h.system.key for h in row.holdings),
    }
