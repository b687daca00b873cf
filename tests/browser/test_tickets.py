"""Browser journey: the hospital's equipment department raises a service ticket for its
analyzer, after-sales sees it in the queue with its SLA timer, assigns it and resolves
it, and the hospital confirms the fix with a rating — on a desktop and on a phone."""
import re

import pytest
from sqlalchemy import select

from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in

pytestmark = pytest.mark.browser


def test_hospital_raises_after_sales_resolves_hospital_confirms(page_for, viewport, as_tenant):
    from app.service.models import ServiceTicket

    name, size = viewport
    title = f"化学发光仪温控报警（{name}）"

    page, base = page_for("acme", size)
    sign_in(page, base, "hospital1@acme.test")
    page.wait_for_url("**/hospital/")
    page.goto(f"{base}/hospital/tickets")
    page.click("text=报修")
    page.wait_for_url("**/hospital/tickets/new")
    page.select_option("select[name=unit_id]", index=1)
    page.select_option("select[name=urgency]", "critical")
    page.fill("input[name=title]", title)
    page.fill("textarea[name=description]", "孵育盘温度波动，仪器提示 E-31 后暂停测试。")
    assert no_sideways_scroll(page)
    shot(page, f"ticket-new-{name}")
    page.click("form.card button[type=submit].primary")
    page.wait_for_url(re.compile(r".*/hospital/tickets/\d+$"))
    number = page.locator("h1").inner_text().split()[0]
    assert number.startswith("TK-") and "待受理" in page.locator(".page-head").inner_text()
    ticket_id = int(page.url.rsplit("/", 1)[1])

    page, base = page_for("acme", size)
    sign_in(page, base, "service@acme.test")
    page.wait_for_url("**/manufacturer/")
    page.goto(f"{base}/manufacturer/tickets?urgency=critical")
    row = page.locator("table.tickets tr", has_text=number)
    assert row.locator("[data-sla]").count() >= 1  # the live timer
    assert no_sideways_scroll(page)
    shot(page, f"ticket-queue-{name}")
    row.locator(f"a:has-text('{number}')").click()
    page.wait_for_url(f"**/manufacturer/tickets/{ticket_id}")
    page.select_option("select[name=assigned_to_id]", label="售后 钱斌")
    page.click("button:has-text('派工')")
    page.wait_for_url(f"**/manufacturer/tickets/{ticket_id}")
    assert "已派工" in page.locator(".page-head").inner_text()
    page.fill("textarea[name=resolution]", "更换孵育盘温控传感器，温度稳定，质控在控。")
    page.click("button:has-text('标记为已解决')")
    page.wait_for_url(f"**/manufacturer/tickets/{ticket_id}")
    assert "已解决" in page.locator(".page-head").inner_text()
    assert no_sideways_scroll(page)
    shot(page, f"ticket-resolved-{name}")
    page.goto(f"{base}/manufacturer/service-times")
    assert page.locator("tr[data-region='华东']").count() == 1
    assert no_sideways_scroll(page)
    shot(page, f"service-times-{name}")
    page.goto(f"{base}/manufacturer/sla-policies")
    assert no_sideways_scroll(page)
    shot(page, f"sla-policies-{name}")

    page, base = page_for("acme", size)
    sign_in(page, base, "hospital1@acme.test")
    page.wait_for_url("**/hospital/")
    page.goto(f"{base}/hospital/tickets/{ticket_id}")
    assert "更换孵育盘温控传感器" in page.locator("main").inner_text()
    page.select_option("select[name=rating]", "5")
    page.fill("input[name=rating_comment]", "工程师两小时内到场")
    page.click("button:has-text('确认已修复')")
    page.wait_for_url(f"**/hospital/tickets/{ticket_id}")
    assert "已确认" in page.locator(".page-head").inner_text()
    timeline = page.locator("ol.timeline").inner_text()
    for step in ("报修", "派工", "已解决", "医院已确认"):
        assert step in timeline
    assert no_sideways_scroll(page)
    shot(page, f"ticket-confirmed-{name}")
    with as_tenant("acme") as s:
        t = s.get(ServiceTicket, ticket_id)
        assert (t.status, t.rating, t.urgency) == ("confirmed", 5, "critical")
        assert t.responded_at is not None and t.resolved_at is not None
