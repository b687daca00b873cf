"""Browser journey: a channel manager authorizes a dealer for a region and watches the
authorization letter being prepared, then downloads it."""
import subprocess
import sys

import pytest
from sqlalchemy import select

from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.conftest import ROOT

pytestmark = pytest.mark.browser


def test_channel_manager_authorizes_a_dealer_for_a_region_and_gets_the_letter(page_for, viewport, as_tenant, worker_env):
    from app.catalog.models import ProductLine
    from app.channel.models import Dealer, Region

    name, size = viewport
    year = 2047 if name == "desktop" else 2048
    with as_tenant("acme") as s:
        dealer = s.scalar(select(Dealer.id).where(Dealer.code == "D-SC-001"))
        line = s.scalar(select(ProductLine.id).where(ProductLine.code == "IVD"))
        region = s.scalar(select(Region.id).where(Region.code == "SC"))
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=worker_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page, base = page_for("acme", size)
        sign_in(page, base, "channel@acme.test")
        page.wait_for_url("**/manufacturer/")
        page.goto(f"{base}/manufacturer/authorizations/new")
        page.select_option("select[name=dealer_id]", str(dealer))
        page.check("input[name=products][value=skus]")  # htmx swaps in the SKU picker …
        page.wait_for_selector("select[name=sku_ids]")
        page.check("input[name=products][value=line]")  # … and back to the product line
        page.wait_for_selector("select[name=product_line_id]")
        page.select_option("select[name=product_line_id]", str(line))
        page.select_option("select[name=region_id]", str(region))
        page.fill("input[name=valid_from]", f"{year}-01-01")
        page.fill("input[name=valid_until]", f"{year}-12-31")
        page.check("input[name=exclusive]")
        assert no_sideways_scroll(page)
        page.click("#auth-form button[type=submit]")
        page.wait_for_url("**/manufacturer/authorizations/*")
        assert "成都蓉康医疗器械有限公司" in page.locator("dl.facts").inner_text()
        page.wait_for_selector("section.letter a.button.primary[href^='/documents/']", timeout=60_000)
        shot(page, f"authorization-letter-{name}")
        with page.expect_download() as download:
            page.click("section.letter a.button.primary[href^='/documents/']")
        assert download.value.suggested_filename.startswith("AUTH-")
        assert download.value.suggested_filename.endswith(".pdf")
        assert no_sideways_scroll(page)
    finally:
        worker.terminate()
        worker.wait(10)
