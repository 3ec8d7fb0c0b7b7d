"""A line that requires Salesforce's agreement: its readiness gate keeps an account on
legacy until the account's entitlements of the line in the new system agree with
Salesforce (the drift report's comparison). Seen in routing (sign-in included), in IT's
preview ("waiting for data"), behind the back-to-legacy guard; set from the console, the
API and the CLI, audited."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.core.models import Account, AuditEvent, Entitlement, ProductLine, User
from gateway.core.models.salesforce import SalesforceAsset
from gateway.core.settings import Settings
from gateway.migration import proposals, service
from gateway.migration.errors import BackToLegacyUnconfirmed
from gateway.migration.guard import ReturnCheck
from gateway.routing import service as routing
from gateway.routing.config import RoutingConfig
from gateway.routing.decision import NEW, WAITING_FOR_AGREEMENT, WAITING_FOR_DATA
from gateway.routing.service import today_utc
from tests import factories
from tests.conftest import BASE_URL
from tests.it_console import ACTOR, NOW, bearer, console_post, token_for
from tests.migration.test_cli import gateway_env, run
from tests.migration.test_console import preview_and_confirm
from tests.routing.conftest import config_now
from tests.salesforce.test_drift import asset, sf_account, synced
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

# Fixtures shared with other areas' tests.
__all__ = ["config_now", "gateway_env", "token_for"]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {}  # the synced tables are written directly; no stand-in Salesforce is needed


def mirror(db: Session, account: Account, line: ProductLine, **first_differs: Any) -> None:
    """Salesforce's assets for the account's entitlements of the line, field for field;
    `first_differs` changes the first of them."""
    owner = sf_account(db, account.account_number)
    rows = db.scalars(
        select(Entitlement)
        .where(Entitlement.account_id == account.id, Entitlement.product_line_id == line.id)
        .order_by(Entitlement.external_id)
    ).all()
    for n, row in enumerate(rows):
        fields: dict[str, Any] = {
            "quantity": row.quantity,
            "unit_of_measure": row.unit_of_measure,
            "install_date": row.start_date,
            "usage_end_date": row.end_date,
            "status": "Installed",
        }
        asset(db, owner, line.code, row.product, **{**fields, **(first_differs if n == 0 else {})})


@pytest.fixture
def net_on_new(dbs: Session, world: World) -> World:
    """NET has moved to new. Salesforce agrees with `ready` (100001); it counts 30 seats
    where `mixed` (100003) has 25; `waiting` (100002) has nothing of NET in new."""
    world.net.state = "new"
    dbs.commit()
    synced(dbs)
    mirror(dbs, world.ready, world.net)
    mirror(dbs, world.mixed, world.net, quantity=Decimal(30))
    mirror(dbs, world.waiting, world.net)
    return world


def require_agreement(db: Session, code: str = "NET", required: bool = True) -> None:
    db.execute(
        update(ProductLine)
        .where(ProductLine.code == code)
        .values(require_salesforce_agreement=required)
    )
    db.commit()


def line_trace(db: Session, config: RoutingConfig, email: str) -> tuple[str, str]:
    """Where routing sends the user's NET, and why (the rule over their real entitlements)."""
    user = db.scalar(select(User).where(User.email == email))
    assert user is not None
    inputs = routing.load_inputs(db, user, config)
    decision = routing.decide_for(
        inputs, Settings(), today=today_utc(), deep_link_system=None, remembered_system=None
    )
    [net] = [t for t in decision.trace if t.line_code == "NET"]
    return net.system, net.reason


def agreeing(app: Flask, db: Session, account_number: str | None) -> frozenset[str]:
    from gateway.core import hooks

    with app.app_context():
        return hooks.accounts_in_agreement(db, "NET", account_number)


def test_only_accounts_whose_new_data_matches_salesforce_agree(
    app: Flask, dbs: Session, net_on_new: World
) -> None:
    assert agreeing(app, dbs, None) == {"100001"}
    assert agreeing(app, dbs, "100001") == {"100001"}
    assert agreeing(app, dbs, "100003") == frozenset()  # 30 seats against 25
    assert agreeing(app, dbs, "100002") == frozenset()  # nothing of NET in new


def test_an_asset_matched_only_on_legacy_is_missing_from_new(
    app: Flask, dbs: Session, net_on_new: World
) -> None:
    """Agreement is about the new system: an entitlement only legacy holds neither spoils
    it nor stands in for an asset; one in new that Salesforce lacks disagrees."""
    world = net_on_new
    factories.entitlement(dbs, world.ready, world.net, [world.legacy], product="Legacy Only")
    assert agreeing(app, dbs, "100001") == {"100001"}  # not the new system's business
    owner = dbs.scalar(
        select(SalesforceAsset.sf_account_id).where(SalesforceAsset.product == "NET Server")
    )
    assert owner is not None
    asset(dbs, owner, "NET", "Legacy Only")  # Salesforce sells it; new does not hold it
    stray = factories.account(dbs, "100009")
    factories.entitlement(dbs, stray, world.net, [world.new])  # unknown to Salesforce
    assert agreeing(app, dbs, None) == frozenset()


