"""A change that sends accounts from new back to legacy: shown as its own warning, and
refused by the service, the console, the API and the CLI without explicit confirmation;
a pilot line moving on to rollout keeps its pilot accounts on new."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.models import AuditEvent, ScheduledChange
from gateway.core.store import Store
from gateway.migration import proposals, scheduler, service
from gateway.migration.errors import BackToLegacyUnconfirmed
from gateway.migration.guard import ReturnCheck
from gateway.routing.config import load_routing_config
from gateway.routing.preview import Preview, preview_change
from tests.it_console import ACTOR, NOW, bearer, console_post
from tests.migration.test_cli import gateway_env, state  # noqa: F401 - fixture
from tests.migration.test_console import confirm_form, net_state
from tests.world import World

# 100001 (NET on both systems) sits in bucket 8472: outside any rollout below 84.73 %.
PILOT = "100001"


def pilot_line(dbs: Session, store: Store) -> None:
    """NET in pilot with 100001 on new."""
    service.set_pilot_accounts(
        dbs, store, "NET", add=[PILOT], remove=[], reason="pilot", actor=ACTOR, now=NOW
    )
    service.change_state(dbs, store, "NET", "pilot", None, reason="pilot", actor=ACTOR, now=NOW)


def rollout_line(dbs: Session, store: Store, percent: str) -> None:
    """NET in rollout at `percent`: at 100, 100001 and 100003 (both hold NET) are on new."""
    service.change_state(dbs, store, "NET", "rollout", percent, reason="r", actor=ACTOR, now=NOW)


def state_preview(dbs: Session, store: Store, state_name: str, percent: str) -> Preview:
    config = load_routing_config(dbs, store, 0)
    proposed = proposals.state_proposal(config.lines["NET"], state_name, Decimal(percent))
    return preview_change(dbs, config, proposed, today=NOW.date(), grace_days=0, now=NOW)


def events(dbs: Session) -> int:
    return dbs.scalar(select(func.count(AuditEvent.id))) or 0


def test_moving_a_pilot_line_to_rollout_keeps_its_pilot_accounts_on_new(
    dbs: Session, store: Store, world: World
) -> None:
    pilot_line(dbs, store)
    preview = state_preview(dbs, store, "rollout", "25")
    assert preview.back_to_legacy is None and preview.warning == ""
    assert "from new to legacy" not in preview.summary
    rollout_line(dbs, store, "25")  # no confirmation needed: nobody goes back
    assert load_routing_config(dbs, store, 0).lines["NET"].state == "rollout"


def test_lowering_the_percent_is_a_distinct_warning_and_refused_unconfirmed(
    dbs: Session, store: Store, world: World
) -> None:
    rollout_line(dbs, store, "100")
    preview = state_preview(dbs, store, "rollout", "50")
    back = preview.back_to_legacy
    assert back is not None and back.account_numbers == ("100001",)  # 100003 (bucket 1647) stays
    assert preview.warning == "1 accounts (2 users) go from new back to legacy: 100001."
    before = events(dbs)
    with pytest.raises(BackToLegacyUnconfirmed, match="1 accounts") as refused:
        rollout_line(dbs, store, "50")
    assert (refused.value.accounts, refused.value.account_numbers) == (1, ("100001",))
    dbs.rollback()
    assert events(dbs) == before and state(dbs) == ("rollout", "100.00")
    service.change_state(
        dbs,
        store,
        "NET",
        "rollout",
        "50",
        reason="r",
        actor=ACTOR,
        now=NOW,
        back_to_legacy=ReturnCheck(confirmed=True),
    )
    assert state(dbs) == ("rollout", "50.00")


@pytest.mark.parametrize("change", ["raise", "new", "rollback"])
def test_changes_that_move_nobody_back_or_roll_back_need_no_confirmation(
    dbs: Session, store: Store, world: World, change: str
) -> None:
    rollout_line(dbs, store, "20")
    apply: Callable[[], object] = {
        "raise": lambda: rollout_line(dbs, store, "90"),
        "new": lambda: service.change_state(
            dbs, store, "NET", "new", None, reason="r", actor=ACTOR, now=NOW
        ),
        "rollback": lambda: service.rollback(dbs, store, "NET", reason="r", actor=ACTOR, now=NOW),
    }[change]
    apply()
    assert state(dbs)[0] == {"raise": "rollout", "new": "new", "rollback": "legacy"}[change]


def test_taking_an_account_off_a_running_pilot_needs_confirmation(
    dbs: Session, store: Store, world: World
) -> None:
    pilot_line(dbs, store)
    with pytest.raises(BackToLegacyUnconfirmed):
        service.set_pilot_accounts(
            dbs, store, "NET", add=[], remove=[PILOT], reason="off", actor=ACTOR, now=NOW
        )
    dbs.rollback()
    assert load_routing_config(dbs, store, 0).lines["NET"].pilot_accounts == {PILOT}


def test_console_shows_the_warning_and_refuses_without_the_tick(
    it_client: FlaskClient, dbs: Session, store: Store
) -> None:
    rollout_line(dbs, store, "100")
    page = console_post(
        it_client,
        "/it/lines/NET/preview",
        {"action": "change", "state": "rollout", "percent": "50", "reason": "fewer"},
    ).get_data(as_text=True)
    warning = page.split('id="back-to-legacy"', 1)[1].split("</section>", 1)[0]
    assert "Sends 1 accounts back from new to legacy" in warning and "100001" in warning
    assert 'name="confirm_back_to_legacy" value="yes" required' in page
    action, fields = confirm_form(page)
    unticked = console_post(it_client, action, fields)
    assert unticked.status_code == 302 and unticked.location == "/it/lines/NET"
    assert "1 accounts (2 users) go from new back to legacy" in it_client.get(
        "/it/lines/NET"
    ).get_data(as_text=True)
    assert net_state(dbs) == ("rollout", "100.00")
    ticked = console_post(it_client, action, {**fields, "confirm_back_to_legacy": "yes"})
    assert ticked.status_code == 302 and net_state(dbs) == ("rollout", "50.00")


def test_a_rollback_preview_has_no_confirmation_box(
    it_client: FlaskClient, dbs: Session, store: Store
) -> None:
    rollout_line(dbs, store, "100")
    page = console_post(
        it_client, "/it/lines/NET/preview", {"action": "rollback", "reason": "incident"}
    ).get_data(as_text=True)
    assert "from new to legacy" in page and "confirm_back_to_legacy" not in page


def test_api_answers_409_problem_json_with_the_count_until_confirmed(
    client: FlaskClient, dbs: Session, store: Store, world: World, token_for: Callable[..., str]
) -> None:
    rollout_line(dbs, store, "100")
    auth = bearer(token_for("rollout:read", "rollout:write"))
    path = "/api/v1/product-lines/NET"
    preview = client.post(
        f"{path}/preview", json={"state": "rollout", "percent": 50}, headers=auth
    ).get_json()
    assert preview["back_to_legacy"]["accounts"] == 1
    assert preview["back_to_legacy"]["account_numbers"] == ["100001"]
    body = {"state": "rollout", "percent": 50, "reason": "fewer"}
    refused = client.post(f"{path}/state", json=body, headers=auth)
    problem = refused.get_json()
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert problem["back_to_legacy"] == {"accounts": 1, "users": 2, "account_numbers": ["100001"]}
    assert problem["confirm_field"] == "confirm_back_to_legacy"
    assert "1 accounts (2 users) go from new back to legacy" in problem["detail"]
    assert state(dbs) == ("rollout", "100.00")
    confirmed = {**body, "confirm_back_to_legacy": True}
    assert client.post(f"{path}/state", json=confirmed, headers=auth).status_code == 200
    assert state(dbs) == ("rollout", "50.00")
    assert (
        client.post(
            "/api/v1/product-lines/NET/preview",
            json={"state": "rollout", "percent": 20},
            headers=auth,
        ).get_json()["back_to_legacy"]
        is None
    )


def test_cli_refuses_without_the_flag_and_names_the_count(
    dbs: Session,
    store: Store,
    world: World,
    gateway_env: dict[str, str],  # noqa: F811
) -> None:
    rollout_line(dbs, store, "100")
    args = ["product-line", "set-state", "NET", "rollout", "--percent", "50", "--reason", "x"]
    refused = CliRunner().invoke(main, [*args, "--yes"], env=gateway_env)
    assert refused.exit_code == 1
    assert "WARNING: 1 accounts (2 users) go from new back to legacy: 100001." in refused.output
    assert "add --confirm-back-to-legacy" in refused.output
    assert state(dbs) == ("rollout", "100.00")
    done = CliRunner().invoke(main, [*args, "--yes", "--confirm-back-to-legacy"], env=gateway_env)
    assert done.exit_code == 0, done.output
    assert state(dbs) == ("rollout", "50.00")


def test_scheduling_a_move_back_needs_the_confirmation_up_front(
    it_client: FlaskClient,
    client: FlaskClient,
    dbs: Session,
    store: Store,
    token_for: Callable[..., str],
) -> None:
    rollout_line(dbs, store, "100")
    form = {"state": "rollout", "percent": "50", "run_at": "2099-01-15T06:00"}
    refused = console_post(it_client, "/it/lines/NET/schedule", {**form, "reason": "fewer"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "go from new back to legacy: 100001" in page
    assert 'value="2099-01-15T06:00"' in page  # the form is kept for the second try
    auth = bearer(token_for("rollout:write"))
    body = {"product_line": "NET", "state": "rollout", "percent": 50, "reason": "x"}
    body["run_at"] = "2099-01-15T06:00Z"
    api = client.post("/api/v1/scheduled-changes", json=body, headers=auth)
    assert api.status_code == 409 and api.get_json()["back_to_legacy"]["accounts"] == 1
    assert dbs.scalars(select(ScheduledChange)).all() == []
    ticked = {**form, "reason": "fewer", "confirm_back_to_legacy": "yes"}
    assert console_post(it_client, "/it/lines/NET/schedule", ticked).status_code == 302
    confirmed = client.post(
        "/api/v1/scheduled-changes", json={**body, "confirm_back_to_legacy": True}, headers=auth
    )
    assert confirmed.status_code == 201
    assert len(dbs.scalars(select(ScheduledChange)).all()) == 2


def test_a_scheduled_change_is_judged_again_when_it_runs(
    dbs: Session, store: Store, world: World
) -> None:
    # Scheduled while NET is on legacy: moving it to rollout at 50 % sends nobody back.
    run_at = NOW + timedelta(days=1)
    unconfirmed = scheduler.schedule_change(
        dbs, store, "NET", "rollout", "50", run_at=run_at, reason="wave", actor=ACTOR, now=NOW
    )
    confirmed = scheduler.schedule_change(
        dbs,
        store,
        "NET",
        "rollout",
        "50",
        run_at=run_at + timedelta(hours=1),
        reason="wave, confirmed",
        actor=ACTOR,
        now=NOW,
        back_to_legacy=ReturnCheck(confirmed=True),
    )
    # Meanwhile everyone moved to new: at run time 50 % would send 100001 back.
    rollout_line(dbs, store, "100")
    assert scheduler.apply_due_changes(dbs, store, now=run_at) == []
    dbs.expire_all()
    refused = dbs.get(ScheduledChange, unconfirmed.id)
    assert refused is not None and refused.status == "failed"
    assert "100001" in refused.outcome
    assert state(dbs) == ("rollout", "100.00")
    audit_actions = dbs.scalars(select(AuditEvent.action)).all()
    assert "schedule.refused" in audit_actions
    # The one IT confirmed when scheduling goes ahead.
    assert scheduler.apply_due_changes(dbs, store, now=run_at + timedelta(hours=1)) == [
        confirmed.id
    ]
    assert state(dbs) == ("rollout", "50.00")
