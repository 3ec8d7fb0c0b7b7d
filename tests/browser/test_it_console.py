"""IT in a real browser: sign in with the IT group, move a line to a 25 % rollout with a
reason, read the preview, confirm, and see the dashboard change; a refused value keeps
what was typed; sending accounts back to legacy needs the tick; maintenance is previewed
with its customer message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.devidp.servers import RunningDemo

pytestmark = pytest.mark.browser


def test_it_moves_a_line_to_rollout_with_preview_and_sees_the_dashboard_update(
    page: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{demo.gateway_url}/it/")
    page.locator('button[data-email="it@vendor.example"]').click()
    page.wait_for_url(f"{demo.gateway_url}/it/")
    row = page.locator('tr[data-line="NETGUARD"]')
    expect(row.locator(".state")).to_have_text("legacy")
    page.screenshot(path=tmp_path / "1-dashboard.png", full_page=True)

    row.get_by_role("link").click()
    page.get_by_label("New state").select_option("rollout")
    page.get_by_label("Rollout percentage (for rollout; up to two decimals)").fill("25")
    page.locator("#change-reason").fill("Wave 1: a quarter of NetGuard customers")
    page.get_by_role("button", name="Preview change").click()

    summary = page.locator("#preview-summary")
    expect(summary).to_contain_text("This change")
    page.screenshot(path=tmp_path / "2-preview.png", full_page=True)
    page.get_by_role("button", name="Confirm change").click()

    page.wait_for_url(f"{demo.gateway_url}/it/")
    expect(page.locator(".flash-info")).to_contain_text("NETGUARD is now rollout at 25.00%")
    expect(page.locator('tr[data-line="NETGUARD"] .state')).to_have_text("rollout 25.00 %")
    page.screenshot(path=tmp_path / "3-dashboard-after.png", full_page=True)
    page.goto(f"{demo.gateway_url}/it/audit")
    expect(page.locator("table.audit")).to_contain_text("Wave 1: a quarter of NetGuard customers")
    assert page.context.cookies()  # signed in throughout, via the same SSO as customers


def _sign_in_as_it(page: Any, demo: RunningDemo) -> None:
    page.goto(f"{demo.gateway_url}/it/")
    page.locator('button[data-email="it@vendor.example"]').click()
    page.wait_for_url(f"{demo.gateway_url}/it/")


def test_a_refused_percent_keeps_the_typed_values_on_the_line_page(
    page: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _sign_in_as_it(page, demo)
    page.goto(f"{demo.gateway_url}/it/lines/ANALYTICS")
    page.get_by_label("New state").select_option("rollout")
    page.get_by_label("Rollout percentage (for rollout; up to two decimals)").fill("150")
    page.locator("#change-reason").fill("Too many")
    page.get_by_role("button", name="Preview change").click()
    expect(page.locator("#refused")).to_contain_text("must be a number from 0 to 100")
    assert page.url == f"{demo.gateway_url}/it/lines/ANALYTICS/preview"
    expect(page.locator("#percent")).to_have_value("150")
    expect(page.locator("#change-reason")).to_have_value("Too many")
    expect(page.locator("#state")).to_have_value("rollout")
    page.screenshot(path=tmp_path / "refused.png", full_page=True)


def test_sending_accounts_back_to_legacy_needs_the_tick(
    page: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _sign_in_as_it(page, demo)
    page.goto(f"{demo.gateway_url}/it/lines/CLOUDVAULT")
    page.get_by_label("New state").select_option("rollout")
    page.get_by_label("Rollout percentage (for rollout; up to two decimals)").fill("0")
    page.locator("#change-reason").fill("Back out CloudVault")
    page.get_by_role("button", name="Preview change").click()
    warning = page.locator("#back-to-legacy")
    expect(warning).to_contain_text("back from new to legacy")
    page.screenshot(path=tmp_path / "warning.png", full_page=True)
    page.get_by_role("button", name="Confirm change").click()  # the browser asks for the tick
    expect(warning).to_be_visible()
    page.get_by_label("Yes, send these").check()
    page.get_by_role("button", name="Confirm change").click()
    page.wait_for_url(f"{demo.gateway_url}/it/")
    expect(page.locator('tr[data-line="CLOUDVAULT"] .state')).to_have_text("rollout 0.00 %")


def test_maintenance_is_previewed_with_its_customer_message(
    page: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _sign_in_as_it(page, demo)
    page.locator("#maintenance-reason-legacy").fill("INTERNAL: storage swap OPS-9")
    page.locator("#maintenance-message-legacy").fill("Back at 14:00 UTC.")
    page.locator("#maintenance-reason-legacy").locator("xpath=..").get_by_role(
        "button", name="Preview maintenance"
    ).click()
    expect(page.locator("#maintenance-summary")).to_contain_text("Maintenance on for legacy")
    expect(page.locator("#maintenance-customer-message")).to_have_text("Back at 14:00 UTC.")
    page.screenshot(path=tmp_path / "maintenance-preview.png", full_page=True)
    page.get_by_role("button", name="Confirm maintenance").click()
    page.wait_for_url(f"{demo.gateway_url}/it/")
    expect(page.locator(".flash-info")).to_contain_text("legacy is down for maintenance")
    expect(page.get_by_text("Customers read: Back at 14:00 UTC.")).to_be_visible()
