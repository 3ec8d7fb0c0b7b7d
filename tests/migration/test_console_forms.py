"""Console forms: a refused value re-renders the line page with what was typed (400/422
and the message); `back` passes the same target check as `next`; a line's audit trail
holds only that line's events."""

from __future__ import annotations

import html as markup

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent, ScheduledChange
from gateway.core.models.base import utcnow
from gateway.core.store import Store
from gateway.migration import scheduler, service
from tests import factories
from tests.it_console import ACTOR, NOW, console_post
from tests.world import World


def audit_count(dbs: Session) -> int:
    return len(dbs.scalars(select(AuditEvent.id)).all())


def test_a_refused_percent_keeps_the_input_and_the_line_page(
    it_client: FlaskClient, dbs: Session
) -> None:
    typed = {"action": "change", "state": "rollout", "percent": "150"}
    reply = console_post(it_client, "/it/lines/NET/preview", {**typed, "reason": "wave <b>1</b>"})
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422 and reply.location is None
    assert "<h1>NET suite" in page  # still the line page, not the dashboard
    refused = page.split('id="refused"', 1)[1].split("</p>", 1)[0]
    assert "The percentage must be a number from 0 to 100." in refused
    change = page.split('id="change-heading"', 1)[1].split("</form>", 1)[0]
    assert 'value="150"' in change and '<option value="rollout" selected>' in change
    assert f'value="{markup.escape("wave <b>1</b>")}"' in change  # kept, and escaped
    assert audit_count(dbs) == 0


@pytest.mark.parametrize(
    ("run_at", "message"),
    [
        ("next tuesday", "run_at: use a date and time such as 2027-01-15T06:00"),
        ("2001-01-01T00:00", "The time must be in the future"),
    ],
)
def test_a_refused_schedule_time_keeps_what_was_typed(
    it_client: FlaskClient, dbs: Session, run_at: str, message: str
) -> None:
    form = {"state": "new", "run_at": run_at, "reason": "cut-over"}
    reply = console_post(it_client, "/it/lines/NET/schedule", form)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422 and message in page
    schedule = page.split('id="schedule-heading"', 1)[1].split("</form>", 1)[-2]
    assert f'value="{run_at}"' in schedule and 'value="cut-over"' in schedule
    assert '<option value="new" selected>' in schedule
    # The other forms on the page keep their defaults.
    change = page.split('id="change-heading"', 1)[1].split("</form>", 1)[0]
    assert 'value="cut-over"' not in change
    assert dbs.scalars(select(ScheduledChange)).all() == []


def test_a_missing_reason_on_the_pilot_form_is_400_with_the_accounts_kept(
    it_client: FlaskClient,
) -> None:
    reply = console_post(
        it_client,
        "/it/lines/NET/pilots/preview",
        {"accounts": "100001 100003", "action": "remove", "reason": " "},
    )
    page = reply.get_data(as_text=True)
    assert reply.status_code == 400 and "needs a reason" in page
    pilot = page.split('id="pilot-heading"', 1)[1].split("</form>", 1)[0]
    assert 'value="100001 100003"' in pilot and '<option value="remove" selected>' in pilot


def schedule_one(dbs: Session, store: Store) -> int:
    change = scheduler.schedule_change(
        dbs,
        store,
        "NET",
        "new",
        None,
        run_at=NOW.replace(year=2099),
        reason="later",
        actor=ACTOR,
        now=utcnow(),
    )
    return change.id


@pytest.mark.parametrize("back", ["https://evil.example/it/", "//evil.example/it/", "/\\evil"])
def test_an_outside_back_target_is_refused_before_anything_changes(
    it_client: FlaskClient, dbs: Session, store: Store, world: World, back: str
) -> None:
    change_id = schedule_one(dbs, store)
    reply = console_post(
        it_client, f"/it/schedules/{change_id}/cancel", {"reason": "no", "back": back}
    )
    assert reply.status_code == 400 and "evil" not in (reply.location or "")
    dbs.expire_all()
    assert dbs.get(ScheduledChange, change_id).status == "pending"  # type: ignore[union-attr]
    ok = console_post(
        it_client, f"/it/schedules/{change_id}/cancel", {"reason": "no", "back": "/it/lines/NET"}
    )
    assert ok.status_code == 302 and ok.location == "/it/lines/NET"


@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example"])
def test_a_refused_confirmation_never_redirects_outside(
    it_client: FlaskClient, world: World, back: str
) -> None:
    reply = console_post(
        it_client,
        "/it/lines/NET/pilots",
        {"accounts": "100001", "reason": "p", "expected_revision": "stale", "back": back},
    )
    assert reply.status_code == 302 and reply.location == "/it/"


def test_a_line_page_shows_only_its_own_events(
    it_client: FlaskClient, dbs: Session, store: Store, world: World
) -> None:
    for code in ("NETGUARD", "NET_X", "NETAX"):
        factories.product_line(dbs, code)
    service.change_state(
        dbs, store, "NETGUARD", "new", None, reason="guard-event", actor=ACTOR, now=NOW
    )
    service.change_state(
        dbs, store, "NETAX", "new", None, reason="netax-event", actor=ACTOR, now=NOW
    )
    service.set_override(
        dbs, store, "NET", "100001", "legacy", reason="net-override", actor=ACTOR, now=NOW
    )
    service.change_state(dbs, store, "NET", "pilot", None, reason="net-event", actor=ACTOR, now=NOW)
    net = it_client.get("/it/lines/NET").get_data(as_text=True)
    trail = net.split('id="history-heading"', 1)[1]
    assert "net-event" in trail and "net-override" in trail
    assert "guard-event" not in trail and "netax-event" not in trail
    underscore = it_client.get("/it/lines/NET_X").get_data(as_text=True)
    assert "netax-event" not in underscore.split('id="history-heading"', 1)[1]


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/it/who/forget-choice", {"email": "a\x00@b.example", "reason": "x"}),
        ("/it/lines/NET/overrides/preview", {"account": "100\x001", "system": "new"}),
    ],
)
def test_nul_in_a_console_form_is_a_400_and_changes_nothing(
    it_client: FlaskClient, dbs: Session, world: World, path: str, fields: dict[str, str]
) -> None:
    # PostgreSQL cannot hold NUL in text: without the check this was a 503, counted as
    # a dependency failure (and paged on).
    before = audit_count(dbs)
    reply = console_post(it_client, path, fields)
    assert reply.status_code == 400
    assert audit_count(dbs) == before
