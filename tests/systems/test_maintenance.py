"""Maintenance as a change like any other: previewed (who is sent elsewhere, who sees the
status page), confirmed, audited with IT's reason and the customer message apart; the
reason never reaches a customer's page."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.models import AuditEvent, System
from gateway.core.store import Store
from gateway.migration import service
from gateway.routing.config import load_routing_config
from gateway.systems import service as systems
from gateway.systems.service import MaintenancePreview, preview_maintenance
from tests import factories
from tests.conftest import https_client
from tests.it_console import ACTOR, NOW, bearer, console_post
from tests.migration.test_cli import gateway_env  # noqa: F401 - fixture
from tests.migration.test_console import hidden
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

REASON = "INTERNAL: db failover for ticket OPS-4711"
MESSAGE = "Scheduled maintenance until 14:00 UTC."


def only_new(dbs: Session, world: World) -> None:
    """Account 100005: NET held by the new system only (it sees the status page)."""
    account = factories.account(dbs, "100005")
    factories.entitlement(dbs, account, world.net, [world.new])
    factories.user(dbs, account, "nia@only-new.example")


def new_line(dbs: Session, store: Store) -> None:
    service.change_state(dbs, store, "NET", "new", None, reason="go", actor=ACTOR, now=NOW)


def preview(dbs: Session, store: Store, key: str, down: bool) -> MaintenancePreview:
    config = load_routing_config(dbs, store, 0)
    return preview_maintenance(dbs, config, key, down, today=NOW.date(), grace_days=0, now=NOW)


def test_preview_names_who_is_sent_elsewhere_and_who_sees_the_status_page(
    dbs: Session, store: Store, world: World
) -> None:
    only_new(dbs, world)
    new_line(dbs, store)
    result = preview(dbs, store, "new", True)
    # ready and mixed hold NET on both systems: sent to legacy instead; 100005 only on new.
    assert result.rerouted.numbers == ["100001", "100003"] and result.rerouted.users == 3
    assert result.status_page.numbers == ["100005"] and result.status_page.users == 1
    assert result.partly_unavailable.accounts == 0 and result.restored.accounts == 0
    assert result.summary.startswith("Maintenance on for new: 2 accounts (3 users)")
    assert load_routing_config(dbs, store, 0).down_systems == frozenset()  # nothing changed
    systems.set_maintenance(dbs, store, "new", True, reason=REASON, actor=ACTOR, now=NOW)
    back = preview(dbs, store, "new", False)
    assert back.restored.numbers == ["100005"] and back.rerouted.accounts == 2


def test_the_audit_entry_carries_the_reason_and_the_customer_message_apart(
    dbs: Session, store: Store, world: World
) -> None:
    systems.set_maintenance(
        dbs, store, "new", True, reason=REASON, actor=ACTOR, now=NOW, customer_message=MESSAGE
    )
    event = dbs.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None and event.reason == REASON
    assert event.after == {"maintenance": True, "note": REASON, "customer_message": MESSAGE}
    status = load_routing_config(dbs, store, 0).systems["new"]
    assert (status.maintenance_note, status.customer_message) == (REASON, MESSAGE)
    systems.set_maintenance(dbs, store, "new", False, reason="done", actor=ACTOR, now=NOW)
    dbs.expire_all()
    row = dbs.scalars(select(System).where(System.key == "new")).one()
    assert (row.maintenance_note, row.customer_message) == ("", "")


def test_internal_reason_never_appears_on_any_customer_page(
    app: Flask, idp: PortalIdP, dbs: Session, store: Store, world: World
) -> None:
    only_new(dbs, world)
    new_line(dbs, store)
    for key in ("new", "legacy"):
        systems.set_maintenance(
            dbs, store, key, True, reason=REASON, actor=ACTOR, now=NOW, customer_message=MESSAGE
        )
    pages = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and not rule.arguments
        and not rule.endpoint.startswith(("rollout_", "static"))
        and rule.rule not in ("/logout", "/login", "/saml/login", "/sso/oidc/login", "/saml/sls")
    ]
    assert "/unavailable" in pages and "/choose" in pages and "/api/v1/me" in pages
    for email, number in (("nia@only-new.example", "100005"), ("pat@ready.example", "100001")):
        client = https_client(app)
        landed = sign_in(client, idp, email=email, account=number)
        assert landed.location == "/unavailable"
        status_page = client.get("/unavailable").get_data(as_text=True)
        assert MESSAGE in status_page and "down for maintenance" in status_page
        for path in pages:
            body = client.get(path).get_data(as_text=True)
            assert "OPS-4711" not in body and REASON not in body, path


def test_console_previews_maintenance_then_confirms_with_the_customer_message(
    it_client: FlaskClient, dbs: Session, store: Store, world: World
) -> None:
    only_new(dbs, world)
    new_line(dbs, store)
    dashboard = it_client.get("/it/").get_data(as_text=True)
    assert 'name="customer_message"' in dashboard and "Preview maintenance" in dashboard
    form = {"down": "on", "reason": REASON, "customer_message": MESSAGE}
    page = console_post(it_client, "/it/systems/new/maintenance/preview", form)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and load_routing_config(dbs, store, 0).down_systems == set()
    assert '<p id="maintenance-status-page">100005</p>' in html
    assert '<p id="maintenance-rerouted">100001, 100003</p>' in html
    assert f'<q id="maintenance-customer-message">{MESSAGE}</q>' in html
    confirm = {**form, "expected_maintenance": hidden(html, "expected_maintenance")}
    reply = console_post(it_client, "/it/systems/new/maintenance", confirm)
    assert reply.status_code == 302 and reply.location == "/it/"
    dbs.expire_all()
    assert load_routing_config(dbs, store, 0).systems["new"].customer_message == MESSAGE
    stale = console_post(it_client, "/it/systems/new/maintenance", confirm)
    assert stale.status_code == 302
    assert "changed since your preview" in it_client.get("/it/").get_data(as_text=True)
    unpreviewed = console_post(
        it_client, "/it/systems/legacy/maintenance", {"down": "on", "reason": "x"}
    )
    assert unpreviewed.status_code == 302
    dbs.expire_all()
    assert load_routing_config(dbs, store, 0).systems["legacy"].maintenance is False


def test_api_previews_and_switches_with_a_customer_message(
    client: FlaskClient, dbs: Session, store: Store, world: World, token_for: Callable[..., str]
) -> None:
    only_new(dbs, world)
    new_line(dbs, store)
    auth = bearer(token_for("rollout:read", "rollout:write"))
    path = "/api/v1/systems/new/maintenance"
    result = client.post(f"{path}/preview", json={"down": True}, headers=auth).get_json()
    assert result["status_page"] == {"accounts": 1, "users": 1, "account_numbers": ["100005"]}
    assert result["rerouted"]["account_numbers"] == ["100001", "100003"]
    assert result["maintenance_before"] is False
    body = {"down": True, "reason": REASON, "customer_message": MESSAGE}
    switched = client.post(
        path, json={**body, "expected_maintenance": result["maintenance_before"]}, headers=auth
    )
    assert switched.status_code == 200
    assert switched.get_json()["audit_event"]["after"]["customer_message"] == MESSAGE
    stale = client.post(path, json={**body, "expected_maintenance": False}, headers=auth)
    assert stale.status_code == 409 and stale.mimetype == "application/problem+json"
    bad = client.post(path, json={**body, "customer_message": 7}, headers=auth)
    assert bad.status_code == 422 and "customer_message" in bad.get_json()["detail"]


def test_cli_previews_maintenance_and_changes_nothing_with_preview(
    dbs: Session,
    store: Store,
    world: World,
    gateway_env: dict[str, str],  # noqa: F811
) -> None:
    only_new(dbs, world)
    new_line(dbs, store)
    args = ["system", "maintenance", "new", "on", "--reason", REASON, "--message", MESSAGE]
    dry = CliRunner().invoke(main, [*args, "--preview"], env=gateway_env)
    assert dry.exit_code == 0, dry.output
    assert "status page: 100005" in dry.output
    assert "sent to another system: 100001, 100003" in dry.output
    assert load_routing_config(dbs, store, 0).down_systems == set()
    done = CliRunner().invoke(main, [*args, "--yes"], env=gateway_env)
    assert done.exit_code == 0 and done.output.endswith("new: maintenance on\n")
    dbs.expire_all()
    status = load_routing_config(dbs, store, 0).systems["new"]
    assert (status.maintenance, status.customer_message) == (True, MESSAGE)


def test_an_account_already_missing_a_line_is_not_counted_as_losing_one() -> None:
    from gateway.routing.decision import LineTrace
    from gateway.systems.service import PARTLY, _groups_of

    def traces(**systems: str) -> tuple[LineTrace, ...]:
        return tuple(LineTrace(code, "legacy", system, "") for code, system in systems.items())

    # NET is on legacy, whose probe fails already; CAD on new, which stays up.
    already = traces(NET="legacy", CAD="new")
    down_before, down_after = frozenset({"legacy"}), frozenset({"legacy"})
    assert PARTLY not in _groups_of(already, already, (down_before, down_after))
    # Switching new off as well now strands CAD too: that is news (the status page).
    assert PARTLY not in _groups_of(already, already, (down_before, frozenset({"legacy", "new"})))
    # An account whose CAD was reachable and now is not, with NET still up, loses a line.
    healthy = traces(NET="legacy", CAD="new")
    assert PARTLY in _groups_of(healthy, healthy, (frozenset(), frozenset({"new"})))
