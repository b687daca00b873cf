"""A dealer reports a sale in a real browser and its channel stock goes down."""
from datetime import timedelta

import pytest

from app.core.i18n import shanghai_today
from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.sellout_world import deliver, hospital, lot_tag, sellout_world  # noqa: F401

pytestmark = pytest.mark.browser


def test_dealer_reports_a_sale_by_form_and_sees_channel_stock_go_down(page_for, viewport, world, as_tenant):
    name, size = viewport
    tag = lot_tag()
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-3533", tag, 10, shanghai_today() - timedelta(days=4))
        lot_id, sku_id, hospital_id = lot.id, lot.sku_id, hospital(session, "H-SH-001").id
    page, base = page_for(world, size)
    sign_in(page, base, f"dealer1@{world}.test")
    page.wait_for_url("**/dealer/")
    page.goto(f"{base}/dealer/channel-stock")
    assert page.locator(f"tr[data-lot='{tag}'] td.stock").inner_text().strip() == "10"
    page.goto(f"{base}/dealer/sell-out/new")
    page.fill("input[name=sold_on]", shanghai_today().isoformat())
    page.select_option("select[name=hospital_id]", str(hospital_id))
    with page.expect_response(lambda r: "/dealer/sell-out/new?" in r.url):  # the lots of that product come back
        page.select_option("select[name=sku_id]", str(sku_id))
    page.wait_for_timeout(100)  # let htmx settle the swap
    page.select_option("select[name=lot_id]", str(lot_id))
    page.fill("input[name=quantity]", "3")
    page.fill("input[name=unit_price]", "7200.00")
    page.fill("input[name=invoice_no]", f"B-{tag}")
    assert no_sideways_scroll(page)
    page.click("form button[type=submit].primary")
    page.wait_for_url("**/dealer/sell-out")
    assert page.locator("td", has_text=f"B-{tag}").is_visible()
    page.goto(f"{base}/dealer/channel-stock")
    assert page.locator(f"tr[data-lot='{tag}'] td.stock").inner_text().strip() == "7"
    assert no_sideways_scroll(page)
    shot(page, f"dealer-channel-stock-{name}")


def test_sell_out_and_project_pages_fit_a_phone(page_for, world, as_tenant):
    from tests.browser.conftest import PHONE

    with as_tenant(world) as session:
        deliver(session, "D-SH-001", "CV-DES-2518", lot_tag(), 4, shanghai_today() - timedelta(days=4))
    page, base = page_for(world, PHONE)
    sign_in(page, base, f"dealer1@{world}.test")
    page.wait_for_url("**/dealer/")
    for path in ("/dealer/sell-out", "/dealer/sell-out/new", "/dealer/sell-out/upload", "/dealer/channel-stock",
                 "/dealer/projects", "/dealer/projects/new"):
        page.goto(base + path)
        assert page.locator("h1").first.is_visible(), path
        assert no_sideways_scroll(page), path
    shot(page, "dealer-project-new-phone")
    page.context.clear_cookies()
    sign_in(page, base, f"channel@{world}.test")
    page.wait_for_url("**/manufacturer/")
    for path in ("/manufacturer/sell-out", "/manufacturer/channel-stock", "/manufacturer/projects"):
        page.goto(base + path)
        assert no_sideways_scroll(page), path
    shot(page, "manufacturer-projects-phone")
