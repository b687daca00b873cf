"""Browser journey: QA/RA creates a recall of an analyser that went straight to 中山医院,
checks the live trace and activates it; the hospital acknowledges and reports; the
console reaches 100 % and the recall is closed (desktop and 375 px)."""
import uuid

import pytest

from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.test_recalls import _ship, _stock, _central

pytestmark = pytest.mark.browser


def test_recall_from_creation_to_closing(page_for, viewport, as_tenant):
    from app.catalog.models import Sku
    from app.inventory.operations import lot_for
    from sqlalchemy import select

    name, size = viewport
    batch = "B" + uuid.uuid4().hex[:5].upper()
    with as_tenant("acme") as s:
        analyser = s.scalar(select(Sku).where(Sku.code == "IVD-POCT-01"))
        unit = lot_for(s, analyser, batch, f"SN{batch}1", None, None)
        _stock(s, _central(s), unit, 1)
        _ship(s, "D-SH-001", unit, 1, ship_to="hospital", hospital_code="H-SH-001")
        sku_id = analyser.id

    page, base = page_for("acme", size)
    sign_in(page, base, "qa@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/recalls/new")
    page.fill("input[name=title]", f"MC-F100 批次 {batch} 电源适配器过热")
    page.select_option("select[name=classification]", "2")
    page.fill("textarea[name=reason]", "电源适配器在长时间运行后可能过热")
    page.fill("textarea[name=actions_required]", "停止使用原配适配器，等待更换")
    page.select_option("select[name=sku_id-0]", str(sku_id))
    page.select_option("select[name=kind-0]", "lot")
    page.fill("input[name=lot_no-0]", batch)
    assert no_sideways_scroll(page)
    page.click("form.card button[type=submit].primary")
    page.wait_for_url("**/manufacturer/recalls/*")
    assert "复旦大学附属中山医院" in page.locator("#recall-trace").inner_text()
    page.click("#recall-activate")
    page.wait_for_selector("#recall-effectiveness")
    number = page.locator("h1").inner_text().split()[-1]
    console = page.url
    shot(page, f"recall-active-{name}")

    hospital, hbase = page_for("acme", size)
    sign_in(hospital, hbase, "hospital1@acme.test")
    hospital.wait_for_url("**/hospital/")
    hospital.goto(f"{hbase}/hospital/recalls")
    hospital.click(f"text={number}")
    hospital.wait_for_url("**/hospital/recalls/*")
    assert f"SN{batch}1" in hospital.locator("#notice-lots").inner_text()
    hospital.click("#notice-acknowledge")
    hospital.wait_for_selector("#notice-status.wait")
    hospital.fill("input[name=on_hand]", "1")
    assert no_sideways_scroll(hospital)
    hospital.click("#notice-report")
    hospital.wait_for_selector("#notice-status.on")
    shot(hospital, f"recall-notice-{name}")

    page.goto(console)
    assert page.locator("#recall-effectiveness").inner_text().startswith("100.0")
    page.click("#recall-close")
    page.wait_for_selector("#recall-status.on")
    assert no_sideways_scroll(page)
