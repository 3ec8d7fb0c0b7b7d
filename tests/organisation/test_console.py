"""The organisation console over HTTP: an org admin manages their own organisation's
people; nobody else's (404), and nobody who is not an admin (403). Every form carries
a CSRF token; a refused change saves nothing."""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent, User
from tests.conftest import BASE_URL
from tests.forms import csrf_token
from tests.world import World


def _user(dbs: Session, email: str) -> User:
    dbs.expire_all()
    user = dbs.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def _post(client: FlaskClient, path: str, data: dict[str, object]) -> object:
    token = csrf_token(client.get("/org/").get_data(as_text=True))
    return client.post(
        path, data={"csrf_token": token, **data}, headers={"Referer": f"{BASE_URL}/org/"}
    )


def _audit_count(dbs: Session) -> int:
    return dbs.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_an_admin_sees_their_own_people_only(admin_client: FlaskClient) -> None:
    page = admin_client.get("/org/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "pat@ready.example" in html and "ada@ready.example" in html
    assert "wes@waiting.example" not in html and "oli@other.example" not in html
    assert "Your organisation" in html


def test_search_by_name_or_email(admin_client: FlaskClient) -> None:
    html = admin_client.get("/org/", query_string={"q": "PORTAL@"}).get_data(as_text=True)
    assert "portal@ready.example" in html and "pat@ready.example" not in html


def test_a_user_who_is_not_admin_gets_403_everywhere(
    user_client: FlaskClient, dbs: Session, world: World
) -> None:
    sam = _user(dbs, "sam@ready.example")
    for path in ("/org/", f"/org/users/{sam.public_id}", "/org/audit", "/org/audit.csv"):
        assert user_client.get(path).status_code == 403, path
    refused_page = user_client.get("/org/").get_data(as_text=True)
    token = csrf_token(refused_page)
    answer = user_client.post(
        f"/org/users/{sam.public_id}/status",
        data={"csrf_token": token, "active": "no"},
        headers={"Referer": f"{BASE_URL}/org/"},
    )
    assert answer.status_code == 403
    assert _user(dbs, "sam@ready.example").status == "active"
    assert "Your organisation" not in refused_page


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient, world: World) -> None:
    answer = client.get("/org/")
    assert answer.status_code == 302 and "/login" in answer.location


def test_another_organisations_user_is_404_on_every_page_and_form(
    admin_client: FlaskClient, dbs: Session, world: World
) -> None:
    wes = _user(dbs, "wes@waiting.example")
    before = _audit_count(dbs)
    assert admin_client.get(f"/org/users/{wes.public_id}").status_code == 404
    for action, data in (
        ("permissions", {"permission": ["portal"]}),
        ("status", {"active": "no"}),
        ("forget-choice", {}),
    ):
        answer = _post(admin_client, f"/org/users/{wes.public_id}/{action}", data)
        assert answer.status_code == 404, action  # type: ignore[attr-defined]
    wes = _user(dbs, "wes@waiting.example")
    assert wes.status == "active" and "licensing" in wes.permission_names
    assert _audit_count(dbs) == before


def test_support_urls_are_404_for_an_admin(admin_client: FlaskClient, world: World) -> None:
    for number in ("100002", "100001"):
        assert admin_client.get(f"/org/accounts/{number}/").status_code == 404
        assert admin_client.get(f"/org/accounts/{number}/audit").status_code == 404
    assert admin_client.get("/org/accounts/").status_code == 404


def test_grant_and_revoke(admin_client: FlaskClient, dbs: Session, world: World) -> None:
    pat = _user(dbs, "pat@ready.example")
    answer = _post(
        admin_client,
        f"/org/users/{pat.public_id}/permissions",
        {"permission": ["portal", "downloads"]},
    )
    assert answer.status_code == 302  # type: ignore[attr-defined]
    assert _user(dbs, "pat@ready.example").permission_names == {"portal", "downloads"}
    entry = dbs.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert entry is not None
    assert (entry.actor, entry.via, entry.account_id) == (
        "ada@ready.example",
        "console",
        world.ready.id,
    )
    assert entry.request_id


