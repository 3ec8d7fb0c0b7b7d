"""SCIM filters (RFC 7644 §3.4.2.2) on an account's users, as SQLAlchemy expressions.

scim2-models parses the filter into a syntax tree; this module walks it and builds a
WHERE clause from the attributes listed in USER_ATTRIBUTES only. Any other attribute,
an operator an attribute does not take, or a value of the wrong type is
`invalidFilter`. Values are bound parameters: no SQL is ever built from text.

Comparisons on nullable columns are written `col IS NOT NULL AND col <op> value`, so
no comparison is ever NULL and `not (...)` means what it says (SQL's `NOT NULL` is
NULL, which would drop the row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import ColumnElement, and_, false, func, not_, or_, true
from sqlalchemy.orm import InstrumentedAttribute

from gateway.core.models import User

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
# Longer filters are refused before parsing: IdPs send one or two comparisons.
MAX_FILTER_LENGTH = 2000

STRING_OPS = {
    CompareOperator.eq,
    CompareOperator.ne,
    CompareOperator.co,
    CompareOperator.sw,
    CompareOperator.ew,
    CompareOperator.gt,
    CompareOperator.ge,
    CompareOperator.lt,
    CompareOperator.le,
}
BOOLEAN_OPS = {CompareOperator.eq, CompareOperator.ne}
DATE_OPS = STRING_OPS - {CompareOperator.co, CompareOperator.sw, CompareOperator.ew}


@dataclass(frozen=True)
class Column:
    """A SCIM attribute stored in one column: `kind` is "string", "boolean" or "date";
    `case_exact` False compares lower-cased (RFC 7643's caseExact)."""

    column: InstrumentedAttribute[Any]
    kind: str = "string"
    case_exact: bool = False
    nullable: bool = False
    # Stored lower-cased already: compare the column itself (its index serves).
    stored_lower: bool = False


@dataclass(frozen=True)
class Constant:
    """A SCIM attribute every user has with the same value (our one email is the
    primary, work address)."""

    value: Any
    kind: str = "string"


EMAIL = Column(User.email, stored_lower=True)
# The attributes a filter may name; RFC 7644 §3.10 makes names case-insensitive.
USER_ATTRIBUTES: dict[str, Column | Constant] = {
    "id": Column(User.public_id, case_exact=True),
    "externalId": Column(User.external_id, case_exact=True, nullable=True),
    "userName": EMAIL,
    "emails": EMAIL,
    "emails.value": EMAIL,
    "emails.type": Constant("work"),
    "emails.primary": Constant(True, "boolean"),
    "name.givenName": Column(User.first_name),
    "name.familyName": Column(User.last_name),
    "active": Column(User.status, kind="boolean"),
    "meta.created": Column(User.created_at, kind="date"),
    "meta.lastModified": Column(User.updated_at, kind="date"),
}
# Inside emails[...]: the sub-attributes of our one address.
EMAIL_ATTRIBUTES: dict[str, Column | Constant] = {
    "value": EMAIL,
    "type": Constant("work"),
    "primary": Constant(True, "boolean"),
}
# sortBy (RFC 7644 §3.4.2.3) takes the same attributes, lower-cased.
SORTABLE = {
    name.lower(): spec.column
    for name, spec in USER_ATTRIBUTES.items()
    if isinstance(spec, Column) and name != "emails"
}


def parsed_filter(text: str) -> FilterNode:
    """The syntax tree of a filter, or invalidFilter."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterException(detail=f"Filters are limited to {MAX_FILTER_LENGTH} chars.")
    try:
        return ScimFilter(text).ast
    except InvalidFilterException as error:
        raise InvalidFilterException(detail=f"Invalid filter: {error.detail}.") from error
    except ValueError as error:  # a name or URN the grammar let through but AttrPath refused
        raise InvalidFilterException(detail=str(error)) from error


def attribute_name(path: AttrPath, schema: str) -> str:
    """`path` as a lower-cased dotted name; a URN other than `schema`'s is invalidFilter."""
    if path.uri is not None and path.uri.lower() != schema.lower():
        raise InvalidFilterException(detail=f"Attributes of {path.uri} cannot be filtered on.")
    name = path.attr if path.sub_attr is None else f"{path.attr}.{path.sub_attr}"
    return name.lower()


def user_filter(text: str) -> ColumnElement[bool]:
    """The WHERE clause selecting the users `text` (a SCIM filter) matches."""
    return _UserClause(USER_ATTRIBUTES).visit(parsed_filter(text))


def _like_pattern(value: str, op: CompareOperator) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if op == CompareOperator.co:
        return f"%{escaped}%"
    if op == CompareOperator.sw:
        return f"{escaped}%"
    return f"%{escaped}"


def _boolean(value: Any, shown: str) -> bool:
    # Entra ID has been seen sending booleans as the strings "True" / "False".
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidFilterException(detail=f"{shown} compares with true or false.")


def _date(value: Any, shown: str) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment
    raise InvalidFilterException(
        detail=f"{shown} compares with a date and time with its offset, "
        'such as "2026-01-31T12:00:00Z".'
    )


class _UserClause(FilterVisitor[ColumnElement[bool]]):
    def __init__(self, attributes: dict[str, Column | Constant]) -> None:
        self.attributes = attributes
        self.by_name = {name.lower(): spec for name, spec in attributes.items()}

    def _spec(self, path: AttrPath) -> tuple[str, Column | Constant]:
        name = attribute_name(path, USER_SCHEMA)
        spec = self.by_name.get(name)
        if spec is None:
            raise InvalidFilterException(
                detail=f"Cannot filter on {path}: filter on {', '.join(self.attributes)}."
            )
        return str(path), spec

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        _, spec = self._spec(node.attr_path)
        if isinstance(spec, Constant):
            return true()
        if spec.kind == "string":
            present = spec.column != ""
            return and_(spec.column.is_not(None), present) if spec.nullable else present
        return spec.column.is_not(None)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        if attribute_name(node.attr_path, USER_SCHEMA) != "emails" or self.attributes is not (
            USER_ATTRIBUTES
        ):
            raise InvalidFilterException(
                detail=f"{node.attr_path}[...] is not supported: only emails[...] is."
            )
        return _UserClause(EMAIL_ATTRIBUTES).visit(node.val_filter)

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        shown, spec = self._spec(node.attr_path)
        op = node.op
        if isinstance(spec, Constant):
            return true() if _constant_matches(spec, op, node.value, shown) else false()
        if spec.kind == "boolean":
            if op not in BOOLEAN_OPS:
                raise InvalidFilterException(detail=f"{shown} takes eq, ne and pr only.")
            wanted = _boolean(node.value, shown)
            is_active = spec.column == "active"
            return is_active if wanted == (op == CompareOperator.eq) else not_(is_active)
        if spec.kind == "date":
            if op not in DATE_OPS:
                raise InvalidFilterException(detail=f"{shown} takes eq, ne, gt, ge, lt and le.")
            return _compare(spec, op, _date(node.value, shown))
        if not isinstance(node.value, str):
            raise InvalidFilterException(detail=f"{shown} compares with a quoted string.")
        value = node.value if spec.case_exact else node.value.lower()
        return _compare(spec, op, value)


def _compare(spec: Column, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    column: Any = spec.column
    if spec.kind == "string" and not spec.case_exact and not spec.stored_lower:
        column = func.lower(column)
    comparisons: dict[CompareOperator, Callable[[Any], ColumnElement[bool]]] = {
        CompareOperator.eq: lambda v: column == v,
        CompareOperator.ne: lambda v: column != v,
        CompareOperator.gt: lambda v: column > v,
        CompareOperator.ge: lambda v: column >= v,
        CompareOperator.lt: lambda v: column < v,
        CompareOperator.le: lambda v: column <= v,
    }
    if op in comparisons:
        clause = comparisons[op](value)
    elif spec.case_exact:
        clause = _exact_substring(spec.column, op, value)
    else:
        clause = column.like(_like_pattern(value, op), escape="\\")
    if not spec.nullable:
        return clause
    if op == CompareOperator.ne:
        # RFC 7644 §3.4.2.2: an unassigned attribute is "not equal" to any value.
        return or_(spec.column.is_(None), clause)
    return and_(spec.column.is_not(None), clause)


def _exact_substring(
    column: InstrumentedAttribute[Any], op: CompareOperator, value: str
) -> ColumnElement[bool]:
    """co / sw / ew, case-exact on every backend (SQLite's LIKE ignores case)."""
    if op == CompareOperator.sw:
        return func.substr(column, 1, len(value)) == value
    if op == CompareOperator.ew:
        return func.substr(column, func.length(column) - len(value) + 1) == value
    if not value:
        return column.is_not(None)
    return func.replace(column, value, "") != column


def _constant_matches(spec: Constant, op: CompareOperator, value: Any, shown: str) -> bool:
    if spec.kind == "boolean":
        if op not in BOOLEAN_OPS:
            raise InvalidFilterException(detail=f"{shown} takes eq, ne and pr only.")
        return bool(spec.value == _boolean(value, shown)) == (op == CompareOperator.eq)
    if not isinstance(value, str):
        raise InvalidFilterException(detail=f"{shown} compares with a quoted string.")
    mine, theirs = str(spec.value).lower(), value.lower()
    checks: dict[CompareOperator, Callable[[], bool]] = {
        CompareOperator.eq: lambda: mine == theirs,
        CompareOperator.ne: lambda: mine != theirs,
        CompareOperator.co: lambda: theirs in mine,
        CompareOperator.sw: lambda: mine.startswith(theirs),
        CompareOperator.ew: lambda: mine.endswith(theirs),
        CompareOperator.gt: lambda: mine > theirs,
        CompareOperator.ge: lambda: mine >= theirs,
        CompareOperator.lt: lambda: mine < theirs,
        CompareOperator.le: lambda: mine <= theirs,
    }
    return checks[op]()


class _GroupMatch(FilterVisitor[Callable[[str], bool]]):
    """A filter on the four fixed groups, evaluated on their names (id = displayName)."""

    def visit_logical_expr(self, node: LogicalExpr) -> Callable[[str], bool]:
        terms = [self.visit(term) for term in node.terms]
        if node.op == LogicalOperator.and_:
            return lambda name: all(term(name) for term in terms)
        return lambda name: any(term(name) for term in terms)

    def visit_not(self, node: Not) -> Callable[[str], bool]:
        inner = self.visit(node.expr)
        return lambda name: not inner(name)

    def visit_present(self, node: Present) -> Callable[[str], bool]:
        self._check(node.attr_path)
        return lambda name: True

    def visit_value_path(self, node: ValuePath) -> Callable[[str], bool]:
        raise InvalidFilterException(detail="Groups can be filtered on displayName and id only.")

    def visit_comparison(self, node: Comparison) -> Callable[[str], bool]:
        self._check(node.attr_path)
        if not isinstance(node.value, str):
            raise InvalidFilterException(detail=f"{node.attr_path} compares with a quoted string.")
        value = node.value
        return lambda name: _constant_matches(Constant(name), node.op, value, str(node.attr_path))

    def _check(self, path: AttrPath) -> None:
        if attribute_name(path, GROUP_SCHEMA) not in ("displayname", "id"):
            raise InvalidFilterException(
                detail=f"Cannot filter groups on {path}: filter on displayName or id."
            )


def group_filter(text: str) -> Callable[[str], bool]:
    """Whether a group (by its name) matches `text`, a SCIM filter on displayName or id."""
    return _GroupMatch().visit(parsed_filter(text))
