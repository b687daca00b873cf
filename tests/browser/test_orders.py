"""A dealer orders in a real browser: checks the lines (htmx), adds a line, places the
order and sees it approved and allocated with its timeline — at desktop width and 375 px."""
import pytest

from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


def test_dealer_places_an_order_and_sees_it_allocated_with_its_timeline(page_for, viewport):
    name, size = viewport
    page, base = page_for("acme", size)
    sign_in(page, base, "dealer1@acme.test")
    page.wait_for_url("**/dealer/")
    page.goto(f"{base}/dealer/orders/new")
    rows = page.locator("#lines tr")
    first = rows.nth(0)
    first.locator("select[name=sku_id]").select_option(label=first.locator("select[name=sku_id] option", has_text="CV-INF-30").inner_text())
    first.locator("input[name=quantity]").fill("2")
    page.select_option("#hospital_id", label="复旦大学附属中山医院")

    page.click("button[value=check]")  # htmx: the form comes back with price and checks per line
    page.locator("#line-0 .line-check strong").wait_for()
    assert "¥" in page.locator("#line-0 .line-check strong").inner_text()
    assert page.locator("#line-0 .badge.on").is_visible()

    count = page.locator("#lines tr").count()
    page.click("button[hx-get*='row=']")
    page.locator(f"#lines tr:nth-child({count + 1})").wait_for()
    page.click("button[hx-get*='row=']")
    page.locator(f"#lines tr:nth-child({count + 2})").wait_for()
    assert len(set(page.locator("#lines tr").evaluate_all("rows => rows.map(r => r.id)"))) == count + 2
    assert no_sideways_scroll(page)
    shot(page, f"dealer-order-new-{name}")

    page.click("button[value=place]")
    page.wait_for_url("**/dealer/orders/*")
    assert page.locator("#order-status").get_attribute("data-status") == "allocated"
    assert page.locator(".timeline [data-kind=submitted]").is_visible()
    assert page.locator(".timeline [data-kind=allocated]").is_visible()
    assert "CV-INF-30" in page.locator("main").inner_text()
    assert no_sideways_scroll(page)
    shot(page, f"dealer-order-{name}")