def test_routing_waits_on_legacy_until_salesforce_agrees(
    app: Flask, dbs: Session, net_on_new: World, config_now: Callable[[], RoutingConfig]
) -> None:
    with app.app_context():
        assert line_trace(dbs, config_now(), "max@mixed.example")[0] == NEW  # not required
        require_agreement(dbs)
        config = config_now()
        assert line_trace(dbs, config, "max@mixed.example") == ("legacy", WAITING_FOR_AGREEMENT)
        assert line_trace(dbs, config, "pat@ready.example")[0] == NEW
        # No data in new is still the first reason to wait.
        assert line_trace(dbs, config, "wes@waiting.example") == ("legacy", WAITING_FOR_DATA)
        # Salesforce is corrected (the next sync): the account moves on its next request.
        dbs.execute(
            update(SalesforceAsset).where(SalesforceAsset.quantity == 30).values(quantity=25)
        )
        dbs.commit()
        assert line_trace(dbs, config, "max@mixed.example")[0] == NEW


def test_an_override_to_new_waits_for_agreement_too(
    app: Flask,
    dbs: Session,
    store: Any,
    net_on_new: World,
    config_now: Callable[[], RoutingConfig],
) -> None:
    with app.app_context():
        dbs.execute(update(ProductLine).where(ProductLine.code == "NET").values(state="legacy"))
        dbs.commit()
        service.set_override(
            dbs, store, "NET", "100003", "new", reason="early access", actor=ACTOR, now=NOW,
            back_to_legacy=ReturnCheck(confirmed=True),
        )  # fmt: skip
        require_agreement(dbs)
        assert line_trace(dbs, config_now(), "max@mixed.example") == (
            "legacy",
            WAITING_FOR_AGREEMENT,
        )


def test_a_sign_in_is_sent_to_legacy_while_salesforce_disagrees(
    app: Flask, dbs: Session, net_on_new: World, idp: PortalIdP
) -> None:
    from tests.conftest import https_client

    require_agreement(dbs)
    waiting = sign_in(https_client(app), idp, email="max@mixed.example", account="100003")
    agreed = sign_in(https_client(app), idp, email="pat@ready.example", account="100001")
    assert waiting.status_code == agreed.status_code == 302
    assert waiting.location.startswith(net_on_new.legacy.entry_url), waiting.location
    assert agreed.location.startswith(net_on_new.new.entry_url), agreed.location


def test_the_preview_lists_disagreeing_accounts_as_waiting_and_the_guard_asks(
    app: Flask, dbs: Session, store: Any, net_on_new: World
) -> None:
    with app.app_context():
        from gateway.routing.config import current_routing_config

        config = current_routing_config(dbs)
        proposed = proposals.agreement_proposal(config.lines["NET"], True)
        preview = service.preview_for(dbs, config, proposed)
        assert preview.changes == ("require Salesforce's agreement before accounts move to new",)
        assert preview.waiting_for_data == ("100002", "100003")
        back = preview.back_to_legacy
        assert back is not None and back.account_numbers == ("100003",)
        with pytest.raises(BackToLegacyUnconfirmed):
            service.set_salesforce_agreement(
                dbs, store, "NET", True, reason="wait for Salesforce", actor=ACTOR, now=NOW
            )
        dbs.rollback()
        assert not dbs.scalar(
            select(ProductLine).where(ProductLine.code == "NET")
        ).require_salesforce_agreement  # type: ignore[union-attr]
        service.set_salesforce_agreement(
            dbs, store, "NET", True, reason="wait for Salesforce", actor=ACTOR, now=NOW,
            revision=preview.revision, back_to_legacy=ReturnCheck(confirmed=True),
        )  # fmt: skip
        event = dbs.scalars(
            select(AuditEvent).where(AuditEvent.action == "product_line.salesforce_agreement")
        ).one()
        assert (event.before, event.after) == (
            {"require_salesforce_agreement": False},
            {"require_salesforce_agreement": True},
        )
        assert event.actor == ACTOR.name and event.reason == "wait for Salesforce"


def test_a_preview_computed_before_the_setting_changed_is_refused(
    app: Flask, dbs: Session, store: Any, net_on_new: World
) -> None:
    from gateway.core.errors import ConflictingChange
    from gateway.routing.config import load_line_config

    line = service.product_line(dbs, "NET")
    stale = load_line_config(dbs, line).revision
    require_agreement(dbs)
    with app.app_context(), pytest.raises(ConflictingChange):
        service.set_pilot_accounts(
            dbs, store, "NET", add=["100004"], remove=[], reason="late", actor=ACTOR, now=NOW,
            revision=stale,
        )  # fmt: skip


