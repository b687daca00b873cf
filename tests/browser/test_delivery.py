"""Browser journey: the manufacturer ships an allocated order straight to the hospital,
and the hospital's equipment department signs for it and sees it delivered."""
import pytest
from sqlalchemy import select

from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.order_world import allocated_order

pytestmark = pytest.mark.browser


def test_manufacturer_ships_and_hospital_signs_for_the_delivery(page_for, viewport, as_tenant):
    from app.orders.models import Shipment

    name, size = viewport
    with as_tenant("acme") as s:
        order = allocated_order(s, "D-SH-001", "H-SH-001")
        order_id, number = order.id, order.number

    page, base = page_for("acme", size)
    sign_in(page, base, "channel@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/shipments")
    assert number in page.locator("main").inner_text()
    page.goto(f"{base}/manufacturer/orders/{order_id}/ship")
    page.fill("input[name=carrier]", "顺丰速运")
    page.fill("input[name=tracking_no]", f"SF{order_id:010d}")
    page.check("input[name=ship_direct]")
    assert no_sideways_scroll(page)
    page.click("button[name=action][value=ship]")
    page.wait_for_url("**/manufacturer/shipments/*")
    shipment_number = page.locator("h1").inner_text().split()[1]
    assert shipment_number.startswith("SH-")
    shot(page, f"shipment-{name}")

    page, base = page_for("acme", size)
    sign_in(page, base, "hospital1@acme.test")
    page.wait_for_url("**/hospital/")
    page.goto(f"{base}/hospital/deliveries")
    page.click(f"text={shipment_number}")
    page.wait_for_url("**/hospital/deliveries/*")
    assert page.locator("input[name=signer_name]").input_value() == "张医工"
    assert no_sideways_scroll(page)
    page.click("form.card button[type=submit].primary")
    page.wait_for_selector("h1 .badge.on")
    assert page.locator("input[name=signer_name]").count() == 0
    assert "张医工" in page.locator("dl.facts").inner_text()
    shot(page, f"delivery-signed-{name}")
    with as_tenant("acme") as s:
        shipment = s.scalar(select(Shipment).where(Shipment.number == shipment_number))
        assert shipment.status == "delivered" and shipment.ship_to == "hospital"
        assert shipment.signed_by_name == "张医工"
