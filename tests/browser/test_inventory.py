"""Inventory journey in Chromium: goods arrive and are received by scanning their UDI,
QC releases them, and they show as available in the stock overview."""
import uuid

import pytest
from sqlalchemy import select

from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture()
def gtin(as_tenant):
    from app.catalog.models import Sku

    with as_tenant("acme") as s:
        return s.scalar(select(Sku.udi_di).where(Sku.code == "CV-DES-3533"))


def test_receive_by_udi_release_and_see_it_in_the_stock_overview(page_for, viewport, gtin):
    name, size = viewport
    lot_no = "B" + uuid.uuid4().hex[:8].upper()
    page, base = page_for("acme", size)
    sign_in(page, base, "qa@acme.test")
    page.wait_for_url("**/manufacturer/")

    page.goto(f"{base}/manufacturer/stock/receive")
    page.select_option("select[name=warehouse_id]", label="WH-SH 上海区域仓")
    page.fill("input[name=quantity]", "24")
    page.fill("input[name=udi]", f"(01){gtin}(17)301341(10){lot_no}")
    page.click("form.card button[type=submit].primary")
    assert page.locator("#f-udi-error").is_visible()  # month 13: refused next to the field
    assert no_sideways_scroll(page)
    page.fill("input[name=udi]", f"(01){gtin}(11)260101(17)301231(10){lot_no}")
    page.click("form.card button[type=submit].primary")
    page.wait_for_url("**/manufacturer/stock/*/lots/*")
    assert page.locator("#balances td[data-state=inspection]").inner_text() == "24"

    page.click("form:has(input[name=kind][value=qc_release]) button[type=submit]")
    page.wait_for_url("**/manufacturer/stock/*/lots/*")
    assert page.locator("#balances td[data-state=available]").inner_text() == "24"
    assert page.locator("#ledger tbody tr").count() == 2
    shot(page, f"stock-lot-{name}")
    assert no_sideways_scroll(page)

    page.goto(f"{base}/manufacturer/stock")
    page.fill("input[name=q]", "CV-DES-3533")
    page.select_option("select[name=warehouse]", label="WH-SH 上海区域仓")
    page.wait_for_selector("#results td >> text=CV-DES-3533")
    shot(page, f"stock-{name}")
    assert no_sideways_scroll(page)
    page.click("#results a >> text=CV-DES-3533")
    page.wait_for_url("**/manufacturer/stock/*/skus/*")
    assert page.locator(f"a >> text={lot_no}").is_visible()
    shot(page, f"stock-cell-{name}")
    assert no_sideways_scroll(page)

    page.goto(f"{base}/manufacturer/")
    page.wait_for_selector("#stock-alerts-card")  # the dashboard's card, loaded by htmx
    page.click("#stock-alerts-card a.tile >> nth=1")
    page.wait_for_url("**/manufacturer/stock/alerts?kind=near_expiry")
    assert page.locator("table.list tbody tr").count() >= 1
    shot(page, f"stock-alerts-{name}")
    assert no_sideways_scroll(page)


def test_safety_stock_is_edited_in_place_on_the_warehouse_page(page_for, viewport, as_tenant):
    from app.inventory.models import StockThreshold, Warehouse

    name, size = viewport
    with as_tenant("acme") as s:
        wid = s.scalar(select(Warehouse.id).where(Warehouse.code == "WH-WH"))
    page, base = page_for("acme", size)
    sign_in(page, base, "channel@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/warehouses/{wid}")
    row = page.locator("#stock tbody tr[id^=safety-]").first
    sku_id = int(row.get_attribute("id").split("-")[1])
    row.locator("a", has_text="编辑").click()
    page.locator(f"#safety-{sku_id} input[name=safety_quantity]").fill("-3")
    page.locator(f"#safety-{sku_id} button[type=submit]").click()
    page.wait_for_selector(f"#safety-{sku_id} .error")
    page.locator(f"#safety-{sku_id} input[name=safety_quantity]").fill("35")
    page.locator(f"#safety-{sku_id} button[type=submit]").click()
    page.wait_for_selector(f"#safety-{sku_id} >> text=35")
    assert page.url.endswith(f"/manufacturer/warehouses/{wid}")  # stayed on the page
    shot(page, f"warehouse-{name}")
    with as_tenant("acme") as s:
        assert s.scalar(select(StockThreshold.safety_quantity).where(StockThreshold.warehouse_id == wid,
                                                                     StockThreshold.sku_id == sku_id)) == 35
