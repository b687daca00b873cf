"""A transfer in a real browser: request (approved at once: no chain in the demo) →
ship → receive → release from inspection, the status on the page after each step."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.catalog.models import Sku
from app.core.i18n import shanghai_today
from app.inventory.models import StockBalance, Warehouse
from tests.browser.conftest import PHONE, shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser

STATUS = {"approved": ("已同意", "Approved"), "shipped": ("在途", "In transit"),
          "received": ("已收货，在检", "Received, in inspection"), "completed": ("已完成", "Completed")}


def test_request_ship_receive_and_inspect_a_transfer(page_for, as_tenant):
    with as_tenant("acme") as s:
        wh = {c: i for c, i in s.execute(select(Warehouse.code, Warehouse.id))}
        sku_id = s.scalar(select(Sku.id).where(Sku.tracking == "lot", Sku.id.in_(
            select(StockBalance.sku_id).where(StockBalance.warehouse_id == wh["WH-SZ"], StockBalance.state == "available",
                                              StockBalance.quantity >= 5))).order_by(Sku.code))
    page, base = page_for("acme")
    sign_in(page, base, "channel@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/transfers")
    page.click("a.button.primary[href$='/transfers/new']")
    page.select_option("#f-from_warehouse_id", str(wh["WH-SZ"]))
    page.select_option("#f-to_warehouse_id", str(wh["WH-WH"]))
    page.select_option("#f-sku_id-0", str(sku_id))
    page.fill("#f-quantity-0", "5")
    page.fill("#f-reason", "武汉仓补货")
    page.click("form button[type=submit].primary")
    page.wait_for_url("**/manufacturer/transfers/*")
    status = page.locator("#transfer-status")
    assert status.inner_text() in STATUS["approved"]

    page.fill("#f-carrier", "顺丰")
    page.fill("#f-tracking_no", "SF0001")
    page.fill("#f-eta", (shanghai_today() + timedelta(days=2)).isoformat())
    page.click("#transfer-actions button.primary")
    page.wait_for_load_state()
    assert status.inner_text() in STATUS["shipped"]

    page.click("#transfer-actions button.primary")  # receive what was shipped
    page.wait_for_load_state()
    assert status.inner_text() in STATUS["received"]

    page.click("#transfer-actions button.primary")  # release from inspection
    page.wait_for_load_state()
    assert status.inner_text() in STATUS["completed"]
    assert no_sideways_scroll(page)
    shot(page, "transfer-completed")


def test_transfer_and_consignment_pages_fit_a_phone(page_for, as_tenant):
    with as_tenant("acme") as s:
        location = s.scalar(select(Warehouse.id).where(Warehouse.code == "CS-H-SH-001"))
    page, base = page_for("acme", PHONE)
    sign_in(page, base, "channel@acme.test")
    page.wait_for_url("**/manufacturer/")
    for path in ("/manufacturer/transfers", "/manufacturer/transfers/new", "/manufacturer/consignment",
                 f"/manufacturer/consignment/{location}"):
        page.goto(base + path)
        assert page.locator("h1").first.is_visible()
        assert no_sideways_scroll(page), path
    shot(page, "consignment-location-phone")
    hospital, base = page_for("acme", PHONE)
    sign_in(hospital, base, "hospital1@acme.test")
    hospital.wait_for_url("**/hospital/")
    hospital.goto(f"{base}/hospital/surgery-reports/new")
    assert hospital.locator("select[name=lot_id-0]").is_visible()
    assert no_sideways_scroll(hospital)
    shot(hospital, "surgery-report-new-phone")
