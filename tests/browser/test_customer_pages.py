"""What customers see, in a real browser at phone width (390 px): the notice while a
license center is down, and the remembered choice with its forget button."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.core import db
from gateway.core.models import User
from gateway.core.models.base import utcnow
from gateway.core.store import get_store
from gateway.devidp.servers import RunningDemo
from gateway.systems import service as rollout

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
EMAIL = "carol@initech.example"  # NETGUARD on legacy, ENDPOINT on new
ACTOR = rollout.Actor("it@vendor.example")


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def maintenance(demo: RunningDemo, key: str, down: bool) -> None:
    app = demo.gateway_app
    with closing(db.new_session(app)) as session:
        rollout.set_maintenance(
            session, get_store(app), key, down, reason="upgrade", actor=ACTOR, now=utcnow()
        )


def remembered(demo: RunningDemo) -> str | None:
    with closing(db.new_session(demo.gateway_app)) as session:
        return session.scalar(select(User.remembered_system).where(User.email == EMAIL))


def sign_in(page: Any, demo: RunningDemo) -> None:
    page.goto(f"{demo.gateway_url}/")
    page.locator(f'button[data-email="{EMAIL}"]').click()


def fits_the_width(page: Any) -> bool:
    """Nothing sticks out sideways: the page scrolls only up and down."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_while_new_is_down_the_notice_names_what_is_unreachable_then_goes_on(
    phone: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    maintenance(demo, "new", True)
    try:
        sign_in(phone, demo)
        phone.wait_for_url(f"{demo.gateway_url}/notice")
        notice = phone.locator(".down-notice")
        expect(notice).to_contain_text("New license center is down for maintenance")
        expect(notice.locator("ul.unreachable")).to_contain_text("EndPoint Shield")
        expect(notice.locator("ul.unreachable")).to_contain_text("EndPoint Shield Advanced")
        expect(notice).not_to_contain_text("NetGuard")
        phone.screenshot(path=tmp_path / "notice-390.png", full_page=True)
        assert fits_the_width(phone)

        phone.get_by_role("button", name="Continue to Legacy license center").click()
        phone.wait_for_url(f"{demo.legacy_url}/start")
        expect(phone.locator("#signed-in-email")).to_have_text(EMAIL)
    finally:
        maintenance(demo, "new", False)


def test_the_remembered_choice_is_shown_and_forgotten_with_one_button(
    phone: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    sign_in(phone, demo)
    phone.wait_for_url(f"{demo.gateway_url}/choose")
    phone.get_by_role("radio", name="Legacy license center").check()
    phone.get_by_label("Remember my choice").check()
    phone.get_by_role("button", name="Continue").click()
    phone.wait_for_url(f"{demo.legacy_url}/start")
    assert remembered(demo) == "legacy"

    phone.goto(f"{demo.gateway_url}/choose")
    banner = phone.locator(".remembered-choice")
    expect(banner).to_contain_text("You chose to always go to Legacy license center")
    phone.screenshot(path=tmp_path / "remembered-390.png", full_page=True)
    box = banner.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert fits_the_width(phone)

    banner.get_by_role("button", name="Forget this choice").click()
    phone.wait_for_url(f"{demo.gateway_url}/choose")
    expect(phone.locator(".remembered-choice")).to_have_count(0)
    assert remembered(demo) is None


def test_it_support_clears_a_remembered_choice_from_the_lookup(
    page: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with closing(db.new_session(demo.gateway_app)) as session:
        user = session.scalar(select(User).where(User.email == EMAIL))
        assert user is not None
        user.remembered_system = "new"
        session.commit()
    page.goto(f"{demo.gateway_url}/it/who?q={EMAIL}")
    page.locator('button[data-email="it@vendor.example"]').click()
    page.wait_for_url(f"{demo.gateway_url}/it/who?q={EMAIL}")
    person = page.locator("section.person")
    expect(person).to_contain_text("remembered choice new")
    person.get_by_label("Reason").fill("Customer asked on the phone")
    person.get_by_role("button", name="Clear remembered choice").click()

    expect(page.locator(".flash-info")).to_contain_text("Remembered choice cleared")
    expect(page.get_by_role("button", name="Clear remembered choice")).to_have_count(0)
    assert remembered(demo) is None
    page.screenshot(path=tmp_path / "who-cleared.png", full_page=True)
    page.goto(f"{demo.gateway_url}/it/audit")
    expect(page.locator("table.audit")).to_contain_text("user.remembered_choice_cleared")
    expect(page.locator("table.audit")).to_contain_text("Customer asked on the phone")
