"""An org admin runs their organisation in a real browser, on the demo: Erin (Initech's
admin) invites a newcomer with downloads only; the invitation arrives in the demo's
mailbox; the newcomer accepts it through the portal's sign-in and is routed with that
permission into a license center; Erin deactivates them, and their license-center
session ends (back-channel logout) while their gateway session is gone too."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.devidp.servers import RunningDemo

pytestmark = pytest.mark.browser

ADMIN = "erin@initech.example"
NEWCOMER = "nina.new@initech.example"
WAIT_SECONDS = 15.0


@pytest.fixture
def second_page(browser: Any) -> Iterator[Any]:
    """The newcomer's own browser (another cookie jar)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for something the demo's background work does (the mail job, the
    back-channel's delivery), bounded."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"still not: {what}"
        time.sleep(0.1)


def test_an_admin_invites_a_newcomer_who_accepts_and_is_later_deactivated(
    page: Any, second_page: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    # Erin signs in and opens her organisation from the header link.
    page.goto(f"{demo.gateway_url}/")
    page.locator(f'button[data-email="{ADMIN}"]').click()
    page.wait_for_url(f"{demo.gateway_url}/choose")
    page.get_by_role("link", name="Your organisation").click()
    page.wait_for_url(f"{demo.gateway_url}/org/")
    expect(page.locator("table.people")).to_contain_text("dave@initech.example")

    # She invites the newcomer with downloads only.
    page.get_by_role("link", name="Invitations").click()
    page.get_by_label("Email address").fill(NEWCOMER)
    for name in ("portal", "licensing", "admin"):
        page.locator(f'input[name="permissions"][value="{name}"]').uncheck()
    page.locator('input[name="permissions"][value="downloads"]').check()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(f'tr:has-text("{NEWCOMER}")')).to_contain_text("pending")
    page.screenshot(path=tmp_path / "1-invited.png", full_page=True)

    # The demo's mail job (every two seconds) delivers it to the demo's mailbox.
    def mail_arrived() -> bool:
        page.goto(f"{demo.gateway_url}/dev-idp/mail")
        return page.locator('a[href*="/org/invitations/"]').count() > 0

    until(mail_arrived, "the invitation arrived in the mailbox")
    link = page.locator('a[href*="/org/invitations/"]').first
    invitation_url = link.get_attribute("href")
    assert invitation_url

    # The newcomer opens it in their own browser: sign-in first, then Accept.
    second_page.goto(invitation_url)
    second_page.get_by_label("Email").fill(NEWCOMER)
    second_page.get_by_label("Organisation").select_option("100300")
    second_page.get_by_role("button", name="Sign in as this person").click()
    expect(second_page.get_by_role("button", name="Accept")).to_be_visible()
    expect(second_page.locator("main")).to_contain_text("downloads")
    second_page.screenshot(path=tmp_path / "2-accept.png", full_page=True)
    second_page.get_by_role("button", name="Accept").click()

    # Routed with downloads only: Initech holds lines on both systems, so a choice.
    second_page.wait_for_url(f"{demo.gateway_url}/choose")
    second_page.get_by_role("radio", name="Legacy license center").check()
    second_page.get_by_role("button", name="Continue").click()
    second_page.wait_for_url(f"{demo.legacy_url}/start")
    expect(second_page.locator("#signed-in-email")).to_have_text(NEWCOMER)
    expect(second_page.locator("#claim-permissions")).to_have_text("downloads")
    second_page.screenshot(path=tmp_path / "3-license-center.png", full_page=True)

    # Erin sees the newcomer joined by invitation, and deactivates them.
    page.goto(f"{demo.gateway_url}/org/?q=nina")
    row = page.locator(f'tr:has-text("{NEWCOMER}")')
    expect(row).to_contain_text("invitation")
    expect(row).to_contain_text("downloads")
    row.get_by_role("link").click()
    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator(".flash")).to_contain_text("deactivated")
    page.screenshot(path=tmp_path / "4-deactivated.png", full_page=True)

    # The license center heard it: the newcomer's session there is over.
    def signed_out_at_the_center() -> bool:
        second_page.goto(f"{demo.legacy_url}/")
        return second_page.locator("#nobody").count() > 0

    until(signed_out_at_the_center, "the license center ended the newcomer's session")
    # And the gateway does not know them as signed in any more: back to the portal.
    second_page.goto(f"{demo.gateway_url}/route")
    expect(
        second_page.get_by_role("heading", name="Community portal (development IdP)")
    ).to_be_visible()

    # The organisation's audit log tells the story.
    page.get_by_role("link", name="Audit log").click()
    log = page.locator("table.audit")
    for action in ("invitation.created", "invitation.accepted", "user.deactivated"):
        expect(log).to_contain_text(action)


@pytest.mark.parametrize("path", ["/org/", "/org/invitations", "/org/audit", "/org/tokens"])
def test_the_console_fits_a_phone(browser: Any, demo: RunningDemo, path: str) -> None:
    """At 390 px nothing overflows sideways, and the buttons are big enough to touch."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    phone.set_default_timeout(15_000)
    try:
        phone.goto(f"{demo.gateway_url}/")
        phone.locator(f'button[data-email="{ADMIN}"]').click()
        phone.wait_for_url(f"{demo.gateway_url}/choose")
        phone.goto(f"{demo.gateway_url}{path}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide"
        for button in phone.locator("main button:visible").all():
            box = button.bounding_box()
            assert box is not None and box["height"] >= 44, (path, button.inner_text(), box)
    finally:
        context.close()
