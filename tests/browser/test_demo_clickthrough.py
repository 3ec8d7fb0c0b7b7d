"""The demo in a real browser: gateway → development IdP → (choice) → license center,
which signs the user in through Switchyard with the OpenID Connect code flow.

Drives Debian's chromium through Playwright against the demo servers started
in-process on free ports, exactly as `gateway demo` runs them. Screenshots of
each step land in the test's temporary folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.devidp.servers import RunningDemo

pytestmark = pytest.mark.browser


def sign_in_at_dev_idp(page: Any, demo: RunningDemo, email: str, shots: Path) -> None:
    """Open the gateway, which sends the browser to the development IdP; pick `email`."""
    from playwright.sync_api import expect

    page.goto(f"{demo.gateway_url}/")
    expect(page.get_by_role("heading", name="Community portal (development IdP)")).to_be_visible()
    page.screenshot(path=shots / "1-dev-idp.png", full_page=True)
    page.locator(f'button[data-email="{email}"]').click()


def assert_signed_in(
    page: Any, center_url: str, center_name: str, email: str, product_lines: str
) -> None:
    """Landed at the center's home page, signed in with verified claims from Switchyard."""
    from playwright.sync_api import expect

    page.wait_for_url(f"{center_url}/start")
    assert center_name in page.locator("h1").inner_text()
    expect(page.locator("#signed-in-email")).to_have_text(email)
    expect(page.locator("#claim-email")).to_have_text(email)
    expect(page.locator("#claim-product_lines")).to_have_text(product_lines)
    expect(page.locator("#claim-permissions")).to_have_text("downloads licensing portal")
    expect(page.locator("#verified")).to_contain_text("signature was verified")


def test_user_with_both_systems_chooses_and_arrives(
    page: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    email = "carol@initech.example"
    sign_in_at_dev_idp(page, demo, email, tmp_path)
    page.wait_for_url(f"{demo.gateway_url}/choose")
    page.screenshot(path=tmp_path / "2-choose.png", full_page=True)
    choice = page.locator("main").inner_text()
    assert "Legacy license center" in choice and "New license center" in choice
    for unit in ("seat", "endpoint"):
        assert unit in choice, choice
    assert any(str(year) in choice for year in range(2020, 2200)), choice  # expiry dates

    page.get_by_role("radio", name="New license center").check()
    page.get_by_role("button", name="Continue").click()
    assert_signed_in(page, demo.new_url, "New license center", email, "ENDPOINT")
    page.screenshot(path=tmp_path / "3-license-center.png", full_page=True)
    assert (tmp_path / "3-license-center.png").stat().st_size > 0


def test_legacy_only_user_goes_straight_to_the_legacy_center(
    page: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    email = "alice@acme.example"
    sign_in_at_dev_idp(page, demo, email, tmp_path)
    assert_signed_in(page, demo.legacy_url, "Legacy license center", email, "ANALYTICS NETGUARD")
    page.screenshot(path=tmp_path / "2-license-center.png", full_page=True)

    page.locator("#sign-out").click()
    page.wait_for_url(f"{demo.legacy_url}/signed-out")
    expect(page.locator("#nobody")).to_contain_text("You are signed out")
    page.goto(f"{demo.gateway_url}/")  # signed out at Switchyard too: back to the IdP
    expect(page.get_by_role("heading", name="Community portal (development IdP)")).to_be_visible()
