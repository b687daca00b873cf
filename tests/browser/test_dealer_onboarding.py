"""Onboarding a dealer in a real browser: the channel manager creates it, uploads its
licences, edits its credit in place and submits it for first-business review; QA and a
channel manager sign their approvals; the dealer is active and is authorized for its region."""
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.catalog.models import ProductLine
from app.channel.models import Authorization, Dealer, Region
from app.channel.rules import uscc_check_char
from app.identity.models import User
from tests.browser.conftest import PHONE, shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


@pytest.fixture()
def second_channel_manager(as_tenant):
    """The requester never approves their own request: another channel manager signs
    the channel step."""
    with as_tenant("acme") as session:
        if session.scalar(select(User).where(User.email == "channel2@acme.test")) is None:
            base = session.scalar(select(User).where(User.email == "channel@acme.test"))
            session.add(User(email="channel2@acme.test", name="渠道经理 二", portal="manufacturer",
                             roles=["channel_manager"], password_hash=base.password_hash))
        return session.scalar(select(Region.id).where(Region.code == "ZJ"))


def _upload(page, kind, number, until):
    page.select_option("form.upload select[name=kind]", kind)
    page.fill("form.upload input[name=number]", number)
    page.fill("form.upload input[name=valid_until]", until)
    page.set_input_files("form.upload input[name=file]",
                         files=[{"name": f"{number}.pdf", "mimeType": "application/pdf", "buffer": TINY_PDF}])
    page.click("form.upload button[type=submit]")
    page.wait_for_load_state()


def _approve(page_for, email, request_url):
    page, base = page_for("acme")
    sign_in(page, base, email)
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}{request_url}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[name=action][value=approve]")
    page.wait_for_url(f"**{request_url}")
    return page


def test_channel_manager_onboards_a_dealer_through_first_business_review(page_for, as_tenant, second_channel_manager):
    region_id = second_channel_manager
    code = "D-ZJ-" + uuid.uuid4().hex[:5].upper()
    body = "91330100MA" + uuid.uuid4().hex.upper()[:7]
    name = f"杭州新禾医疗器械有限公司{code[-3:]}"
    page, base = page_for("acme")
    sign_in(page, base, "channel@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/dealers")
    page.click("a[href='/manufacturer/dealers/new']")
    page.fill("input[name=code]", code)
    page.fill("input[name=uscc]", body + "0" if uscc_check_char(body) != "0" else body + "1")  # a typo first
    page.fill("input[name=name]", name)
    page.select_option("select[name=region_id]", str(region_id))
    page.fill("input[name=contact_name]", "沈新禾")
    page.fill("input[name=contact_phone]", "0571-8888 0001")
    page.click("form.card button[type=submit]")
    page.wait_for_selector("#f-uscc-error")
    shot(page, "dealer-new-error")
    page.fill("input[name=uscc]", body + uscc_check_char(body))
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/manufacturer/dealers/*")
    dealer_url = page.url

    until = (date.today() + timedelta(days=720)).isoformat()
    _upload(page, "business_license", f"{body}-BL", until)
    _upload(page, "operating_permit", f"浙杭食药监械经营许{code[-5:]}", until)
    assert page.locator("#qualifications tbody tr").count() == 2
    assert page.locator("#qualifications a[href^='/documents/']").count() == 2

    # contacts and credit edited in place: the block becomes a form and back, no reload
    page.evaluate("window.__samePage = true")
    page.click("#dealer-terms a.button")
    page.wait_for_selector("#dealer-terms form input[name=credit_limit]")
    page.fill("#dealer-terms input[name=credit_limit]", "-1")
    page.click("#dealer-terms button[type=submit]")
    page.wait_for_selector("#dealer-terms #f-credit_limit-error")
    page.fill("#dealer-terms input[name=credit_limit]", "800000")
    page.click("#dealer-terms button[type=submit]")
    page.wait_for_selector("#dealer-terms dd:has-text('¥800,000.00')")
    assert page.evaluate("window.__samePage === true")
    shot(page, "dealer-pending")

    page.click("#review button[type=submit]")
    page.wait_for_url("**/manufacturer/approvals/*")
    request_url = page.url.split(base, 1)[1]
    shot(page, "dealer-review-submitted")

    qa = _approve(page_for, "qa@acme.test", request_url)
    assert qa.locator(".signature").count() == 1
    final = _approve(page_for, "channel2@acme.test", request_url)
    assert final.locator(".signature").count() == 2
    shot(final, "dealer-review-approved")

    page.goto(dealer_url)
    assert "on" in page.locator("#dealer-status").get_attribute("class")
    shot(page, "dealer-active")
    with as_tenant("acme") as session:
        dealer = session.scalar(select(Dealer).where(Dealer.code == code))
        assert dealer.status == "active"
        dealer_id = dealer.id
        cv = session.scalar(select(ProductLine.id).where(ProductLine.code == "CV"))

    # …and, now active, it is authorized for its region; the letter is prepared in the background
    page.goto(f"{base}/manufacturer/authorizations/new")
    page.select_option("select[name=dealer_id]", str(dealer_id))
    page.select_option("select[name=product_line_id]", str(cv))
    page.select_option("select[name=region_id]", str(region_id))
    page.fill("input[name=valid_from]", "2049-01-01")
    page.fill("input[name=valid_until]", "2049-12-31")
    page.click("#auth-form button[type=submit]")
    page.wait_for_url("**/manufacturer/authorizations/*")
    assert name in page.locator("dl.facts").inner_text()
    assert page.locator("section.letter").count() == 1
    shot(page, "dealer-authorized")
    with as_tenant("acme") as session:
        granted = session.scalar(select(Authorization).where(Authorization.dealer_id == dealer_id))
        assert (granted.region_id, granted.product_line_id, granted.status) == (region_id, cv, "active")

    phone, _ = page_for("acme", PHONE)
    sign_in(phone, base, "channel@acme.test")
    phone.wait_for_url("**/manufacturer/")
    phone.goto(dealer_url)
    assert no_sideways_scroll(phone)
    shot(phone, "dealer-active-phone")
