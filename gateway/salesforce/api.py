"""GET /api/v1/support/eligibility: whether Salesforce covers an account's product line
today, for the portal's server (its client_credentials token with `entitlements:read`)
or the vendor's support (an IT token with `support:read`)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.core import hooks
from gateway.core.access import Caller, NotAuthenticated, api_caller, limit_failed_credentials
from gateway.core.api_input import query_arguments
from gateway.core.api_schemas import CODE, IDENTIFIER, answer
from gateway.core.db import get_session
from gateway.core.errors import NotFound
from gateway.core.models import Account
from gateway.core.models.base import utcnow
from gateway.core.openapi import MACHINE, ApiDescription, Operation, describe, query
from gateway.salesforce.eligibility import Eligibility, support_eligibility

log = logging.getLogger(__name__)
ELIGIBILITY_PATH = "/api/v1/support/eligibility"
# The machine scope whose client_credentials tokens the OIDC provider verifies.
MACHINE_SCOPE = "entitlements:read"
SUPPORT_READ = "support:read"

_DATE_OR_NULL = {"type": ["string", "null"], "format": "date"}
SUPPORT_API = ApiDescription(
    operations=(
        Operation(
            "get",
            ELIGIBILITY_PATH,
            "Whether Salesforce covers an account's product line today, and why (also "
            "takes an IT token with `support:read`)",
            MACHINE,
            MACHINE_SCOPE,
            answer="SupportEligibility",
            query=(
                query("account", IDENTIFIER, "account number", required=True),
                query("product_line", CODE, "product-line code", required=True),
            ),
        ),
    ),
    schemas={
        "SupportEligibility": answer(
            eligible={"type": "boolean"},
            reason={
                "type": "string",
                "description": "for people: `covered until 2027-03-31`, `ended on "
                "2026-11-30`, `starts on …`, `inactive (status Suspended)`, `no Salesforce "
                "entitlement for this line`, `Salesforce not connected`",
            },
            entitlement={
                "oneOf": [
                    {"type": "null"},
                    answer(
                        id={"type": "string", "description": "the Salesforce Entitlement Id"},
                        start_date=_DATE_OR_NULL,
                        end_date=_DATE_OR_NULL,
                        status={"type": "string"},
                        type={"type": "string"},
                        product_line={"type": "string"},
                    ),
                ],
                "description": "the Salesforce entitlement that decided the answer",
            },
            evaluated_on={
                "type": "string",
                "format": "date",
                "description": "today in the account's time zone",
            },
        )
    },
)

bp = Blueprint("support_api", __name__)
describe(bp, SUPPORT_API)
limit_failed_credentials(bp)


def eligibility_json(found: Eligibility) -> dict[str, Any]:
    row = found.entitlement
    return {
        "eligible": found.eligible,
        "reason": found.reason,
        "entitlement": None
        if row is None
        else {
            "id": row.id,
            "start_date": row.start_date.isoformat() if row.start_date else None,
            "end_date": row.end_date.isoformat() if row.end_date else None,
            "status": row.status,
            "type": row.type,
            "product_line": found.product_line,
        },
        "evaluated_on": found.evaluated_on.isoformat(),
    }


def _caller(account: str) -> Caller:
    """IT's `support:read` token (or IT staff's session); else the portal's machine token.
    A bearer that is no IT token is tried as a client_credentials token."""
    try:
        return api_caller(SUPPORT_READ, account=account)
    except NotAuthenticated:
        caller = api_caller(MACHINE_SCOPE, account=account)
    db = get_session()
    account_id = db.scalar(select(Account.id).where(Account.account_number == account))
    if account_id is not None and not hooks.client_may_read_account(db, caller.name, account_id):
        log.warning(
            "machine client asked for an account outside its allow-list",
            extra={"event": "support.account_not_allowed", "client_id": caller.name},
        )
        raise NotFound(f"No account {account}.")
    return caller


@bp.get(ELIGIBILITY_PATH)
def eligibility() -> ResponseReturnValue:
    arguments = query_arguments("get", ELIGIBILITY_PATH)
    account, line = arguments["account"], arguments["product_line"]
    _caller(account)
    found = support_eligibility(get_session(), account, line, now=utcnow())
    return jsonify(eligibility_json(found))
