"""Import journey in Chromium: a channel manager uploads a small hospital list, watches
the progress finish and sees the result; a file with a bad row shows that row."""
import io
import subprocess
import sys
import uuid

import pytest
from openpyxl import Workbook

from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.data_world import world_tenant  # noqa: F401  (the "world" fixture: rows added here stay out of acme)

pytestmark = pytest.mark.browser

HEADERS = ["医院编码", "医院名称", "医院等级", "区域编码", "城市"]


def workbook(rows) -> bytes:
    book = Workbook()
    for row in [HEADERS] + rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def start_import(page, base, filename, data, dry_run=False):
    page.goto(f"{base}/manufacturer/imports")
    page.select_option("select[name=entity]", "hospitals")
    page.set_input_files("input[name=file]", files=[{
        "name": filename, "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "buffer": data}])
    if dry_run:
        page.check("input[name=dry_run]")
    page.click("form.import-form button[type=submit]")
    page.wait_for_url("**/manufacturer/imports/*")


@pytest.mark.parametrize("size", [{"width": 1280, "height": 860}, {"width": 375, "height": 740}], ids=["desktop", "phone"])
def test_channel_manager_imports_hospitals_and_sees_the_result(world, page_for, worker_env, size):
    from tests.conftest import ROOT

    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=worker_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tag = uuid.uuid4().hex[:6].upper()
        page, base = page_for(world, size)
        sign_in(page, base, f"channel@{world}.test")
        page.wait_for_url("**/manufacturer/")
        start_import(page, base, "医院.xlsx", workbook([[f"H-W{tag}-1", f"无锡测试医院{tag}", "三甲", "JS-SZ", "苏州"],
                                                         [f"H-W{tag}-2", f"苏州测试医院{tag}", "二甲", "JS-SZ", "苏州"]]))
        page.wait_for_selector("section.outcome-imported", timeout=60_000)  # polled in place until the job ends
        assert "医院.xlsx" in page.locator("dl.facts").first.inner_text()
        assert page.locator("section.outcome dl.facts dd").first.inner_text() == "2"
        assert page.locator("section.outcome a[href^='/documents/']").count() == 1  # the validation report
        assert no_sideways_scroll(page)
        shot(page, f"import-done-{size['width']}")
        page.goto(f"{base}/manufacturer/hospitals?q={tag}")
        assert page.locator("#results tbody tr").count() == 2

        start_import(page, base, "bad.xlsx", workbook([[f"H-V{tag}", "某医院", "特级", "JS-SZ", None]]), dry_run=True)
        page.wait_for_selector("table.import-errors", timeout=60_000)
        row = page.locator("table.import-errors tbody tr").first.inner_text()
        assert "2" in row and "医院等级" in row and "特级" in row
        assert page.locator("a[href^='/documents/']").count() >= 1  # the validation report
        shot(page, f"import-refused-{size['width']}")
    finally:
        worker.terminate()
        worker.wait(10)
