"""Statements in a real browser: finance starts the close of a month and watches its
progress; the dealer opens its statement and disputes a payment line; finance puts the
records right and issues a corrected version; the dealer confirms version 2 with its
password — at desktop width and at 375 px."""
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import select

from app.finance.statements import rules
from tests import statement_world as world
from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.conftest import PASSWORD, ROOT

pytestmark = pytest.mark.browser


def test_close_of_month_dispute_correction_and_confirmation(page_for, viewport, as_tenant, worker_env):
    from app.channel.models import Dealer
    from app.finance.models import StatementDispute

    name, size = viewport
    month = date.today().replace(day=1)
    for _i in range(5 if name == "desktop" else 6):  # a month of its own per width, within the form's choices
        month = rules.previous_month(month)
    label = month.strftime("%Y-%m")
    with as_tenant("acme") as session:
        dealer_id = session.scalar(select(Dealer.id).where(Dealer.code == "D-SH-001"))
        world.a_month(session, dealer_id, month)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=worker_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        finance, base = page_for("acme", size)
        finance.set_default_timeout(30_000)
        sign_in(finance, base, "finance@acme.test")
        finance.wait_for_url("**/manufacturer/")
        finance.goto(f"{base}/manufacturer/statements")
        finance.select_option("#run-month", value=label)
        finance.click("#close-of-month button.primary")
        finance.wait_for_url("**/manufacturer/statements/runs/*")
        run = finance.locator("section.run")
        assert run.get_attribute("hx-trigger") == "every 2s" or run.get_attribute("data-status") in ("done", "failed")
        finance.locator("section.run[data-status=done]").wait_for(timeout=180_000)  # the bar moved to the end by itself
        done, total = run.get_attribute("data-done"), run.get_attribute("data-total")
        assert done == total and int(total) >= 10
        assert no_sideways_scroll(finance)
        shot(finance, f"statement-run-{name}")

        dealer, _ = page_for("acme", size)
        dealer.set_default_timeout(30_000)
        sign_in(dealer, base, "dealer1@acme.test")
        dealer.wait_for_url("**/dealer/")
        dealer.goto(f"{base}/dealer/statements?month={label}")
        dealer.locator("table.list tbody tr a").first.click()
        dealer.wait_for_url("**/dealer/statements/*")
        v1_url = dealer.url
        assert dealer.locator("#statement-status").get_attribute("data-status") == "issued"
        payment_row = dealer.locator("tr[data-section=receivable]", has_text="回款").first
        payment_row.locator("input[name=line_id]").check()
        dealer.fill("#comment", "本月 20 日另有一笔 5,000.00 元回款未列入。")
        assert no_sideways_scroll(dealer)
        shot(dealer, f"statement-dispute-{name}")
        dealer.click("#dispute-form button[type=submit]")
        dealer.locator("#statement-status[data-status=disputed]").wait_for()
        assert "您的异议已提交" in dealer.locator("main").inner_text()

        with as_tenant("acme") as session:
            dispute_id = session.scalar(select(StatementDispute.id).where(StatementDispute.comment.like("本月 20 日%"))
                                        .order_by(StatementDispute.id.desc()))
            world.payment(session, dealer_id, month.replace(day=20), "5000.00", "补录回款")
        finance.goto(f"{base}/manufacturer/statements/disputes")
        card = finance.locator(f"#dispute-{dispute_id}")
        assert "5,000.00 元回款未列入" in card.inner_text()
        assert no_sideways_scroll(finance)
        shot(finance, f"statement-disputes-{name}")
        card.locator("button.primary").click()
        finance.wait_for_url("**/manufacturer/statements/*?job=*")
        finance.locator(".job .flash-success").wait_for(timeout=120_000)  # the job's fragment polled until done
        assert no_sideways_scroll(finance)

        dealer.goto(v1_url)
        assert dealer.locator("#statement-status").get_attribute("data-status") == "superseded"
        dealer.locator("p.flash a").first.click()  # "a newer version replaces this statement"
        dealer.wait_for_url("**/dealer/statements/*")
        assert dealer.url != v1_url and dealer.locator("#statement-status").get_attribute("data-status") == "issued"
        assert "第 2 版" in dealer.locator("main").inner_text()
        dealer.fill("#password", PASSWORD)
        dealer.click("#confirm button.primary")
        dealer.locator("#statement-status[data-status=confirmed]").wait_for()
        assert dealer.locator(".signature .meaning").first.inner_text() == "已确认"
        assert no_sideways_scroll(dealer)
        shot(dealer, f"statement-confirmed-{name}")
    finally:
        worker.terminate()
        worker.wait(10)
