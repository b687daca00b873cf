"""Browser journey: finance records a dealer's transfer, matches it to the dealer's open
invoice on the matching page (the running total updates through htmx), and the dealer
sees the invoice settled — on a desktop and at 375 px."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.finance.models import Invoice, Payment
from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.finance_world import fresh_dealer, invoice

pytestmark = pytest.mark.browser


def test_finance_records_and_matches_a_payment_and_the_dealer_sees_the_invoice_settled(page_for, viewport, as_tenant):
    name, size = viewport
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s, users=True)
        inv = invoice(s, dealer, [("11300.00", "0.13"), ("2060.00", "0.03")])
        dealer_id, owner, number, invoice_id = dealer.id, f"{dealer.code.lower()}.owner@acme.test", inv.number, inv.id

    page, base = page_for("acme", size)
    sign_in(page, base, "finance@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/payments/new")
    page.select_option("select[name=dealer_id]", str(dealer_id))
    page.fill("input[name=amount]", "20000.00")  # more than the invoice: not matched automatically
    page.fill("input[name=bank_ref]", f"ICBC-{invoice_id:08d}-{name}")
    page.fill("input[name=reference]", "货款")
    assert no_sideways_scroll(page)
    page.click("form.payment-form button[type=submit]")
    page.wait_for_url("**/match")
    assert number in page.locator("table.match").inner_text()
    page.check(f"input[name=pick][value='{invoice_id}']")
    page.wait_for_function("document.querySelector('#match-summary').textContent.includes('13,360.00')")
    assert no_sideways_scroll(page)
    shot(page, f"finance-match-{name}")
    page.click("form.match-form button[type=submit].primary")
    page.wait_for_url("**/manufacturer/payments/*")
    assert number in page.locator("#applications").inner_text()
    assert "部分核销" in page.locator("h1").inner_text()
    shot(page, f"finance-payment-{name}")
    with as_tenant("acme") as s:
        assert s.get(Invoice, invoice_id).status == "settled"
        payment = s.scalar(select(Payment).where(Payment.dealer_id == dealer_id))
        assert payment.applied_amount == Decimal("13360.00") and payment.status == "partial"

    page, base = page_for("acme", size)
    sign_in(page, base, owner)
    page.wait_for_url("**/dealer/")
    page.goto(f"{base}/dealer/invoices")
    page.click(f"text={number}")
    page.wait_for_url(f"**/dealer/invoices/{invoice_id}")
    assert "已结清" in page.locator("h1").inner_text()
    assert page.locator(".open-amount").inner_text() == "¥0.00"
    assert no_sideways_scroll(page)
    shot(page, f"dealer-invoice-settled-{name}")
