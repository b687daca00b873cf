"""Rebate use in a real browser, at desktop width and 375 px: a dealer pays part of an
order with its rebate balance as 票折 and finds the entry in its ledger; a dealer claims
a rebate with evidence, the channel manager approves it, and the credit appears."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.channel.models import Dealer
from app.rebates import ledger
from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture()
def funded(as_tenant):
    """华东医疗器械 holds at least ¥10,000 more than before (an approved claim)."""
    with as_tenant("acme") as s:
        dealer_id = s.scalar(select(Dealer.id).where(Dealer.code == "D-SH-001"))
        ledger.add_credit(s, dealer_id, "claim", Decimal("10000.00"))


def test_dealer_pays_part_of_an_order_with_rebate_and_sees_it_in_the_ledger(page_for, viewport, funded):
    name, size = viewport
    page, base = page_for("acme", size)
    sign_in(page, base, "dealer1@acme.test")
    page.wait_for_url("**/dealer/")
    page.goto(f"{base}/dealer/orders/new")
    first = page.locator("#lines tr").nth(0)
    first.locator("select[name=sku_id]").select_option(
        label=first.locator("select[name=sku_id] option", has_text="CV-NC-3012").inner_text())
    first.locator("input[name=quantity]").fill("10")
    assert page.locator("#usable-offset").inner_text().startswith("¥")
    page.fill("#rebate_offset", "2000")
    page.click("button[value=check]")  # htmx: the form comes back with the cap and what will be owed
    page.locator("#rebate-summary").wait_for()
    assert "¥2,000.00" in page.locator("#rebate-summary").inner_text()
    assert "¥5,250.00" in page.locator("#rebate-offset-cap").inner_text()  # 30 % of ¥17,500
    assert no_sideways_scroll(page)
    shot(page, f"dealer-order-rebate-{name}")

    page.click("button[value=place]")
    page.wait_for_url("**/dealer/orders/*")
    assert page.locator("#order-rebate-offset").inner_text().startswith("−¥2,000.00")
    assert page.locator("#order-net-amount").inner_text() == "¥15,500.00"
    assert page.locator(".timeline [data-kind=rebate_used]").is_visible()
    assert no_sideways_scroll(page)
    page.click("text=本次使用的台账记录")
    page.wait_for_url("**/dealer/rebate-ledger")
    newest = page.locator("table.ledger-entries tbody tr").first
    assert newest.get_attribute("data-kind") == "used"
    # the ¥2,000 may draw on several credits (first-expiring first): one row each, same order
    order_ref = newest.locator("td").nth(5).inner_text()
    used = page.locator("table.ledger-entries tbody tr[data-kind=used]", has_text=order_ref)
    amounts = [Decimal(used.nth(i).locator("td").nth(3).inner_text().strip().replace("−¥", "-").replace(",", ""))
               for i in range(used.count())]
    assert sum(amounts) == Decimal("-2000.00"), amounts
    assert no_sideways_scroll(page)
    shot(page, f"dealer-rebate-ledger-{name}")
    newest.locator("a").first.click()
    page.wait_for_url("**/dealer/rebate-ledger/*")
    assert "票折" in page.locator("#entry-explanation").inner_text()
    assert no_sideways_scroll(page)


def test_dealer_claims_with_evidence_the_channel_manager_approves_and_the_credit_appears(page_for, viewport):
    name, size = viewport
    page, base = page_for("acme", size)
    sign_in(page, base, "dealer1@acme.test")
    page.wait_for_url("**/dealer/")
    page.goto(f"{base}/dealer/rebate-claims/new")
    page.fill("#f-program", "瑞金医院导管室开业学术沙龙")
    page.fill("#f-amount", "3600")
    page.fill("#f-description", "参会医生 22 人，附签到表")
    page.set_input_files("#f-evidence", files=[{"name": "签到表.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    assert no_sideways_scroll(page)
    shot(page, f"dealer-rebate-claim-new-{name}")
    page.click("#claim-form button[type=submit]")
    page.wait_for_url("**/dealer/rebate-claims/*")
    assert page.locator("#claim-status").get_attribute("data-status") == "in_review"
    assert "签到表.pdf" in page.locator("#claim-evidence").inner_text()
    claim_url = page.url

    manager, _base = page_for("acme", size)
    sign_in(manager, base, "channel@acme.test")
    manager.wait_for_url("**/manufacturer/")
    manager.goto(claim_url.replace("/dealer/rebate-claims/", "/manufacturer/rebate-claims/"))
    assert "签到表.pdf" in manager.locator("#claim-evidence").inner_text()
    assert no_sideways_scroll(manager)
    manager.click("text=签署审批决定")
    manager.wait_for_url("**/manufacturer/approvals/*")
    manager.fill("#password", "MedChannel-demo-1")
    manager.fill("#comment", "资料齐全")
    manager.click("button[value=approve]")
    manager.locator(".flash-success").wait_for()

    page.reload()
    assert page.locator("#claim-status").get_attribute("data-status") == "approved"
    assert "¥3,600.00" in page.locator("#claim-credit").inner_text()
    assert no_sideways_scroll(page)
    shot(page, f"dealer-rebate-claim-approved-{name}")
    page.click("#claim-credit")
    page.wait_for_url("**/dealer/rebate-ledger/*")
    assert page.locator("#entry-kind").get_attribute("data-kind") == "claim"
    assert "¥3,600.00" in page.locator("#entry-explanation").inner_text()
    assert no_sideways_scroll(page)


def test_channel_manager_reads_balances_an_entry_and_the_price_protection(page_for, viewport):
    name, size = viewport
    page, base = page_for("acme", size)
    sign_in(page, base, "channel@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/rebate-ledger")
    row = page.locator("#rebate-balances tr[data-dealer='D-SH-001']")
    assert row.is_visible() and no_sideways_scroll(page)
    shot(page, f"manufacturer-rebate-balances-{name}")
    row.locator("a").first.click()
    page.wait_for_url("**/manufacturer/rebate-ledger/dealers/*")
    page.locator("table.ledger-entries tr[data-kind=settled] a").first.click()
    page.wait_for_url("**/manufacturer/rebate-ledger/entries/*")
    assert "计算基数为" in page.locator("#entry-explanation").inner_text()
    assert no_sideways_scroll(page)
    page.goto(f"{base}/manufacturer/price-protections")
    page.locator("#protections a").first.click()
    page.wait_for_url("**/manufacturer/price-protections/*")
    assert page.locator("#protection-lines tr[data-dealer='D-SH-001']").is_visible()
    assert page.locator("#protection-status").get_attribute("data-status") == "in_review"
    assert no_sideways_scroll(page)
    shot(page, f"manufacturer-price-protection-{name}")
