"""特价申请 in a real browser, at desktop width and at 375 px: the dealer asks for a special
price with the tender documents, the East regional manager signs it under 审批, and the
dealer's next order for that hospital is priced by it, the consumption showing on the
request."""
import pytest
from sqlalchemy import select, text

from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n% tender announcement\n1 0 obj << >> endobj\n%%EOF\n"
#: per viewport: a product of the CV line, and a price below the band floor
PRODUCTS = {"desktop": ("CV-GC-6JL4", "560.00"), "phone": ("CV-SH-6F", "220.00")}
HOSPITAL = "上海市第六人民医院"


def _choose(row, code):
    select_ = row.locator("select[name=sku_id]")
    select_.select_option(label=select_.locator("option", has_text=code).first.inner_text())


def test_dealer_asks_the_regional_manager_signs_and_the_order_gets_the_special_price(page_for, viewport, as_tenant):
    from app.compliance.models import ApprovalRequest
    from app.pricing.models import PriceRequest

    name, size = viewport
    code, price = PRODUCTS[name]
    page, base = page_for("acme", size)
    sign_in(page, base, "dealer1@acme.test")
    page.wait_for_url("**/dealer/")
    page.goto(f"{base}/dealer/price-requests/new")
    page.select_option("#f-hospital_id", label=page.locator("#f-hospital_id option", has_text=HOSPITAL).inner_text())
    page.fill("#f-tender_ref", "沪六院-2026-导管-031")
    first = page.locator("#pr-lines tr").nth(0)
    _choose(first, code)
    first.locator("input[name=quantity_cap]").fill("20")
    first.locator("input[name=requested_price]").fill(price)
    page.fill("#f-reason", "院内议价，竞品报价低于价格带下限。")
    page.click("button[value=check]")  # htmx: each line shows today's price, the floor and the discount
    page.locator("#line-0 .line-check strong").wait_for()
    assert "%" in page.locator("#line-0 .line-check strong").inner_text()
    page.set_input_files("#f-evidence", files=[{"name": "招标公告.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    assert no_sideways_scroll(page)
    shot(page, f"price-request-new-{name}")
    page.click("button[value=submit]")
    page.wait_for_url("**/dealer/price-requests/*")
    assert "审批中" in page.locator("main").inner_text()
    assert page.locator("#evidence a", has_text="pdf").is_visible()
    request_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    with as_tenant("acme") as s:
        request = s.get(PriceRequest, request_id)
        number, approval_id = request.number, request.approval_request_id
        assert s.get(ApprovalRequest, approval_id).status == "in_review"

    manager, _base = page_for("acme", size)
    sign_in(manager, base, "sales.east@acme.test")
    manager.wait_for_url("**/manufacturer/")
    manager.goto(f"{base}/manufacturer/approvals")
    manager.click(f"a[href='/manufacturer/approvals/{approval_id}']")
    assert manager.locator(f"a[href='/manufacturer/price-requests/{request_id}']").is_visible()
    manager.fill("textarea[name=comment]", "已核实招标文件，同意。")
    manager.fill("input[name=password]", PASSWORD)
    manager.click("button[value=approve]")
    manager.wait_for_selector(".signature")
    assert "华东区域经理 沈浩（sales.east@acme.test）电子签名" in manager.locator(".signature").first.inner_text()
    assert no_sideways_scroll(manager)
    shot(manager, f"price-request-signed-{name}")

    try:
        page.goto(f"{base}/dealer/orders/new")
        page.select_option("#hospital_id", label=HOSPITAL)
        row = page.locator("#lines tr").nth(0)
        _choose(row, code)
        row.locator("input[name=quantity]").fill("5")
        page.click("button[value=check]")
        page.locator("#line-0 .line-check strong").wait_for()
        assert page.locator("#line-0 .line-check strong").inner_text() == f"¥{price}"
        assert number in page.locator("#line-0 .line-check .why").inner_text()
        page.click("button[value=place]")
        page.wait_for_url("**/dealer/orders/*")
        page.goto(f"{base}/dealer/price-requests/{request_id}")
        assert "已用 5 / 共 20，剩余 15" in page.locator("#consumption").inner_text()
        assert "已同意" in page.locator("main").inner_text()
        assert no_sideways_scroll(page)
        shot(page, f"price-request-used-{name}")
    finally:
        with as_tenant("acme") as s:  # the special price ends with the test: other tests order at list prices
            s.execute(text("UPDATE price_requests SET valid_from = current_date - 2, valid_until = current_date - 2 "
                           "WHERE id = :i"), {"i": request_id})
            assert s.scalar(select(PriceRequest.status).where(PriceRequest.id == request_id)) == "approved"


def test_manufacturer_opens_a_two_invoice_violation_and_its_evidence_chain(page_for, viewport):
    name, size = viewport
    page, base = page_for("acme", size)
    sign_in(page, base, "qa@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/two-invoice")
    row = page.locator("#results tbody tr", has_text="苏州德尔医疗科技有限公司").first
    assert "华东医疗器械有限公司" in row.inner_text() and "苏州大学附属第一医院" in row.inner_text()
    assert no_sideways_scroll(page)
    shot(page, f"two-invoice-{name}")
    row.locator("a").first.click()
    page.wait_for_url("**/manufacturer/two-invoice/*")
    chain = page.locator("#chain").inner_text()
    assert "厂家 → 华东医疗器械有限公司" in chain and "华东医疗器械有限公司 → 苏州德尔医疗科技有限公司" in chain
    assert "苏州德尔医疗科技有限公司 → 苏州大学附属第一医院" in chain
    assert no_sideways_scroll(page)
    shot(page, f"two-invoice-case-{name}")
