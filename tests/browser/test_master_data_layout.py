"""The master-data pages on a 375 px phone in English (the second language): each one
opens in English and fits the screen without sideways scrolling."""
import pytest

from tests.browser.conftest import PHONE, shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser

PAGES = {
    "channel@acme.test": ["/manufacturer/skus", "/manufacturer/registrations", "/manufacturer/product-lines",
                          "/manufacturer/dealers", "/manufacturer/regions", "/manufacturer/authorizations",
                          "/manufacturer/authorizations/new", "/manufacturer/price-lists", "/manufacturer/price-bands",
                          "/manufacturer/tender-prices", "/manufacturer/price-check", "/manufacturer/expiry",
                          "/manufacturer/imports"],
    "dealer1@acme.test": ["/dealer/", "/dealer/profile", "/dealer/qualifications", "/dealer/authorizations", "/dealer/prices"],
    "hospital1@acme.test": ["/hospital/products"],
}


@pytest.mark.parametrize("email", list(PAGES))
def test_master_data_pages_fit_a_phone_in_english(page_for, email):
    page, base = page_for("acme", PHONE)
    sign_in(page, base, email)
    page.wait_for_url("**/" + PAGES[email][0].strip("/").split("/")[0] + "/**")
    page.click("form.locale-switch button[value=en]")  # saved on the user: switched back below
    page.wait_for_load_state()
    wide = []
    try:
        for path in PAGES[email]:
            response = page.goto(f"{base}{path}")
            assert response.status == 200, path
            assert page.locator("html").get_attribute("lang") == "en", path
            if not no_sideways_scroll(page):
                wide.append(path)
            shot(page, "en-phone" + path.replace("/", "-").rstrip("-"))
    finally:
        page.click("form.locale-switch button[value=zh_CN]")
        page.wait_for_load_state()
    assert wide == []
