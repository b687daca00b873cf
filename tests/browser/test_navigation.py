"""The grouped menu: drop-downs on a wide screen, headed lists in the phone menu."""
import pytest

from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


def test_manufacturer_menu_groups_open_as_drop_downs(page_for):
    page, base = page_for("acme", DESKTOP)
    sign_in(page, base, "channel@acme.test")
    page.wait_for_url("**/manufacturer/")
    orders = page.locator("nav.nav-wide details.nav-group", has_text="订单")
    assert not orders.locator("a", has_text="发货").is_visible()
    orders.locator("summary").click()
    assert orders.locator("a", has_text="发货").is_visible()
    orders.locator("a", has_text="发货").click()
    page.wait_for_url("**/manufacturer/shipments")
    here = page.locator("nav.nav-wide details.nav-group.here summary")
    assert here.inner_text().startswith("订单")  # the group of the page one is on is marked
    assert no_sideways_scroll(page)
    shot(page, "menu-desktop")


def test_phone_menu_lists_every_group_open(page_for):
    page, base = page_for("acme", PHONE)
    sign_in(page, base, "dealer1@acme.test")
    page.wait_for_url("**/dealer/")
    page.click("details.menu summary")
    menu = page.locator("details.menu nav")
    assert menu.locator("section.nav-group .nav-heading", has_text="订单").is_visible()
    assert menu.locator("a", has_text="流向").is_visible()  # no second tap inside a group
    assert no_sideways_scroll(page)
    shot(page, "menu-phone")