def test_the_vendors_roles_cannot_be_granted(admin_client: FlaskClient, dbs: Session) -> None:
    pat = _user(dbs, "pat@ready.example")
    before = _audit_count(dbs)
    answer = _post(admin_client, f"/org/users/{pat.public_id}/permissions", {"permission": ["it"]})
    assert answer.status_code == 302  # type: ignore[attr-defined]
    page = admin_client.get(answer.location).get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Unknown permission it" in page
    assert _user(dbs, "pat@ready.example").permission_names == {"portal", "licensing", "downloads"}
    assert _audit_count(dbs) == before


def test_a_form_without_csrf_token_changes_nothing(admin_client: FlaskClient, dbs: Session) -> None:
    pat = _user(dbs, "pat@ready.example")
    answer = admin_client.post(f"/org/users/{pat.public_id}/status", data={"active": "no"})
    assert answer.status_code == 400
    assert _user(dbs, "pat@ready.example").status == "active"


def test_the_last_admin_cannot_deactivate_themselves(
    admin_client: FlaskClient, dbs: Session
) -> None:
    ada = _user(dbs, "ada@ready.example")
    before = _audit_count(dbs)
    answer = _post(admin_client, f"/org/users/{ada.public_id}/status", {"active": "no"})
    page = admin_client.get(answer.location).get_data(as_text=True)  # type: ignore[attr-defined]
    assert "last active admin" in page
    assert _user(dbs, "ada@ready.example").status == "active"
    assert _audit_count(dbs) == before


def test_losing_admin_takes_effect_on_the_next_request(
    admin_client: FlaskClient, dbs: Session, world: World
) -> None:
    pat = _user(dbs, "pat@ready.example")
    _post(
        admin_client, f"/org/users/{pat.public_id}/permissions", {"permission": ["portal", "admin"]}
    )
    ada = _user(dbs, "ada@ready.example")
    _post(admin_client, f"/org/users/{ada.public_id}/permissions", {"permission": ["portal"]})
    assert "admin" not in _user(dbs, "ada@ready.example").permission_names
    assert admin_client.get("/org/").status_code == 403


def test_deactivate_and_reactivate(admin_client: FlaskClient, dbs: Session) -> None:
    sam = _user(dbs, "sam@ready.example")
    _post(admin_client, f"/org/users/{sam.public_id}/status", {"active": "no"})
    assert _user(dbs, "sam@ready.example").status == "disabled"
    html = admin_client.get("/org/", query_string={"status": "disabled"}).get_data(as_text=True)
    assert "sam@ready.example" in html and "pat@ready.example" not in html
    _post(admin_client, f"/org/users/{sam.public_id}/status", {"active": "yes"})
    assert _user(dbs, "sam@ready.example").status == "active"
    actions = dbs.scalars(
        select(AuditEvent.action).where(AuditEvent.target == f"user:{sam.public_id}")
    ).all()
    assert actions == ["user.deactivated", "user.reactivated"]


def test_audit_log_filters_and_exports(
    admin_client: FlaskClient, dbs: Session, world: World
) -> None:
    sam = _user(dbs, "sam@ready.example")
    _post(admin_client, f"/org/users/{sam.public_id}/status", {"active": "no"})
    _post(admin_client, f"/org/users/{sam.public_id}/permissions", {"permission": ["portal"]})
    html = admin_client.get("/org/audit", query_string={"action": "user.deactivated"}).get_data(
        as_text=True
    )
    assert "user.deactivated" in html and "user.permissions_changed" not in html
    exported = admin_client.get("/org/audit.csv")
    assert exported.mimetype == "text/csv"
    rows = list(
        csv.DictReader(io.StringIO(exported.get_data(as_text=True), newline=""), strict=True)
    )
    assert [row["action"] for row in rows] == ["user.permissions_changed", "user.deactivated"]
    assert {row["via"] for row in rows} == {"console"}
    assert all(row["target"] == f"user:{sam.public_id}" for row in rows)


def test_another_organisations_audit_entries_never_show(
    admin_client: FlaskClient, dbs: Session, world: World
) -> None:
    from gateway.core.audit import Actor, record

    record(
        dbs,
        Actor("x@waiting.example"),
        "user.changed",
        "user:secret-of-waiting",
        account_id=world.waiting.id,
    )
    dbs.commit()
    assert "secret-of-waiting" not in admin_client.get("/org/audit").get_data(as_text=True)
    assert "secret-of-waiting" not in admin_client.get("/org/audit.csv").get_data(as_text=True)


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999999999"])
def test_odd_page_numbers_show_the_first_page(admin_client: FlaskClient, page: str) -> None:
    answer = admin_client.get("/org/", query_string={"page": page})
    assert answer.status_code == 200 and "ada@ready.example" in answer.get_data(as_text=True)


