"""SCIM 2.0 provisioning (RFC 7643/7644) at /scim/v2: a customer's own IdP (Entra ID,
Okta) creates, updates and deactivates the users of its organisation, and grants the
four permissions as four fixed groups.

Every request carries a bearer token with scope `scim` limited to one account, and
sees that account only: a user of another account is 404, as if it did not exist.
Every change goes through the organisation's rules (`service.change_user` /
`add_user`), audited with via "scim" and the token's name; one request about a user is
one change (all of a PATCH's operations or none). A refused request is a SCIM Error
(RFC 7644 §3.12) and changes nothing. docs/scim.md is the customers' guide.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from flask.typing import ResponseReturnValue
from scim2_models import (
    Context,
    Error,
    Group,
    ListResponse,
    NotImplementedException,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
)
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from gateway.core.access import limit_failed_credentials
from gateway.core.api_tokens import active_token
from gateway.core.audit import Actor
from gateway.core.db import get_session
from gateway.core.errors import ConflictingChange, GatewayError, InvalidChange, NotFound
from gateway.core.models import Account, Permission, User
from gateway.core.models.base import utcnow
from gateway.core.secret_keys import secret_keys
from gateway.core.settings import PERMISSIONS, current_settings
from gateway.organisation import scim_changes, scim_resources
from gateway.organisation.scim_filter import SORTABLE, group_filter, user_filter
from gateway.organisation.scim_resources import MAX_RESULTS, ScimUser
from gateway.organisation.service import (
    LastAdmin,
    UserChange,
    account_by_number,
    add_user,
    change_user,
    get_user,
)

log = logging.getLogger(__name__)

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
limit_failed_credentials(bp)
SCIM_JSON = "application/scim+json"
SCOPE = "scim"


class ScimRefused(Exception):
    """A request answered with a SCIM Error: `status`, the RFC 7644 `scim_type`, why."""

    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}


def _answer(payload: dict[str, Any], status: int = 200, **headers: str) -> Response:
    response = Response(json.dumps(payload), status=status, mimetype=SCIM_JSON)
    response.headers.update(headers)
    return response


def _error_answer(refusal: ScimRefused) -> Response:
    log.warning(
        refusal.detail,
        extra={
            "event": "scim.refused",
            "status": refusal.status,
            "scim_type": refusal.scim_type,
            "caller": g.get("api_caller"),
        },
    )
    error = Error(status=refusal.status, scim_type=refusal.scim_type, detail=refusal.detail)
    return _answer(error.model_dump(scim_ctx=Context.DEFAULT), refusal.status, **refusal.headers)


def _refusal_of(error: Exception) -> ScimRefused:
    """The SCIM Error for whatever refused the request: a SCIM body or filter we do not
    take, the organisation's rules, or a plain HTTP error."""
    if isinstance(error, ScimRefused):
        return error
    if isinstance(error, scim_changes.ScimRequestError):
        error = error.error
    if isinstance(error, SCIMException):
        return ScimRefused(error.status, error.detail, error.scim_type or None)
    if isinstance(error, LastAdmin):
        # RFC 7644 §3.12: "mutability" covers a change the resource's current state refuses.
        return ScimRefused(400, error.detail, "mutability")
    if isinstance(error, ConflictingChange):
        return ScimRefused(409, error.detail, "uniqueness")
    if isinstance(error, InvalidChange):
        return ScimRefused(400, error.detail, "invalidValue")
    if isinstance(error, NotFound):
        return ScimRefused(404, error.detail)
    if isinstance(error, GatewayError):
        return ScimRefused(error.status, error.detail, headers=error.headers)
    if isinstance(error, HTTPException):
        return ScimRefused(error.code or 500, error.description or error.name)
    raise error


@bp.errorhandler(ScimRefused)
@bp.errorhandler(scim_changes.ScimRequestError)
@bp.errorhandler(SCIMException)
@bp.errorhandler(GatewayError)
@bp.errorhandler(HTTPException)
def _refused(error: Exception) -> Response:
    # The failed change left nothing behind: roll back whatever the session holds.
    get_session().rollback()
    return _error_answer(_refusal_of(error))


def _bearer_secret() -> str | None:
    kind, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if kind.lower() == "bearer" and secret.strip() else None


