"""A customer's entitlements in a real browser at phone width (390 px), on the demo:
Carol (Initech: NetGuard on legacy, EndPoint Shield on new) signs in, sees the short
choice page with Continue in view, opens "Your entitlements" from the header, finds the
term ending within 30 days marked in words, sorts by product and pages through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.devidp.servers import RunningDemo

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
EMAIL = "carol@initech.example"
# What a thumb presses: buttons, form controls, links that stand alone, disclosures; a
# radio button or checkbox is pressed through its label.
TOUCH_TARGETS = (
    "header a:visible, header button:visible, main button:visible, main select:visible, "
    "main input:not([type=hidden]):not([type=radio]):not([type=checkbox]):visible, "
    "main a.button-link:visible, main a.sort:visible, main summary:visible, "
    "main label.choice-option:visible, main .remember label:visible"
)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def fits_a_phone(page: Any) -> None:
    """Nothing sticks out sideways, and everything to press is at least 44 px tall."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"
    for target in page.locator(TOUCH_TARGETS).all():
        box = target.bounding_box()
        assert box is not None and box["height"] >= 44, (page.url, target.inner_text(), box)


def products(page: Any) -> list[str]:
    return [
        cell.strip()
        for cell in page.locator("table.my-entitlements td[data-label=Product]").all_inner_texts()
    ]


def test_the_choice_page_and_the_entitlements_fit_a_phone(
    phone: Any, demo: RunningDemo, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{demo.gateway_url}/")
    phone.locator(f'button[data-email="{EMAIL}"]').click()
    phone.wait_for_url(f"{demo.gateway_url}/choose")
    phone.screenshot(path=tmp_path / "choose-390.png", full_page=True)
    fits_a_phone(phone)
    # Continue is on the first screen, before the summaries.
    continue_box = phone.get_by_role("button", name="Continue").bounding_box()
    assert (
        continue_box is not None and continue_box["y"] + continue_box["height"] <= PHONE["height"]
    )
    summary = phone.locator("table.system-summary").first.bounding_box()
    assert summary is not None and continue_box["y"] < summary["y"]
    expect(phone.locator("table.system-summary").first).to_contain_text("NetGuard Firewall")
    # The few entitlements of a small account are shown open, with their units in words.
    expect(phone.locator("main")).to_contain_text("1,200 endpoints")
    expect(phone.locator("main")).to_contain_text("50 seats")

    phone.get_by_role("link", name="Your entitlements").first.click()
    phone.wait_for_url(f"{demo.gateway_url}/entitlements")
    phone.screenshot(path=tmp_path / "entitlements-390.png", full_page=True)
    fits_a_phone(phone)
    soon = phone.locator("tr.expires-30")
    expect(soon).to_have_count(1)
    expect(soon).to_contain_text("EndPoint Shield Advanced")
    expect(soon).to_contain_text("21 days left")
    expect(soon).to_contain_text("Ends within 30 days")
    expect(phone.locator("tr.entitlement")).to_have_count(3)
    # Soonest end first, the perpetual licence (no end date) last.
    assert products(phone) == [
        "EndPoint Shield Advanced",
        "EndPoint Shield Premium Support",
        "NetGuard Virtual Edition",
    ]

    # On a phone the table's headings are labels of each block: order through the form.
    phone.get_by_label("Sort by").select_option("product")
    phone.get_by_label("Order").select_option("desc")
    phone.get_by_role("button", name="Show").click()
    phone.wait_for_url("**/entitlements?*sort=product&dir=desc*")
    assert products(phone) == [
        "NetGuard Virtual Edition",
        "EndPoint Shield Premium Support",
        "EndPoint Shield Advanced",
    ]

    # Filter through the form: only the new license center's.
    phone.get_by_label("License center").select_option("new")
    phone.get_by_role("button", name="Show").click()
    expect(phone.locator("tr.entitlement")).to_have_count(2)


def test_on_a_wide_screen_the_column_headings_sort(page: Any, demo: RunningDemo) -> None:
    from playwright.sync_api import expect

    page.goto(f"{demo.gateway_url}/entitlements")
    page.locator(f'button[data-email="{EMAIL}"]').click()
    page.wait_for_url(f"{demo.gateway_url}/entitlements")
    heading = page.get_by_role("link", name="Product", exact=True)
    heading.click()
    page.wait_for_url("**/entitlements?sort=product&dir=asc")
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Product")
    assert products(page)[0] == "EndPoint Shield Advanced"
    page.locator("th[aria-sort=ascending] a.sort").click()  # the same heading turns it around
    page.wait_for_url("**/entitlements?sort=product&dir=desc")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Product")
    assert products(page)[0] == "NetGuard Virtual Edition"


def test_the_entitlements_page_through_pages(phone: Any, demo: RunningDemo) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{demo.gateway_url}/entitlements?per_page=2")
    # A deep link: through the development IdP's sign-in and back to the page asked for.
    phone.locator(f'button[data-email="{EMAIL}"]').click()
    phone.wait_for_url(f"{demo.gateway_url}/entitlements?per_page=2")
    expect(phone.locator(".pager")).to_contain_text("Page 1 of 2")
    first = products(phone)
    assert len(first) == 2
    fits_a_phone(phone)
    phone.get_by_role("link", name="Next").click()
    expect(phone.locator(".pager")).to_contain_text("Page 2 of 2")
    second = products(phone)
    assert len(second) == 1 and not set(first) & set(second)
    phone.get_by_role("link", name="Previous").click()
    expect(phone.locator(".pager")).to_contain_text("Page 1 of 2")


def test_printing_leaves_the_navigation_and_controls_out(phone: Any, demo: RunningDemo) -> None:
    phone.goto(f"{demo.gateway_url}/entitlements")
    phone.locator(f'button[data-email="{EMAIL}"]').click()
    phone.wait_for_url(f"{demo.gateway_url}/entitlements")
    phone.emulate_media(media="print")
    for hidden in ("header.masthead", "form.entitlement-filters", "footer"):
        assert not phone.locator(hidden).is_visible(), hidden
    assert phone.locator("table.my-entitlements").is_visible()


@pytest.mark.parametrize(
    ("email", "landing", "then"),
    [
        # Dave has the portal only: no access to the license centers, nor to entitlements.
        ("dave@initech.example", "/no-access", "/entitlements"),
        # Frank's terms have all ended: no active entitlements, but the list shows them.
        ("frank@umbrella.example", "/no-entitlements", "/entitlements"),
    ],
)
def test_the_other_customer_pages_fit_a_phone(
    phone: Any, demo: RunningDemo, email: str, landing: str, then: str
) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{demo.gateway_url}/")
    phone.locator(f'button[data-email="{email}"]').click()
    phone.wait_for_url(f"{demo.gateway_url}{landing}")
    fits_a_phone(phone)
    phone.get_by_role("link", name="Your entitlements").click()
    phone.wait_for_url(f"{demo.gateway_url}{then}")
    fits_a_phone(phone)
    if email.startswith("dave"):
        expect(phone.locator("main")).to_contain_text("administrators decide")
        expect(phone.locator("main")).to_contain_text("erin@initech.example")
    else:
        expect(phone.locator("tr.expired")).to_have_count(3)
        expect(phone.locator("main")).to_contain_text("250,000 USD revenue")
