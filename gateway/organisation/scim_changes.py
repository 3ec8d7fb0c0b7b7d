"""What a SCIM request asks to change, as one UserChange (or, for a group, the users to
add and remove).

scim2-models reads the bodies: it validates them against RFC 7643's schemas and, for
PATCH, applies the operations (paths, value filters, capitalised `op`, booleans sent
as "True"/"False") to the SCIM form of the user. Here the result is compared with the
user as they are, and only what we keep becomes the change: the address (userName and
the primary email are one address), the names, `active` and `externalId`. Other
attributes an IdP sends (title, phone numbers...) are accepted and not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    Group,
    InvalidSyntaxException,
    InvalidValueException,
    MutabilityException,
    PatchOp,
    SCIMException,
    ScimFilter,
)

from gateway.organisation.scim_resources import ScimUser
from gateway.organisation.service import UserChange


class ScimRequestError(Exception):
    """A request body we refuse, carrying the SCIM error it is answered with."""

    def __init__(self, error: SCIMException) -> None:
        super().__init__(error.detail)
        self.error = error


def _validated(model: Any, body: Any, context: Context) -> Any:
    if not isinstance(body, dict):
        raise ScimRequestError(InvalidSyntaxException(detail="The body must be a JSON object."))
    try:
        return model.model_validate(body, scim_ctx=context)
    except ValidationError as error:
        # The first error is enough to act on; the library maps it to RFC 7644's keywords.
        first = Error.from_validation_errors(error)[0]
        raise ScimRequestError(SCIMException.from_error(first)) from error
    except SCIMException as error:
        raise ScimRequestError(error) from error


def _primary_email(resource: Any) -> str | None:
    emails = [email for email in resource.emails or [] if email.value]
    for chosen in (
        [email for email in emails if email.primary],
        [email for email in emails if (email.type or "").lower() == "work"],
        emails,
    ):
        if chosen:
            return str(chosen[0].value)
    return None


def _address(resource: Any, current: str | None) -> str | None:
    """The address the resource asks for, None if it keeps `current`: userName when it
    changed, else the primary email when that changed (an IdP may update either)."""
    user_name = (resource.user_name or "").strip().lower() or None
    email = (_primary_email(resource) or "").strip().lower() or None
    for wanted in (user_name, email):
        if wanted is not None and wanted != current:
            return wanted
    return None


@dataclass(frozen=True)
class NewUser:
    email: str
    first_name: str
    last_name: str
    external_id: str | None
    active: bool


def new_user(body: Any) -> NewUser:
    """A POST /Users body, read."""
    resource = _validated(ScimUser, body, Context.RESOURCE_CREATION_REQUEST)
    email = _address(resource, None)
    if email is None:
        raise ScimRequestError(
            InvalidValueException(detail="userName (the user's email address) is required.")
        )
    name = resource.name
    return NewUser(
        email=email,
        first_name=(name.given_name if name else None) or "",
        last_name=(name.family_name if name else None) or "",
        external_id=(resource.external_id or "").strip() or None,
        active=resource.active is not False,
    )


def _change(before: Any, after: Any) -> UserChange:
    """The change from SCIM user `before` (as stored) to `after` (as asked)."""
    name_before, name_after = before.name, after.name
    given = name_after.given_name if name_after else None
    family = name_after.family_name if name_after else None
    external = (after.external_id or "").strip() or None
    return UserChange(
        email=_address(after, before.user_name),
        first_name=_differs(given, name_before.given_name if name_before else None),
        last_name=_differs(family, name_before.family_name if name_before else None),
        active=after.active if after.active is not None and after.active != before.active else None,
        external_id=external if external != before.external_id else None,
        clear_external_id=external is None and before.external_id is not None,
    )


def _differs(wanted: str | None, current: str | None) -> str | None:
    value = wanted or ""
    return value if value != (current or "") else None


def replacement(current: Any, body: Any) -> UserChange:
    """A PUT /Users/{id} body, as the change from `current` (the SCIM form of the user).

    userName and the names are replaced as given (names left out are cleared);
    `active` and `externalId` left out keep their values, as RFC 7644 §3.5.1 allows,
    since an IdP that matches users by externalId would otherwise lose them."""
    resource = _validated(ScimUser, body, Context.RESOURCE_REPLACEMENT_REQUEST)
    if resource.id is not None and resource.id != current.id:
        raise ScimRequestError(MutabilityException(detail="id cannot be changed."))
    if resource.external_id is None:
        resource.external_id = current.external_id
    if resource.active is None:
        resource.active = current.active
    return _change(current, resource)


def patched(current: Any, body: Any) -> UserChange:
    """A PATCH /Users/{id} body (RFC 7644 §3.5.2), as the change from `current`: every
    operation applied in order to the SCIM form of the user, then compared."""
    patch = _validated(PatchOp[ScimUser], body, Context.RESOURCE_PATCH_REQUEST)
    after = current.model_copy(deep=True)
    try:
        patch.patch(after)
    except SCIMException as error:
        raise ScimRequestError(error) from error
    except (ValueError, TypeError) as error:
        raise ScimRequestError(InvalidValueException(detail=str(error))) from error
    if not after.user_name:
        raise ScimRequestError(MutabilityException(detail="userName cannot be removed."))
    return _change(current, after)


def _entra_member_removals(body: Any) -> Any:
    """Entra ID removes members with `"path": "members"` and the members as `value`;
    RFC 7644 §3.5.2.2 names them in the path: `members[value eq "id"]`. Rewritten
    to the RFC's form, one operation per member, before validation."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        return body
    operations: list[Any] = []
    for operation in body["Operations"]:
        if (
            isinstance(operation, dict)
            and str(operation.get("op", "")).lower() == "remove"
            and str(operation.get("path", "")).lower() == "members"
            and isinstance(operation.get("value"), list)
        ):
            for member in operation["value"]:
                value = member.get("value") if isinstance(member, dict) else None
                if not isinstance(value, str):
                    raise ScimRequestError(
                        InvalidValueException(detail="Each member to remove needs its value.")
                    )
                operations.append(
                    {"op": "remove", "path": f"members[value eq {ScimFilter.quote(value)}]"}
                )
        else:
            operations.append(operation)
    return {**body, "Operations": operations}


def group_members_patched(current: Group, body: Any) -> set[str]:
    """The member ids after a PATCH /Groups/{id}; the group's name cannot change."""
    patch = _validated(PatchOp[Group], _entra_member_removals(body), Context.RESOURCE_PATCH_REQUEST)
    after = current.model_copy(deep=True)
    try:
        patch.patch(after)
    except SCIMException as error:
        raise ScimRequestError(error) from error
    except (ValueError, TypeError) as error:
        raise ScimRequestError(InvalidValueException(detail=str(error))) from error
    return _members_of(current, after)


def group_members_replaced(current: Group, body: Any) -> set[str]:
    """The member ids a PUT /Groups/{id} asks for."""
    return _members_of(current, _validated(Group, body, Context.RESOURCE_REPLACEMENT_REQUEST))


def _members_of(current: Group, wanted: Group) -> set[str]:
    if wanted.display_name is not None and wanted.display_name != current.display_name:
        raise ScimRequestError(
            MutabilityException(
                detail="The four groups are fixed, one per permission: "
                f"{current.display_name} cannot be renamed."
            )
        )
    members = set()
    for member in wanted.members or []:
        if not member.value:
            raise ScimRequestError(InvalidValueException(detail="Each member needs its value."))
        members.add(str(member.value))
    return members
