"""The IT console: preview, confirm, audit; pilots, overrides, schedules; dashboard, CSV,
support lookups; all server-rendered without inline script or style."""

from __future__ import annotations

import csv
import io
import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import AuditEvent, ProductLine
from gateway.core.models.base import utcnow
from gateway.core.store import Store
from gateway.routing import counters as metrics
from tests.it_console import console_post
from tests.world import World


def net_state(dbs: Session) -> tuple[str, str]:
    dbs.expire_all()
    line = dbs.scalars(select(ProductLine).where(ProductLine.code == "NET")).one()
    return line.state, str(line.rollout_percent)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


def confirm_form(html: str) -> tuple[str, dict[str, str]]:
    """The preview page's confirm form: where it posts and its hidden fields (no token)."""
    form = html.split('id="preview-summary"', 1)[1].split("<form", 1)[1].split("</form>", 1)[0]
    action = re.search(r'action="([^"]+)"', form)
    assert action, form
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))
    fields.pop("csrf_token")
    return action.group(1), fields


def preview_and_confirm(
    client: FlaskClient, path: str, form: dict[str, str], ticked: dict[str, str] | None = None
) -> str:
    """Preview through the console, confirm exactly what it shows (with the `ticked`
    checkboxes); returns the preview."""
    page = console_post(client, path, form)
    assert page.status_code == 200, page.location
    html = page.get_data(as_text=True)
    action, fields = confirm_form(html)
    confirm = console_post(client, action, {**fields, **(ticked or {})})
    assert confirm.status_code == 302 and confirm.location == "/it/lines/NET", confirm.location
    return html


def test_preview_then_confirm_moves_the_line_and_audits_it(
    it_client: FlaskClient, dbs: Session
) -> None:
    preview = console_post(
        it_client,
        "/it/lines/NET/preview",
        {"action": "change", "state": "rollout", "percent": "25", "reason": "wave 1"},
    )
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert 'id="preview-summary"' in html and "This change moves" in html
    assert net_state(dbs) == ("legacy", "0.00")  # a preview changes nothing
    confirm = {
        name: hidden(html, name)
        for name in ("action", "state", "percent", "expected_state", "expected_percent", "reason")
    }
    reply = console_post(it_client, "/it/lines/NET/apply", confirm)
    assert reply.status_code == 302 and reply.location == "/it/"
    assert net_state(dbs) == ("rollout", "25.00")
    event = dbs.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert (event.actor, event.reason, event.after) == (
        "it@vendor.example",
        "wave 1",
        {"state": "rollout", "percent": "25.00"},
    )
    assert "is now rollout at 25.00%" in it_client.get("/it/").get_data(as_text=True)


def test_confirming_a_stale_preview_is_refused_with_a_message(
    it_client: FlaskClient, dbs: Session
) -> None:
    console_post(
        it_client,
        "/it/lines/NET/apply",
        {
            "action": "change",
            "state": "pilot",
            "reason": "a",
            "expected_state": "legacy",
            "expected_percent": "0",
        },
    )
    stale = console_post(
        it_client,
        "/it/lines/NET/apply",
        {
            "action": "change",
            "state": "new",
            "reason": "b",
            "expected_state": "legacy",
            "expected_percent": "0",
            "back": "/it/lines/NET",
        },
    )
    assert stale.status_code == 302 and stale.location == "/it/lines/NET"
    assert "changed since your preview" in it_client.get("/it/lines/NET").get_data(as_text=True)
    assert net_state(dbs)[0] == "pilot"


def test_rollback_from_the_console(it_client: FlaskClient, dbs: Session) -> None:
    console_post(
        it_client,
        "/it/lines/NET/apply",
        {
            "action": "change",
            "state": "new",
            "reason": "go",
            "expected_state": "legacy",
            "expected_percent": "0",
        },
    )
    page = console_post(
        it_client, "/it/lines/NET/preview", {"action": "rollback", "reason": "broken"}
    ).get_data(as_text=True)
    assert "from new to legacy" in page and "Confirm rollback" in page
    console_post(
        it_client,
        "/it/lines/NET/apply",
        {
            "action": "rollback",
            "reason": "broken",
            "expected_state": "new",
            "expected_percent": "0",
        },
    )
    assert net_state(dbs)[0] == "legacy"


def test_missing_reason_is_refused_without_a_change(it_client: FlaskClient, dbs: Session) -> None:
    reply = console_post(it_client, "/it/lines/NET/pilots", {"accounts": "100001", "reason": ""})
    assert reply.status_code == 302
    assert "needs a reason" in it_client.get("/it/").get_data(as_text=True)
    assert dbs.scalar(select(AuditEvent.id)) is None


