"""Browser journey: after-sales enter an analyzer installed at 中山医院, plan its
preventive maintenance and report the first visit; the hospital's equipment department
sees the unit in warranty and the visit done (desktop and 375 px)."""
import uuid

import pytest

from app.core.i18n import shanghai_today
from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


def test_after_sales_plans_a_unit_and_the_hospital_sees_the_visit(page_for, viewport, as_tenant):
    name, size = viewport
    serial = "CL2K" + uuid.uuid4().hex[:8].upper()
    page, base = page_for("acme", size)
    sign_in(page, base, "service@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/installed-base")
    assert no_sideways_scroll(page)
    shot(page, f"installed-base-{name}")
    page.click("text=新增装机")
    page.wait_for_url("**/installed-base/new")
    page.select_option("select[name=hospital_id]", label="复旦大学附属中山医院")
    page.select_option("select[name=sku_id]", index=1)
    page.fill("input[name=serial_no]", serial)
    page.fill("input[name=installed_on]", shanghai_today().isoformat())
    page.fill("input[name=department]", "检验科")
    assert no_sideways_scroll(page)
    page.click("form.card button[type=submit].primary")
    page.wait_for_url("**/installed-base/*")
    assert page.locator("#standing").inner_text() == "保修期内"

    page.click("text=新建维保计划")
    page.wait_for_url("**/plans/new")
    page.fill("input[name=interval_months]", "6")
    assert no_sideways_scroll(page)
    page.click("form.card button[type=submit].primary")
    page.wait_for_url("**/service-plans/*")
    page.locator("#upcoming-visits a").first.click()
    page.wait_for_url("**/service-visits/*")
    for radio in page.locator("#report-form input[type=radio][value=pass]").all():
        radio.check()
    page.fill("textarea[name=findings]", "各项检查正常")
    assert no_sideways_scroll(page)
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#visit-report")
    assert page.locator("#visit-state").inner_text() == "已完成"
    shot(page, f"service-visit-{name}")

    page, base = page_for("acme", size)
    sign_in(page, base, "hospital1@acme.test")
    page.wait_for_url("**/hospital/")
    page.goto(f"{base}/hospital/equipment?q={serial}")
    assert "保修期内" in page.locator("#results").inner_text()
    page.click(f"text={serial}")
    page.wait_for_url("**/hospital/equipment/*")
    assert "已完成" in page.locator("#past-visits").inner_text()
    assert no_sideways_scroll(page)
    shot(page, f"hospital-equipment-{name}")
    page.goto(f"{base}/hospital/service-visits")
    assert no_sideways_scroll(page)