@bp.before_request
def _authenticate() -> None:
    """The token's account and its audit name, in g; 401/403 as SCIM Errors."""
    secret = _bearer_secret()
    if secret is None:
        raise ScimRefused(
            401,
            "Send the SCIM token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="scim"'},
        )
    db = get_session()
    token = active_token(db, secret, secret_keys().api_token)
    if token is None:
        raise ScimRefused(
            401,
            "The bearer token is unknown, expired or revoked.",
            headers={"WWW-Authenticate": 'Bearer realm="scim", error="invalid_token"'},
        )
    g.api_caller = f"token:{token.name}"
    if SCOPE not in token.scopes or token.account_number is None:
        raise ScimRefused(
            403,
            "SCIM needs a token with the scope scim, limited to one account "
            "(gateway account-token create ACCOUNT --scope scim).",
            headers={
                "WWW-Authenticate": 'Bearer realm="scim", error="insufficient_scope", scope="scim"'
            },
        )
    g.scim_account = account_by_number(db, token.account_number)
    g.scim_actor = Actor(f"scim:{token.name}", g.get("request_id"), via="scim")


def _account() -> Account:
    account: Account = g.scim_account
    return account


def _root() -> str:
    return scim_resources.scim_root(current_settings().base_url)


def _body() -> Any:
    if not request.is_json:
        raise ScimRefused(415, f"Send the body as {SCIM_JSON} (or application/json).")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # `silent` covers ValueError only; the decoder recurses per level
        body = None
    if body is None:
        raise ScimRefused(400, "The body is not JSON.", "invalidSyntax")
    return body


def _query_params() -> dict[str, Any]:
    """The query's parameters: from the URL (GET), or the body of a POST .search."""
    if request.method == "GET":
        return dict(request.args.items())
    body = _body()
    if not isinstance(body, dict):
        raise ScimRefused(400, "The body must be a SearchRequest object.", "invalidSyntax")
    params = {}
    for name, value in body.items():
        if name in ("schemas",):
            continue
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = ",".join(value)
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ScimRefused(400, f"{name}: a string or an integer.", "invalidValue")
        params[name] = str(value)
    return params


