"""The OpenAPI description of the organisation's users API (gateway.organisation.api):
an account's users, one user, and changing their permissions or switching them off
and on. Bodies and queries are read against these schemas (gateway.core.api_input)."""

from __future__ import annotations

from typing import Any

from gateway.core.api_schemas import COUNT, DATE_TIME, IDENTIFIER, TEXT, answer, strict
from gateway.core.models.directory import USER_ORIGINS, USER_STATUSES
from gateway.core.openapi import ACCOUNT_READ, ACCOUNT_TOKEN, ApiDescription, Operation, query
from gateway.core.settings import PERMISSIONS
from gateway.organisation.service import MAX_PAGE_SIZE, MAX_SEARCH, PAGE_SIZE

USERS_PATH = "/api/v1/accounts/{account}/users"
USER_PATH = USERS_PATH + "/{id}"
INVITATIONS_PATH = "/api/v1/accounts/{account}/invitations"
USERS_SCOPE = "users"

PERMISSION: dict[str, Any] = {"type": "string", "enum": list(PERMISSIONS)}
PERMISSION_LIST: dict[str, Any] = {
    "type": "array",
    "items": PERMISSION,
    "uniqueItems": True,
    "maxItems": len(PERMISSIONS),
    "description": "the user's whole set of permissions (the ones left out are taken away); "
    "the organisation's last active admin keeps `admin` (409)",
}
STATUS: dict[str, Any] = {"type": "string", "enum": list(USER_STATUSES)}

USER = answer(
    id={"type": "string", "description": "the user's stable public id"},
    email={"type": "string"},
    first_name={"type": "string"},
    last_name={"type": "string"},
    status=STATUS,
    permissions={"type": "array", "items": PERMISSION},
    added_via={"type": "string", "enum": list(USER_ORIGINS)},
    last_login_at={"type": ["string", "null"], "format": "date-time"},
    created_at=DATE_TIME,
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "OrgUser": USER,
    "OrgUsers": answer(
        users={"type": "array", "items": {"$ref": "#/components/schemas/OrgUser"}},
        total=COUNT,
        page={"type": "integer", "minimum": 1},
        per_page={"type": "integer", "minimum": 1},
        pages={"type": "integer", "minimum": 1},
    ),
    "OrgInvitation": answer(
        id={"type": "integer"},
        email={"type": "string"},
        permissions={"type": "array", "items": PERMISSION},
        state={"type": "string", "enum": ["pending", "accepted", "expired", "revoked"]},
        created_at=DATE_TIME,
        expires_at=DATE_TIME,
    ),
    "OrgInvitations": answer(
        invitations={"type": "array", "items": {"$ref": "#/components/schemas/OrgInvitation"}},
        total=COUNT,
        page={"type": "integer", "minimum": 1},
        pages={"type": "integer", "minimum": 1},
    ),
    "OrgInvitationRequest": strict(
        ["email", "permissions"],
        email={"type": "string", "minLength": 3, "maxLength": 320},
        permissions={**PERMISSION_LIST, "minItems": 1},
    ),
    "OrgUserChange": {
        **strict(
            [],
            permissions=PERMISSION_LIST,
            active={
                "type": "boolean",
                "description": "false switches the user off (their sessions end at once); "
                "true switches them on again",
            },
        ),
        "minProperties": 1,
    },
}

_PAGE: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}
_PER_PAGE: dict[str, Any] = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_PAGE_SIZE,
    "default": PAGE_SIZE,
}
_SEARCH: dict[str, Any] = {**TEXT, "maxLength": MAX_SEARCH}

ORGANISATION_API = ApiDescription(
    operations=(
        Operation(
            "get",
            USERS_PATH,
            "The account's users, a page at a time, by name",
            ACCOUNT_READ,
            USERS_SCOPE,
            answer="OrgUsers",
            query=(
                query("page", _PAGE, "which page, from 1"),
                query("per_page", _PER_PAGE, "users per page"),
                query("q", _SEARCH, "part of a name or email address"),
                query("status", STATUS, "only users in this state"),
            ),
        ),
        Operation(
            "get",
            USER_PATH,
            "One user of the account",
            ACCOUNT_READ,
            USERS_SCOPE,
            answer="OrgUser",
        ),
        Operation(
            "patch",
            USER_PATH,
            "Change a user's permissions, or switch them off or on (audited)",
            ACCOUNT_TOKEN,
            USERS_SCOPE,
            body="OrgUserChange",
            answer="OrgUser",
            refusals=("409",),
        ),
        Operation(
            "get",
            INVITATIONS_PATH,
            "The account's invitations, newest first, with their state",
            ACCOUNT_READ,
            USERS_SCOPE,
            answer="OrgInvitations",
            query=(query("page", _PAGE, "which page, from 1"),),
        ),
        Operation(
            "post",
            INVITATIONS_PATH,
            "Invite someone by email with chosen permissions (the mail goes out at once)",
            ACCOUNT_TOKEN,
            USERS_SCOPE,
            body="OrgInvitationRequest",
            answer="OrgInvitation",
            success="201",
            refusals=("409",),
        ),
    ),
    schemas=SCHEMAS,
    path_parameters={
        "account": {**IDENTIFIER, "description": "the customer account number"},
        "id": {"type": "string", "pattern": r"^[0-9a-f]{32}$", "description": "a user's id"},
    },
)