def test_pilot_override_schedule_and_maintenance_forms(
    it_client: FlaskClient, dbs: Session
) -> None:
    preview_and_confirm(
        it_client, "/it/lines/NET/pilots/preview", {"accounts": "100001, 100003", "reason": "p"}
    )
    preview_and_confirm(
        it_client,
        "/it/lines/NET/overrides/preview",
        {
            "account": "100002",
            "system": "legacy",
            "reason": "audit",
            "expires_at": "2099-01-01T00:00",
        },
    )
    console_post(
        it_client,
        "/it/lines/NET/schedule",
        {"state": "new", "run_at": "2099-01-15T06:00", "reason": "cut-over"},
    )
    page = it_client.get("/it/lines/NET").get_data(as_text=True)
    assert "100001, 100003" in page and "2099-01-01 00:00" in page and "2099-01-15 06:00" in page
    preview = console_post(
        it_client, "/it/systems/new/maintenance/preview", {"down": "on", "reason": "upgrade"}
    ).get_data(as_text=True)
    console_post(
        it_client,
        "/it/systems/new/maintenance",
        {
            "down": "on",
            "reason": "upgrade",
            "expected_maintenance": hidden(preview, "expected_maintenance"),
        },
    )
    assert "down for maintenance" in it_client.get("/it/").get_data(as_text=True)
    actions = list(dbs.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == [
        "product_line.pilot",
        "product_line.override",
        "schedule.created",
        "system.maintenance",
    ]


def test_pilot_addition_is_previewed_with_the_accounts_that_move(
    it_client: FlaskClient, dbs: Session
) -> None:
    console_post(
        it_client,
        "/it/lines/NET/apply",
        {
            "action": "change",
            "state": "pilot",
            "reason": "go",
            "expected_state": "legacy",
            "expected_percent": "0",
        },
    )
    html = preview_and_confirm(
        it_client, "/it/lines/NET/pilots/preview", {"accounts": "100001", "reason": "first"}
    )
    assert "Preview for NET suite: add 100001 to the pilot" in html
    assert "This change moves 1 accounts, 2 users and 2 entitlements from legacy to new" in html
    movements = html.split('id="preview-movements"', 1)[1].split("</table>", 1)[0]
    assert "<td>100001</td>" in movements
    event = dbs.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None and (event.action, event.after, event.reason) == (
        "product_line.pilot",
        {"pilot_accounts": ["100001"]},
        "first",
    )


def test_override_preview_shows_an_account_waiting_for_data_and_removal_the_move_back(
    it_client: FlaskClient, dbs: Session
) -> None:
    html = preview_and_confirm(
        it_client,
        "/it/lines/NET/overrides/preview",
        {"account": "100002", "system": "new", "reason": "early"},
    )
    assert "This change moves no accounts." in html
    assert "Waiting for data (1)" in html and '<p id="preview-waiting">100002</p>' in html
    preview_and_confirm(
        it_client,
        "/it/lines/NET/overrides/preview",
        {"account": "100001", "system": "new", "reason": "early"},
    )
    line_page = it_client.get("/it/lines/NET").get_data(as_text=True)
    assert "/it/lines/NET/overrides/100001/remove/preview" in line_page
    removal = preview_and_confirm(
        it_client,
        "/it/lines/NET/overrides/100001/remove/preview",
        {"reason": "done"},
        {"confirm_back_to_legacy": "yes"},
    )
    assert "remove the override sending 100001 to new" in removal
    assert "moves 1 accounts, 2 users and 2 entitlements from new to legacy" in removal
    actions = list(dbs.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-1] == "product_line.override_removed"


def test_a_stale_pilot_or_override_preview_is_refused_with_a_message(
    it_client: FlaskClient, dbs: Session
) -> None:
    page = console_post(
        it_client, "/it/lines/NET/pilots/preview", {"accounts": "100001", "reason": "p"}
    ).get_data(as_text=True)
    stale_pilot = confirm_form(page)
    page = console_post(
        it_client,
        "/it/lines/NET/overrides/preview",
        {"account": "100002", "system": "new", "reason": "o"},
    ).get_data(as_text=True)
    stale_override = confirm_form(page)
    preview_and_confirm(  # someone else changes the line in between
        it_client, "/it/lines/NET/pilots/preview", {"accounts": "100003", "reason": "other"}
    )
    for path, fields in (stale_pilot, stale_override):
        reply = console_post(it_client, path, fields)
        assert reply.status_code == 302 and reply.location == "/it/lines/NET"
        assert "changed since your preview" in it_client.get("/it/lines/NET").get_data(as_text=True)
    without_preview = console_post(
        it_client, "/it/lines/NET/pilots", {"accounts": "100001", "reason": "p"}
    )
    assert without_preview.status_code == 302
    actions = list(dbs.scalars(select(AuditEvent.action)))
    assert actions == ["product_line.pilot"]  # only the other person's change


def test_dashboard_shows_sides_waiting_accounts_and_an_svg_chart(
    it_client: FlaskClient, store: Store, world: World
) -> None:
    metrics._increment(
        store,
        utcnow(),
        ["login:legacy", "login:new", "login:new", "line:NET:new", "choice:new", "error:503"],
    )
    reply = it_client.get("/it/")
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200
    row = html.split('data-line="NET"', 1)[1].split("</tr>", 1)[0]
    assert "3 / 0" in row  # accounts with active NET entitlements, all on legacy
    assert "<svg" in html and "2 new" in html and "1 failed sign-in" in html
    assert "<script" not in html and "style=" not in html
    assert "default-src 'self'" in reply.headers["Content-Security-Policy"]


def test_csv_export_has_one_row_per_counter(it_client: FlaskClient, store: Store) -> None:
    metrics._increment(store, utcnow(), ["line:NET:new", "login:new"])
    reply = it_client.get("/it/dashboard.csv?by=day")
    assert reply.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(reply.get_data(as_text=True))))
    counted = {(r["metric"], r["product_line"], r["system"], r["count"]) for r in rows}
    assert {row for row in counted if row[0] in ("line", "login")} == {
        ("line", "NET", "new", "1"),
        ("login", "", "new", "1"),
    }
    assert {r["granularity"] for r in rows} == {"day"}


def test_who_is_affected_shows_the_trace_per_line(it_client: FlaskClient, world: World) -> None:
    html = it_client.get("/it/who?q=max@mixed.example").get_data(as_text=True)
    assert "Max" in html or "max@mixed.example" in html
    table = html.split('class="trace"', 1)[1]
    assert "CAD" in table and "NET" in table and "line is on the legacy system" in table
    account = it_client.get("/it/who?q=100001").get_data(as_text=True)
    assert "pat@ready.example" in account and "sam@ready.example" in account
    assert it_client.get("/it/who?q=nobody@nowhere.example").status_code == 404
