"""Catalog journey in Chromium: QA/RA records a registration certificate and a SKU under
it; the SKU waits for its first-business review; the channel manager approves it and it
becomes active. The SKU list's inline editor works in place."""
import uuid

import pytest

from tests.browser.conftest import DESKTOP, shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture()
def review_by_channel_manager(as_tenant):
    from app.compliance import approvals
    from app.compliance.models import ApprovalStep

    with as_tenant("acme") as session:
        step_id = approvals.add_step(session, "product_review", approvals.StepSpec(name="渠道首营审核", role="channel_manager")).id
    yield
    with as_tenant("acme") as session:
        approvals.remove_step(session, session.get(ApprovalStep, step_id))


def test_qa_registers_a_product_and_its_review_makes_it_active(page_for, viewport, review_by_channel_manager):
    name, size = viewport
    tag = uuid.uuid4().hex[:6].upper()
    number, code = f"国械注准2024{tag}", f"BR-{tag}"
    page, base = page_for("acme", size)
    sign_in(page, base, "qa@acme.test")
    page.wait_for_url("**/manufacturer/")

    page.goto(f"{base}/manufacturer/registrations/new")
    page.fill("input[name=number]", number)
    page.fill("input[name=product_name]", "紫杉醇药物涂层球囊导管")
    page.select_option("select[name=device_class]", "III")
    page.fill("input[name=holder]", "艾科医疗科技（苏州）有限公司")
    page.fill("input[name=valid_from]", "2024-06-01")
    page.click("form.card button[type=submit]")
    assert page.locator("#valid_until-error").is_visible()  # class III needs an end date
    page.fill("input[name=valid_until]", "2029-05-31")
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/manufacturer/registrations/*")
    assert page.locator("h1").first.inner_text() == number

    page.goto(f"{base}/manufacturer/skus/new")
    page.fill("input[name=code]", code)
    page.fill("input[name=name]", "紫杉醇药物涂层球囊导管")
    page.fill("input[name=specification]", "Ø3.0 mm × 20 mm")
    page.fill("input[name=unit]", "根")
    page.select_option("select[name=product_line_id]", label="CV 心血管介入")
    page.select_option("select[name=registration_id]", label=f"{number} 紫杉醇药物涂层球囊导管")
    page.fill("input[name=udi_di]", "06901234567893")
    page.click("form.card button[type=submit]")
    assert "GTIN-14" in page.locator("#udi_di-error").inner_text() or page.locator("#udi_di-error").is_visible()
    page.fill("input[name=udi_di]", "")
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/manufacturer/skus/*")
    assert page.locator("#sku-status").inner_text() != ""
    assert page.locator("#sku-blocked").is_visible()  # in review: not orderable yet
    review = page.locator("a.review-link").first.get_attribute("href")
    assert no_sideways_scroll(page)
    shot(page, f"sku-pending-{name}")

    channel, _ = page_for("acme", size)
    sign_in(channel, base, "channel@acme.test")
    channel.wait_for_url("**/manufacturer/")
    channel.goto(f"{base}{review}")
    channel.fill("input[name=password]", PASSWORD)
    channel.click("button[value=approve]")
    channel.wait_for_load_state()

    page.reload()
    assert not page.locator("#sku-blocked").count()
    assert page.locator("#sku-status").get_attribute("class") == "badge on"
    shot(page, f"sku-active-{name}")


def test_sku_row_is_edited_in_place(page_for, as_tenant):
    from sqlalchemy import select

    from app.catalog import operations as ops
    from app.catalog.models import ProductLine

    code = f"IE-{uuid.uuid4().hex[:6].upper()}"
    with as_tenant("acme") as session:
        line_id = session.scalar(select(ProductLine.id).where(ProductLine.code == "CV"))
        sku_id = ops.save_sku(session, {"code": code, "name": "血管鞘组", "unit": "套", "product_line_id": line_id}).id
    page, base = page_for("acme", DESKTOP)
    sign_in(page, base, "channel@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/skus?q={code}")
    page.evaluate("window.__samePage = true")
    page.click(f"#sku-{sku_id} a[hx-get]")
    page.wait_for_selector(f"#sku-{sku_id} input[name=name]")
    page.fill(f"#sku-{sku_id} input[name=unit]", "")
    page.click(f"#sku-{sku_id} button[type=submit]")
    page.wait_for_selector(f"#sku-{sku_id}-unit-error")
    page.fill(f"#sku-{sku_id} input[name=unit]", "盒")
    page.fill(f"#sku-{sku_id} input[name=name]", "血管鞘组（桡动脉）")
    page.click(f"#sku-{sku_id} button[type=submit]")
    page.wait_for_selector(f"#sku-{sku_id} input[name=name]", state="detached")
    assert "血管鞘组（桡动脉）" in page.locator(f"#sku-{sku_id}").inner_text()
    assert page.evaluate("window.__samePage === true")
    shot(page, "sku-inline-edit")