def test_an_admin_makes_a_token_shown_once_and_revokes_it(
    admin_client: FlaskClient, dbs: Session, world: World
) -> None:
    from gateway.core.api_tokens import active_token
    from gateway.core.secret_keys import secret_keys

    created = _post(admin_client, "/org/tokens", {"name": "okta", "scope": "scim", "days": "30"})
    html = created.get_data(as_text=True)  # type: ignore[attr-defined]
    assert created.headers["Cache-Control"] == "no-store"  # type: ignore[attr-defined]
    secret = html.split('id="new-token">')[1].split("<")[0]
    key = secret_keys(admin_client.application).api_token
    found = active_token(dbs, secret, key)
    assert found is not None and (found.account_number, found.scopes) == ("100001", {"scim"})
    listing = admin_client.get("/org/tokens").get_data(as_text=True)
    assert "100001/okta" in listing and secret not in listing
    revoked = _post(admin_client, "/org/tokens/revoke", {"name": "100001/okta"})
    assert revoked.status_code == 302  # type: ignore[attr-defined]
    dbs.expire_all()
    assert active_token(dbs, secret, key) is None


def test_another_organisations_token_cannot_be_revoked(
    admin_client: FlaskClient, dbs: Session, world: World
) -> None:
    from gateway.core.api_tokens import active_token, create_account_token
    from gateway.core.audit import Actor
    from gateway.core.models.base import utcnow
    from gateway.core.secret_keys import secret_keys

    key = secret_keys(admin_client.application).api_token
    theirs = create_account_token(
        dbs, "100002", "users", actor=Actor("op"), now=utcnow(), hash_key=key, name="theirs"
    )
    assert "100002/theirs" not in admin_client.get("/org/tokens").get_data(as_text=True)
    answer = _post(admin_client, "/org/tokens/revoke", {"name": "100002/theirs"})
    assert answer.status_code == 404  # type: ignore[attr-defined]
    assert active_token(dbs, theirs.secret, key) is not None


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "scope": "rollout:write", "days": "30"},
        {"name": "x", "scope": "users", "days": "400"},
        {"name": "x", "scope": "users", "days": "soon"},
        {"name": "a b", "scope": "users", "days": "30"},
    ],
)
def test_a_bad_token_request_makes_no_token(
    admin_client: FlaskClient, dbs: Session, data: dict[str, str]
) -> None:
    from gateway.core.models import ApiToken

    answer = _post(admin_client, "/org/tokens", data)
    assert answer.status_code == 302  # type: ignore[attr-defined]
    assert dbs.scalar(select(func.count()).select_from(ApiToken)) == 0


ADMIN_FORMS = [
    "/org/users/{id}/permissions",
    "/org/users/{id}/status",
    "/org/users/{id}/forget-choice",
    "/org/invitations",
    "/org/tokens",
    "/org/tokens/revoke",
]


@pytest.mark.parametrize("form", ADMIN_FORMS)
def test_every_console_form_needs_its_csrf_token(
    admin_client: FlaskClient, dbs: Session, form: str
) -> None:
    from gateway.core.models import ApiToken, Invitation

    pat = _user(dbs, "pat@ready.example")
    before = _audit_count(dbs)
    data = {"permission": "portal", "active": "no", "email": "x@ready.example",
            "permissions": "portal", "name": "t", "scope": "users", "days": "30"}  # fmt: skip
    answer = admin_client.post(
        form.format(id=pat.public_id), data=data, headers={"Referer": f"{BASE_URL}/org/"}
    )
    assert answer.status_code == 400
    assert _audit_count(dbs) == before
    assert dbs.scalar(select(func.count()).select_from(Invitation)) == 0
    assert dbs.scalar(select(func.count()).select_from(ApiToken)) == 0


@pytest.mark.parametrize("path", ["/org/invitations", "/org/tokens"])
def test_the_other_pages_are_403_for_a_user_who_is_not_admin(
    user_client: FlaskClient, path: str
) -> None:
    assert user_client.get(path).status_code == 403
