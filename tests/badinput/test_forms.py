"""Pages and console forms under hostile input, as the people allowed to use them:
the org console's people search, filters and pages (an org admin), "Your
entitlements" with its sort, filter and page parameters (a customer), IT's console
pages, and every form post of the org console, the landing pages, renewals and IT's
console with a valid CSRF token and random field values."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from gateway.core.models import User
from tests.badinput.harness import answered_safely, fuzz
from tests.badinput.strategies import query_params, value_text
from tests.conftest import BASE_URL
from tests.forms import csrf_token
from tests.world import World

ORG_PAGES = ["/org/", "/org/audit", "/org/audit.csv", "/org/invitations", "/org/tokens"]
ORG_PARAMS = ["q", "status", "page", "action", "actor", "since", "until", "permission"]
ENTITLEMENT_PAGES = ["/entitlements", "/entitlements.csv", "/api/v1/me/entitlements"]
ENTITLEMENT_PARAMS = [
    "line",
    "system",
    "kind",
    "within",
    "expiring_within",
    "sort",
    "dir",
    "page",
    "per_page",
    "print",
]
IT_PAGES = [
    "/it/",
    "/it/who",
    "/it/audit",
    "/it/dashboard.csv",
    "/it/lines/NET",
    "/it/salesforce/drift",
    "/it/salesforce/drift.csv",
    "/it/salesforce/drift.json",
    "/it/salesforce/runs",
    "/org/accounts/",
]
IT_PARAMS = ["q", "by", "page", "limit", "since", "until", "actor", "action", "line"]
# Numbers where pages and limits are read: the edges of every integer type.
numbers = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0", "-1", "2147483648", "9223372036854775808", "1e3", "1.5", " 1"]),
)
hostile = st.one_of(value_text, numbers)


def page_queries(names: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    known = st.dictionaries(st.sampled_from(names), hostile, max_size=4)
    return st.builds(
        lambda a, b: list(a.items()) + b, known, st.one_of(st.just([]), query_params(names))
    )


def test_org_console_pages_take_any_query(app: Flask, admin_client: FlaskClient) -> None:
    @fuzz(examples=100)
    @given(path=st.sampled_from(ORG_PAGES), query=page_queries(ORG_PARAMS))
    def page(path: str, query: list[tuple[str, str]]) -> None:
        answered_safely(app, lambda: admin_client.get(path, query_string=MultiDict(query)))

    page()


def test_entitlement_pages_take_any_query(app: Flask, user_client: FlaskClient) -> None:
    @fuzz(examples=100)
    @given(path=st.sampled_from(ENTITLEMENT_PAGES), query=page_queries(ENTITLEMENT_PARAMS))
    def page(path: str, query: list[tuple[str, str]]) -> None:
        answered_safely(app, lambda: user_client.get(path, query_string=MultiDict(query)))

    page()


def test_it_console_pages_take_any_query(app: Flask, it_client: FlaskClient) -> None:
    @fuzz(examples=100)
    @given(path=st.sampled_from(IT_PAGES), query=page_queries(IT_PARAMS))
    def page(path: str, query: list[tuple[str, str]]) -> None:
        answered_safely(app, lambda: it_client.get(path, query_string=MultiDict(query)))

    page()


def posted(client: FlaskClient, page: str, path: str, form: list[tuple[str, str]]) -> object:
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(
        path,
        data=MultiDict([("csrf_token", token), *form]),
        headers={"Referer": f"{BASE_URL}{page}"},
    )


def form_fields(names: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    pairs = st.tuples(st.sampled_from(names), hostile)
    return st.lists(pairs, max_size=6)


def pat(dbs: Session) -> str:
    return dbs.scalars(select(User.public_id).where(User.email == "pat@ready.example")).one()


def test_org_console_forms_refuse_any_values_cleanly(
    app: Flask, admin_client: FlaskClient, dbs: Session
) -> None:
    target = pat(dbs)
    forms = [
        "/org/invitations",
        "/org/invitations/1/resend",
        "/org/invitations/1/revoke",
        "/org/tokens",
        "/org/tokens/revoke",
        f"/org/users/{target}/permissions",
        f"/org/users/{target}/status",
        f"/org/users/{target}/forget-choice",
        "/org/accounts/100001/invitations",
    ]
    names = ["email", "permissions", "permission", "name", "scope", "active", "reason", "back"]

    @fuzz(examples=100)
    @given(path=st.sampled_from(forms), form=form_fields(names))
    def post(path: str, form: list[tuple[str, str]]) -> None:
        answered_safely(app, lambda: posted(admin_client, "/org/", path, form))  # type: ignore[arg-type, return-value]

    post()


def test_landing_and_renewal_forms_refuse_any_values_cleanly(
    app: Flask, user_client: FlaskClient, admin_client: FlaskClient, world: World
) -> None:
    forms = [
        (user_client, "/entitlements", "/choose"),
        (user_client, "/entitlements", "/notice"),
        (user_client, "/entitlements", "/forget-choice"),
        (user_client, "/entitlements", "/logout"),
        (admin_client, "/org/", "/renewals/settings"),
    ]
    names = ["system", "remember", "back", "next", "renewal_reminders"]

    @fuzz(examples=80)
    @given(which=st.sampled_from(range(len(forms))), form=form_fields(names))
    def post(which: int, form: list[tuple[str, str]]) -> None:
        client, page, path = forms[which]
        if path == "/logout":  # signed out afterwards: the next example signs in again
            return
        answered_safely(app, lambda: posted(client, page, path, form))  # type: ignore[arg-type, return-value]

    post()


def test_it_console_forms_refuse_any_values_cleanly(app: Flask, it_client: FlaskClient) -> None:
    forms = [
        "/it/lines/NET/preview",
        "/it/lines/NET/apply",
        "/it/lines/NET/pilots/preview",
        "/it/lines/NET/pilots",
        "/it/lines/NET/overrides/preview",
        "/it/lines/NET/overrides",
        "/it/lines/NET/overrides/100001/remove/preview",
        "/it/lines/NET/overrides/100001/remove",
        "/it/lines/NET/schedule",
        "/it/lines/NET/agreement/preview",
        "/it/lines/NET/agreement",
        "/it/schedules/1/cancel",
        "/it/systems/legacy/maintenance/preview",
        "/it/systems/legacy/maintenance",
        "/it/who/forget-choice",
    ]
    names = [
        "state",
        "percent",
        "reason",
        "expected_revision",
        "expected_state",
        "expected_percent",
        "accounts",
        "account",
        "system",
        "expires_at",
        "run_at",
        "day",
        "hour",
        "agreement",
        "action",
        "customer_message",
        "email",
        "q",
        "back",
        "yes",
        "rollback",
    ]

    @fuzz(examples=100)
    @given(path=st.sampled_from(forms), form=form_fields(names))
    def post(path: str, form: list[tuple[str, str]]) -> None:
        answered_safely(app, lambda: posted(it_client, "/it/", path, form))  # type: ignore[arg-type, return-value]

    post()