def test_it_sets_it_in_the_console_through_a_preview(
    it_client: FlaskClient, dbs: Session, net_on_new: World
) -> None:
    page = it_client.get("/it/lines/NET").get_data(as_text=True)
    assert "Salesforce agreement" in page and 'id="agreement-state">Not required' in page
    html = preview_and_confirm(
        it_client,
        "/it/lines/NET/agreement/preview",
        {"agreement": "required", "reason": "wait for Salesforce"},
        ticked={"confirm_back_to_legacy": "yes"},
    )
    assert "Waiting for data (2)" in html and "does not agree with Salesforce" in html
    assert 'id="back-to-legacy"' in html
    dbs.expire_all()
    line = dbs.scalar(select(ProductLine).where(ProductLine.code == "NET"))
    assert line is not None and line.require_salesforce_agreement
    assert 'id="agreement-state">Required' in it_client.get("/it/lines/NET").get_data(as_text=True)


@pytest.mark.parametrize("value", ["", "yes", "required "])
def test_the_console_refuses_an_unknown_choice_and_changes_nothing(
    value: str, it_client: FlaskClient, dbs: Session, net_on_new: World
) -> None:
    reply = console_post(
        it_client, "/it/lines/NET/agreement/preview", {"agreement": value, "reason": "x" * 8}
    )
    assert reply.status_code == 422
    assert "Choose whether the line requires" in reply.get_data(as_text=True)
    line = dbs.scalar(select(ProductLine).where(ProductLine.code == "NET"))
    assert line is not None and not line.require_salesforce_agreement


def test_the_confirm_form_needs_its_csrf_token(
    it_client: FlaskClient, dbs: Session, net_on_new: World
) -> None:
    reply = it_client.post(
        "/it/lines/NET/agreement",
        data={"agreement": "required", "reason": "no token here", "confirm_back_to_legacy": "yes"},
        headers={"Referer": f"{BASE_URL}/it/"},
    )
    assert reply.status_code == 400
    line = dbs.scalar(select(ProductLine).where(ProductLine.code == "NET"))
    assert line is not None and not line.require_salesforce_agreement


def test_the_api_previews_then_needs_the_back_to_legacy_confirmation(
    client: FlaskClient, dbs: Session, net_on_new: World, token_for: Callable[..., str]
) -> None:
    headers = bearer(token_for("rollout:read", "rollout:write"))
    path = "/api/v1/product-lines/NET/salesforce-agreement"
    preview = client.post(path + "/preview", json={"require": True}, headers=headers)
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    assert body["after"]["require_salesforce_agreement"] is True
    assert body["back_to_legacy"]["account_numbers"] == ["100003"]
    change = {
        "require": True,
        "reason": "wait for Salesforce",
        "expected_revision": body["revision"],
    }
    refused = client.put(path, json=change, headers=headers)
    assert refused.status_code == 409 and refused.content_type == "application/problem+json"
    assert client.get("/api/v1/product-lines/NET", headers=headers).get_json()[
        "require_salesforce_agreement"
    ] is False  # fmt: skip
    done = client.put(path, json={**change, "confirm_back_to_legacy": True}, headers=headers)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["audit_event"]["action"] == "product_line.salesforce_agreement"
    line = client.get("/api/v1/product-lines/NET", headers=headers).get_json()
    assert line["require_salesforce_agreement"] is True and line["revision"] != body["revision"]


@pytest.mark.parametrize("body", [{}, {"require": "yes"}, {"require": True, "reason": ""}])
def test_the_api_refuses_a_malformed_body_with_a_problem(
    body: dict[str, Any], client: FlaskClient, net_on_new: World, token_for: Callable[..., str]
) -> None:
    reply = client.put(
        "/api/v1/product-lines/NET/salesforce-agreement",
        json=body,
        headers=bearer(token_for("rollout:write")),
    )
    assert reply.status_code in (400, 422) and reply.content_type == "application/problem+json"


def test_the_cli_previews_and_sets_it(
    dbs: Session, net_on_new: World, gateway_env: dict[str, str]
) -> None:
    args = ["product-line", "salesforce-agreement", "NET", "required", "--reason", "wait for SF"]
    shown = run(gateway_env, *args, "--preview")
    assert shown.exit_code == 0, shown.output
    assert "100003" in shown.output
    refused = run(gateway_env, *args, "--yes")
    assert refused.exit_code != 0 and "back to legacy" in refused.output, refused.output
    dbs.expire_all()
    line = dbs.scalar(select(ProductLine).where(ProductLine.code == "NET"))
    assert line is not None and not line.require_salesforce_agreement
    done = run(gateway_env, *args, "--yes", "--confirm-back-to-legacy")
    assert done.exit_code == 0, done.output
    assert "required before accounts move to new" in done.output
    dbs.expire_all()
    line = dbs.scalar(select(ProductLine).where(ProductLine.code == "NET"))
    assert line is not None and line.require_salesforce_agreement