def _int_param(params: dict[str, Any], name: str, default: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ScimRefused(400, f"{name} must be an integer.", "invalidValue") from None


def _page(params: dict[str, Any]) -> tuple[int, int]:
    """(startIndex, count): 1-based (lower is 1), count capped (RFC 7644 §3.4.2.4)."""
    start = max(1, _int_param(params, "startIndex", 1))
    count = max(0, min(_int_param(params, "count", MAX_RESULTS), MAX_RESULTS))
    return start, count


def _response_parameters(model: Any, params: dict[str, Any] | None = None) -> Any:
    given = dict(request.args.items()) if params is None else params
    try:
        return ResponseParameters[model].model_validate(
            {
                "attributes": given.get("attributes") or None,
                "excludedAttributes": given.get("excludedAttributes") or None,
            }
        )
    except ValueError as error:
        raise ScimRefused(400, str(error).splitlines()[-1].strip(), "invalidValue") from None


def _user_answer(user: User, context: Context, status: int = 200) -> Response:
    resource = scim_resources.user_resource(user, _root())
    payload = resource.model_dump(
        scim_ctx=context, response_parameters=_response_parameters(ScimUser)
    )
    headers = {"ETag": resource.meta.version}
    if status == 201:
        headers["Location"] = resource.meta.location
    return _answer(payload, status, **headers)


# --- discovery (RFC 7644 §4) ---


@bp.get("/ServiceProviderConfig")
def service_provider_config() -> ResponseReturnValue:
    config = scim_resources.service_provider_config(_root())
    return _answer(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def _listed(model: Any, items: list[Any]) -> Response:
    listing = ListResponse[model](
        total_results=len(items), start_index=1, items_per_page=len(items), resources=items
    )
    return _answer(listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE))


@bp.get("/ResourceTypes")
def resource_types() -> ResponseReturnValue:
    return _listed(ResourceType, scim_resources.resource_types(_root()))


@bp.get("/ResourceTypes/<name>")
def resource_type(name: str) -> ResponseReturnValue:
    for found in scim_resources.resource_types(_root()):
        if found.id == name:
            return _answer(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise ScimRefused(404, f"No resource type {name}: there are User and Group.")


@bp.get("/Schemas")
def schemas() -> ResponseReturnValue:
    return _listed(Schema, scim_resources.schemas(_root()))


@bp.get("/Schemas/<path:schema_id>")
def schema(schema_id: str) -> ResponseReturnValue:
    for found in scim_resources.schemas(_root()):
        if found.id == schema_id:
            return _answer(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise ScimRefused(404, f"No schema {schema_id}.")


# --- users ---


def _sorted(query: Select[Any], params: dict[str, Any]) -> Select[Any]:
    sort_by = params.get("sortBy")
    descending = (params.get("sortOrder") or "ascending").lower() == "descending"
    if not sort_by:
        return query.order_by(User.created_at, User.id)
    column = SORTABLE.get(sort_by.lower())
    if column is None:
        raise ScimRefused(400, f"Cannot sort by {sort_by}.", "invalidValue")
    return query.order_by(column.desc() if descending else column.asc(), User.id)


@bp.get("/Users")
@bp.post("/Users/.search")
def list_users() -> ResponseReturnValue:
    """The account's users matching `filter`, `count` at a time from `startIndex` (1-based)."""
    db, params = get_session(), _query_params()
    query = select(User).where(User.account_id == _account().id)
    text = params.get("filter")
    if text:
        query = query.where(user_filter(text))
    start, count = _page(params)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    # A start past the last result is an empty page; it is never sent to the database,
    # where an index beyond its integers (startIndex=10**20) fails instead of matching none.
    wanted = count and start <= total
    rows = db.scalars(_sorted(query, params).offset(start - 1).limit(count)).all() if wanted else []
    root = _root()
    listing = ListResponse[ScimUser](
        total_results=total,
        start_index=start,
        items_per_page=len(rows),
        resources=[scim_resources.user_resource(user, root) for user in rows] or None,
    )
    payload = listing.model_dump(
        scim_ctx=Context.SEARCH_RESPONSE,
        response_parameters=_response_parameters(ScimUser, params),
    )
    payload.setdefault("Resources", [])
    return _answer(payload)


@bp.post("/Users")
def create_user() -> ResponseReturnValue:
    wanted = scim_changes.new_user(_body())
    user = add_user(
        get_session(),
        g.scim_actor,
        _account(),
        email=wanted.email,
        # A user provisioned ahead of their first sign-in gets what that sign-in would
        # give them; the groups change it.
        permissions=current_settings().jit_permission_set,
        added_via="scim",
        now=utcnow(),
        first_name=wanted.first_name,
        last_name=wanted.last_name,
        external_id=wanted.external_id,
        active=wanted.active,
    )
    return _user_answer(user, Context.RESOURCE_CREATION_RESPONSE, 201)


def _user(public_id: str) -> User:
    return get_user(get_session(), _account().id, public_id)


@bp.get("/Users/<public_id>")
def read_user(public_id: str) -> ResponseReturnValue:
    return _user_answer(_user(public_id), Context.RESOURCE_QUERY_RESPONSE)


def _changed(user: User, change: UserChange) -> User:
    return change_user(get_session(), g.scim_actor, user, change, now=utcnow())


@bp.put("/Users/<public_id>")
def replace_user(public_id: str) -> ResponseReturnValue:
    user = _user(public_id)
    current = scim_resources.user_resource(user, _root())
    change = scim_changes.replacement(current, _body())
    return _user_answer(_changed(user, change), Context.RESOURCE_REPLACEMENT_RESPONSE)


@bp.patch("/Users/<public_id>")
def patch_user(public_id: str) -> ResponseReturnValue:
    user = _user(public_id)
    current = scim_resources.user_resource(user, _root())
    change = scim_changes.patched(current, _body())
    return _user_answer(_changed(user, change), Context.RESOURCE_PATCH_RESPONSE)


@bp.delete("/Users/<public_id>")
def delete_user(public_id: str) -> ResponseReturnValue:
    """Deactivates: the user keeps their history, and a later GET shows active false."""
    _changed(_user(public_id), UserChange(active=False))
    return Response(status=204)


# --- groups: the four permissions ---


def _holders(db: Session, account_id: int, permission: str) -> list[User]:
    return list(
        db.scalars(
            select(User)
            .join(Permission, Permission.user_id == User.id)
            .where(User.account_id == account_id, Permission.name == permission)
            .order_by(User.email)
        )
    )


def _group(permission: str, *, with_members: bool = True) -> Group:
    members = _holders(get_session(), _account().id, permission) if with_members else []
    return scim_resources.group_resource(permission, members, _root())


def _wants_members() -> bool:
    excluded = (request.args.get("excludedAttributes") or "").lower().split(",")
    return "members" not in (name.strip() for name in excluded)


def _permission(group_id: str) -> str:
    if group_id not in PERMISSIONS:
        raise ScimRefused(404, f"No group {group_id}: the groups are {', '.join(PERMISSIONS)}.")
    return group_id


def _group_answer(group: Group, context: Context) -> Response:
    payload = group.model_dump(scim_ctx=context, response_parameters=_response_parameters(Group))
    return _answer(payload)


@bp.get("/Groups")
def list_groups() -> ResponseReturnValue:
    text = request.args.get("filter")
    matches = group_filter(text) if text else (lambda name: True)
    names = [name for name in PERMISSIONS if matches(name)]
    start, count = _page(dict(request.args.items()))
    page = names[start - 1 : start - 1 + count]
    members = _wants_members()
    listing = ListResponse[Group](
        total_results=len(names),
        start_index=start,
        items_per_page=len(page),
        resources=[_group(name, with_members=members) for name in page] or None,
    )
    payload = listing.model_dump(
        scim_ctx=Context.SEARCH_RESPONSE, response_parameters=_response_parameters(Group)
    )
    payload.setdefault("Resources", [])
    return _answer(payload)


@bp.get("/Groups/<group_id>")
def read_group(group_id: str) -> ResponseReturnValue:
    group = _group(_permission(group_id), with_members=_wants_members())
    return _group_answer(group, Context.RESOURCE_QUERY_RESPONSE)


def _set_members(permission: str, current: Group, wanted: set[str]) -> Group:
    """Grant `permission` to the users in `wanted` and take it from the others.

    Each user's change is one `change_user` (audited per user). Every id is checked,
    and the last admin rule for the whole request, before the first change; grants come
    before removals, so replacing one admin by another never passes through none."""
    db, account = get_session(), _account()
    holders = {str(member.value) for member in current.members or [] if member.value}
    added, removed = wanted - holders, holders - wanted
    users = {
        user.public_id: user
        for user in db.scalars(
            select(User).where(User.account_id == account.id, User.public_id.in_(added | removed))
        )
    }
    unknown = sorted(added - set(users))
    if unknown:
        raise ScimRefused(
            400, f"No user {', '.join(unknown)} in your organisation.", "invalidValue"
        )
    if permission == "admin" and removed:
        admins = [user for user in _holders(db, account.id, "admin") if user.status == "active"]
        remaining = [user for user in admins if user.public_id not in removed] + [
            users[public_id] for public_id in added if users[public_id].status == "active"
        ]
        if admins and not remaining:
            raise ScimRefused(
                400,
                "This would leave the organisation without an active admin: make someone "
                "else an admin first.",
                "mutability",
            )
    for public_id in sorted(added):
        user = users[public_id]
        _changed(user, UserChange(permissions=user.permission_names | {permission}))
    for public_id in sorted(removed):
        user = users[public_id]
        _changed(user, UserChange(permissions=user.permission_names - {permission}))
    return _group(permission)


@bp.patch("/Groups/<group_id>")
def patch_group(group_id: str) -> ResponseReturnValue:
    permission = _permission(group_id)
    current = _group(permission)
    wanted = scim_changes.group_members_patched(current, _body())
    return _group_answer(_set_members(permission, current, wanted), Context.RESOURCE_PATCH_RESPONSE)


@bp.put("/Groups/<group_id>")
def replace_group(group_id: str) -> ResponseReturnValue:
    permission = _permission(group_id)
    current = _group(permission)
    wanted = scim_changes.group_members_replaced(current, _body())
    return _group_answer(
        _set_members(permission, current, wanted), Context.RESOURCE_REPLACEMENT_RESPONSE
    )


READ_ONLY_ENDPOINTS = ("ServiceProviderConfig", "ResourceTypes", "Schemas")
FIXED_GROUPS = (
    "The groups are fixed, one per permission ({}): assign users to them; "
    "groups cannot be created or deleted."
)


@bp.post("/Groups")
def create_group() -> ResponseReturnValue:
    raise NotImplementedException(detail=FIXED_GROUPS.format(", ".join(PERMISSIONS)))


@bp.delete("/Groups/<group_id>")
def delete_group(group_id: str) -> ResponseReturnValue:
    raise NotImplementedException(detail=FIXED_GROUPS.format(", ".join(PERMISSIONS)))


class AnyPath(PathConverter):
    """Werkzeug's path converter, also across line breaks (`.` stops at a newline):
    without it /Users/%0A matched only /Users/<public_id>, and a POST there was the
    app's HTML 405 instead of SCIM's error."""

    regex = "(?s:[^/].*?)"


@bp.route(  # the root too, which no converter matches: /scim/v2/ is SCIM's 404 as well
    "/", defaults={"anything": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
)
@bp.route(
    "/<scim_path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], endpoint="unknown"
)
def unknown(anything: str) -> ResponseReturnValue:
    if anything.split("/")[0] in READ_ONLY_ENDPOINTS:
        raise ScimRefused(405, f"/scim/v2/{anything} is read-only.", headers={"Allow": "GET"})
    raise ScimRefused(404, f"There is no SCIM endpoint /scim/v2/{anything}.")


def init_app(app: Flask) -> None:
    """Mount /scim/v2, exempt from form CSRF tokens: it takes bearer tokens only."""
    from gateway.core.extensions import csrf

    csrf.exempt(bp)
    app.url_map.converters["scim_path"] = AnyPath
    app.register_blueprint(bp)
