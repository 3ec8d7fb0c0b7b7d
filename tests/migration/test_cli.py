"""`gateway product-line …`, `gateway system …` and `gateway api-token …` against the
test database: a whole migration, each step previewed and audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.api_tokens import token_hash
from gateway.core.derived_keys import derive_key
from gateway.core.models import ApiToken, AuditEvent, ProductLine
from tests.conftest import SECRET
from tests.world import World


@pytest.fixture
def gateway_env(database_url: str, redis_url: str | None, saml_dir: Path) -> dict[str, str]:
    env = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_SAML_DIR": str(saml_dir),
        "GATEWAY_LOG_LEVEL": "ERROR",
        "GATEWAY_SCHEDULER_ENABLED": "false",
    }
    if redis_url:
        env["GATEWAY_REDIS_URL"] = redis_url
    return env


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


def state(dbs: Session) -> tuple[str, str]:
    dbs.expire_all()
    line = dbs.scalars(select(ProductLine).where(ProductLine.code == "NET")).one()
    return line.state, str(line.rollout_percent)


def test_whole_migration_from_the_command_line(
    dbs: Session, world: World, gateway_env: dict[str, str]
) -> None:
    env = gateway_env
    pilot = run(env, "product-line", "pilot", "NET", "add", "100001", "--reason", "first", "--yes")
    assert pilot.exit_code == 0, pilot.output
    assert "NET: add 100001 to the pilot" in pilot.output
    steps = [("pilot",), ("rollout", "--percent", "25"), ("new",)]
    for step in steps:
        result = run(
            env,
            "product-line",
            "set-state",
            "NET",
            *step,
            "--reason",
            "go",
            "--actor",
            "ops@vendor.example",
            stdin="y\n",
        )
        assert result.exit_code == 0, result.output
        assert "This change moves" in result.output
    assert state(dbs) == ("new", "25.00")
    back = run(env, "product-line", "rollback", "NET", "--reason", "incident", "--yes")
    assert back.exit_code == 0 and state(dbs)[0] == "legacy"
    actions = list(dbs.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["product_line.pilot"] + ["product_line.change"] * 3 + [
        "product_line.rollback"
    ]
    assert "NET              legacy" in run(env, "product-line", "list").output


def test_declining_the_confirmation_changes_nothing(
    dbs: Session, world: World, gateway_env: dict[str, str]
) -> None:
    result = run(
        gateway_env, "product-line", "set-state", "NET", "new", "--reason", "x", stdin="n\n"
    )
    assert result.exit_code == 1 and "moves 2 accounts" in result.output
    assert state(dbs)[0] == "legacy"


def test_errors_are_one_line(dbs: Session, world: World, gateway_env: dict[str, str]) -> None:
    result = run(
        gateway_env,
        "product-line",
        "set-state",
        "NET",
        "rollout",
        "--percent",
        "300",
        "--reason",
        "x",
        "--yes",
    )
    assert result.exit_code == 1 and "from 0 to 100" in result.output


def test_schedule_list_cancel_and_run_due(
    dbs: Session, world: World, gateway_env: dict[str, str]
) -> None:
    made = run(
        gateway_env,
        "product-line",
        "schedule",
        "NET",
        "new",
        "--at",
        "2099-01-15T06:00",
        "--reason",
        "window",
    )
    assert made.exit_code == 0 and "at 2099-01-15 06:00 UTC" in made.output
    listed = run(gateway_env, "product-line", "scheduled").output
    change_id = listed.split()[0]
    assert "NET -> new" in listed
    assert run(gateway_env, "product-line", "run-due").output == "applied 0 scheduled change(s)\n"
    cancelled = run(gateway_env, "product-line", "cancel", change_id, "--reason", "moved")
    assert cancelled.exit_code == 0 and run(gateway_env, "product-line", "scheduled").output == ""


def test_override_who_and_maintenance(
    dbs: Session, world: World, gateway_env: dict[str, str]
) -> None:
    override = run(
        gateway_env,
        "product-line",
        "override",
        "NET",
        "100002",
        "new",
        "--reason",
        "early",
        "--expires",
        "2099-01-01T00:00",
        stdin="y\n",
    )
    assert override.exit_code == 0, override.output
    assert "1 accounts wait for data in the new system: 100002" in override.output
    who = run(gateway_env, "product-line", "who", "wes@waiting.example")
    assert '"override": "new"' in who.output and '"gate": "readiness"' in who.output
    down = run(gateway_env, "system", "maintenance", "new", "on", "--reason", "upgrade", "--yes")
    assert down.exit_code == 0 and down.output.endswith("new: maintenance on\n"), down.output


def test_pilot_and_override_previews_change_nothing_until_confirmed(
    dbs: Session, world: World, gateway_env: dict[str, str]
) -> None:
    env = gateway_env
    assert (
        run(env, "product-line", "set-state", "NET", "pilot", "--reason", "p", "--yes").exit_code
        == 0
    )
    dry = run(
        env, "product-line", "pilot", "NET", "add", "100001", "100003", "--reason", "w", "--preview"
    )
    assert dry.exit_code == 0, dry.output
    assert "moves 2 accounts, 3 users and 3 entitlements from legacy to new" in dry.output
    assert "legacy -> new: 100001, 100003" in dry.output
    assert "Will see the choice page: 100003" in dry.output
    declined = run(
        env, "product-line", "pilot", "NET", "add", "100001", "--reason", "w", stdin="n\n"
    )
    assert declined.exit_code == 1 and "moves 1 accounts" in declined.output
    override = run(
        env, "product-line", "override", "NET", "100001", "new", "--reason", "o", "--yes"
    )
    assert override.exit_code == 0, override.output
    back = run(
        env, "product-line", "override", "NET", "100001", "none", "--reason", "o", "--preview"
    )
    assert "remove the override sending 100001 to new" in back.output
    assert "legacy -> new" not in back.output and "new -> legacy: 100001" in back.output
    refused = run(
        env, "product-line", "override", "NET", "100001", "none", "--reason", "o", "--yes"
    )
    assert refused.exit_code == 1 and "--confirm-back-to-legacy" in refused.output
    removed = run(
        env,
        "product-line",
        "override",
        "NET",
        "100001",
        "none",
        "--reason",
        "o",
        "--yes",
        "--confirm-back-to-legacy",
    )
    assert removed.exit_code == 0 and "override for 100001 removed" in removed.output
    actions = list(dbs.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == [
        "product_line.change",
        "product_line.override",
        "product_line.override_removed",
    ]


def test_api_token_is_shown_once_and_stored_as_a_hash(
    dbs: Session, world: World, gateway_env: dict[str, str]
) -> None:
    created = run(
        gateway_env,
        "api-token",
        "create",
        "--name",
        "pipeline",
        "--scope",
        "rollout:read",
        "--scope",
        "rollout:write",
    )
    secret = created.stdout.strip()
    assert created.exit_code == 0 and secret.startswith("sy_")
    row = dbs.scalars(select(ApiToken)).one()
    assert row.token_hash == token_hash(secret, derive_key(SECRET, "api-token"))
    assert row.scopes == "rollout:read rollout:write"
    assert run(gateway_env, "api-token", "revoke", "pipeline").exit_code == 0
    assert "revoked" in run(gateway_env, "api-token", "list").output
