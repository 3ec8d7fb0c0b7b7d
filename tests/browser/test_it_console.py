"""IT in a real browser: sign in with the IT group, move a line to a 25 % rollout with a
reason, read the preview, confirm, and see the dashboard change."""

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
