"""/renewals/settings: an org admin turns their own reminders off and on again; the form
needs its CSRF token, only admins get it, every change is in the organisation's audit
log, and the job then leaves the admin out."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent, User
from gateway.core.settings import Settings
from gateway.renewals.service import send_due_reminders
from tests import factories
from tests.conftest import BASE_URL
from tests.forms import csrf_token
from tests.renewals.conftest import TODAY
from tests.world import World

PAGE = "/renewals/settings"


def _ada(dbs: Session) -> User:
    dbs.expire_all()
    return dbs.scalars(select(User).where(User.email == "ada@ready.example")).one()


def _save(client: FlaskClient, value: str) -> object:
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    return client.post(
        PAGE,
        data={"csrf_token": token, "renewal_reminders": value},
        headers={"Referer": f"{BASE_URL}{PAGE}"},
    )


def test_an_admin_turns_reminders_off_and_the_job_leaves_them_out(
    admin_client: FlaskClient, dbs: Session, settings: Settings, world: World
) -> None:
    page = admin_client.get(PAGE)
    assert page.status_code == 200
    assert 'value="on" checked' in page.get_data(as_text=True)

    answer = _save(admin_client, "off")

    assert answer.status_code == 302  # type: ignore[attr-defined]
    assert _ada(dbs).renewal_reminders is False
    html = admin_client.get(PAGE).get_data(as_text=True)
    assert "You no longer receive renewal reminders." in html and 'value="off" checked' in html
    entry = dbs.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert entry is not None
    assert (entry.action, entry.actor, entry.via, entry.account_id, entry.target) == (
        "user.renewal_reminders_changed",
        "ada@ready.example",
        "console",
        world.ready.id,
        f"user:{_ada(dbs).public_id}",
    )
    assert (entry.before, entry.after) == (
        {"renewal_reminders": True},
        {"renewal_reminders": False},
    )
    assert entry.request_id

    end = TODAY + timedelta(days=30)
    factories.entitlement(dbs, world.ready, world.net, [world.legacy], end_date=end)
    assert send_due_reminders(dbs, settings, TODAY).messages == 0

    _save(admin_client, "on")
    assert _ada(dbs).renewal_reminders is True


def test_the_form_needs_its_csrf_token(admin_client: FlaskClient, dbs: Session) -> None:
    answer = admin_client.post(
        PAGE, data={"renewal_reminders": "off"}, headers={"Referer": f"{BASE_URL}{PAGE}"}
    )
    assert answer.status_code == 400
    assert _ada(dbs).renewal_reminders is True


def test_a_value_other_than_on_or_off_changes_nothing(
    admin_client: FlaskClient, dbs: Session
) -> None:
    before = dbs.scalars(select(AuditEvent)).all()
    answer = _save(admin_client, "maybe")
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert _ada(dbs).renewal_reminders is True
    assert dbs.scalars(select(AuditEvent)).all() == before


def test_only_admins_get_the_page(user_client: FlaskClient, dbs: Session) -> None:
    assert user_client.get(PAGE).status_code == 403
    token = csrf_token(user_client.get("/org/").get_data(as_text=True))
    answer = user_client.post(
        PAGE,
        data={"csrf_token": token, "renewal_reminders": "off"},
        headers={"Referer": f"{BASE_URL}{PAGE}"},
    )
    assert answer.status_code == 403
    pat = dbs.scalars(select(User).where(User.email == "pat@ready.example")).one()
    assert pat.renewal_reminders is True


def test_the_link_in_the_mail_signs_a_visitor_in_first(client: FlaskClient, world: World) -> None:
    answer = client.get(PAGE)
    assert answer.status_code == 302
    assert answer.location == "/login?next=/renewals/settings"
