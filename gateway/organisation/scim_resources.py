"""Our users and permissions as SCIM resources (RFC 7643), and the discovery documents
that say which of SCIM's attributes we keep.

A directory user is a SCIM User: `id` is the user's public id, `userName` and the one
(primary, work) `emails` value are both the email address, `name.givenName` /
`name.familyName` the names, `active` the status, `externalId` the customer IdP's key.
The four customer permissions are four fixed SCIM Groups whose id and displayName are
the permission's name; their members are the users holding it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scim2_models import (
    Attribute,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    GroupMember,
    GroupMembership,
    Meta,
    Mutability,
    Name,
    Pagination,
    Patch,
    Reference,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    User,
)

from gateway.core.models import User as DirectoryUser
from gateway.core.settings import PERMISSIONS

# Requests may carry Entra ID's enterprise extension; its attributes are not kept.
ScimUser = User[EnterpriseUser]
MAX_RESULTS = 200
# What each resource keeps of SCIM's core schemas; everything else a client sends is
# accepted and not stored (IdPs send their whole default mapping).
USER_ATTRIBUTES = {
    "userName": None,
    "name": {"givenName", "familyName"},
    "displayName": None,
    "active": None,
    "emails": {"value", "type", "primary"},
    "groups": {"value", "$ref", "display"},
}
GROUP_ATTRIBUTES = {"displayName": None, "members": {"value", "$ref", "display"}}
# Kept in the directory, but computed: a client cannot set them.
READ_ONLY = {"displayName"}


def scim_root(base_url: str) -> str:
    return base_url.rstrip("/") + "/scim/v2"


def version_of(moment: datetime) -> str:
    """A weak entity tag that changes with every change of the user."""
    return f'W/"{int(moment.timestamp() * 1_000_000)}"'


def user_resource(user: DirectoryUser, root: str) -> Any:
    """The SCIM User for a directory user."""
    location = f"{root}/Users/{user.public_id}"
    return ScimUser(
        id=user.public_id,
        external_id=user.external_id,
        user_name=user.email,
        name=Name(given_name=user.first_name or None, family_name=user.last_name or None),
        display_name=user.display_name,
        active=user.status == "active",
        emails=[Email(value=user.email, type=Email.Type.work, primary=True)],
        groups=[
            GroupMembership(
                value=name, display=name, type=None, ref=Reference[Any](f"{root}/Groups/{name}")
            )
            for name in sorted(user.permission_names)
        ]
        or None,
        meta=Meta(
            resource_type="User",
            created=user.created_at,
            last_modified=user.updated_at,
            location=location,
            version=version_of(user.updated_at),
        ),
    )


def group_resource(permission: str, members: list[DirectoryUser], root: str) -> Group:
    """The SCIM Group of one permission, its members the users holding it."""
    return Group(
        id=permission,
        display_name=permission,
        members=[
            GroupMember(
                value=member.public_id,
                display=member.email,
                type=None,
                ref=Reference[Any](f"{root}/Users/{member.public_id}"),
            )
            for member in members
        ]
        or None,
        meta=Meta(resource_type="Group", location=f"{root}/Groups/{permission}"),
    )


def service_provider_config(root: str) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=False),
        pagination=Pagination(cursor=False, index=True, default_page_size=MAX_RESULTS),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A token made with `gateway account-token create ACCOUNT "
                "--scope scim`, sent as Authorization: Bearer <token>.",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{root}/ServiceProviderConfig"),
    )


def _kept(attributes: list[Attribute], wanted: dict[str, set[str] | None]) -> list[Attribute]:
    kept = []
    for attribute in attributes:
        if attribute.name not in wanted:
            continue
        update: dict[str, Any] = {}
        sub_names = wanted[attribute.name]
        if sub_names is not None and attribute.sub_attributes:
            update["sub_attributes"] = [
                sub for sub in attribute.sub_attributes if sub.name in sub_names
            ]
        if attribute.name in READ_ONLY:
            update["mutability"] = Mutability.read_only
        kept.append(attribute.model_copy(update=update))
    return kept


def schemas(root: str) -> list[Schema]:
    """The User and Group schemas, trimmed to what we keep."""
    documents = []
    for model, wanted in ((User, USER_ATTRIBUTES), (Group, GROUP_ATTRIBUTES)):
        schema = model.to_schema()
        schema.attributes = _kept(schema.attributes or [], wanted)
        schema.meta = Meta(resource_type="Schema", location=f"{root}/Schemas/{schema.id}")
        documents.append(schema)
    return documents


def resource_types(root: str) -> list[ResourceType]:
    types = []
    for model in (User, Group):
        resource_type = ResourceType.from_resource(model)
        resource_type.meta = Meta(
            resource_type="ResourceType", location=f"{root}/ResourceTypes/{resource_type.id}"
        )
        types.append(resource_type)
    return types


def is_permission(group_id: str) -> bool:
    return group_id in PERMISSIONS
