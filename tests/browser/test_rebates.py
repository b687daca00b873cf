"""Rebates in a real browser: the channel manager edits a published policy's tiers (a
draft of the next version, a tier row added with htmx), simulates them on last
quarter's figures, and publishes; the dealer opens 返利 and sees the tier reached and the
progress bar to the next one — at desktop width and at 375 px."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.core.i18n import shanghai_today
from app.rebates import rules
from app.rebates.models import RebatePolicy
from tests.browser.conftest import shot
from tests.browser.test_journeys import no_sideways_scroll, sign_in
from tests.rebate_world import day_in, last_quarter, line_id, order, published, rebate_world  # noqa: F401

pytestmark = pytest.mark.browser
TIERS = [{"from": "500000", "rate": "2"}, {"from": "1000000", "rate": "3"}, {"from": "2000000", "rate": "4"}]


@pytest.fixture(scope="module")
def policy_ids(rworld, app):
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    lq = last_quarter()
    start = rules.parse_period(lq)[1]
    with app.app_context():
        tenant = by_slug(db.session, rworld)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("test seed"))
            cv = [line_id(session, "CV")]
            ids = {"tier1": published(session, code="B-T1", name="一级经销商季度采购返利", period="quarter",
                                      kind="volume", basis="purchase", method="retroactive", valid_from=start,
                                      tiers=TIERS, dealer_tiers=["tier1"], product_line_ids=cv),
                   "agent": published(session, code="B-AGENT", name="代理商分段累进返利", period="quarter",
                                      kind="volume", basis="purchase", method="incremental", valid_from=start,
                                      tiers=TIERS, dealer_tiers=["agent"], product_line_ids=cv)}
            order(session, "D-SH-002", day_in(lq), [("CV-DES-3018", 130, "10000.00")])
            order(session, "D-SH-001", shanghai_today(), [("CV-DES-3018", 75, "10000.00")], hour=0)
        db.session.remove()
    return ids


def _published_tier1(as_tenant, rworld) -> tuple[int, int]:
    """The published version of B-T1 (the other viewport's run may have published one) and its tier count."""
    with as_tenant(rworld) as session:
        policy = session.scalar(select(RebatePolicy).where(RebatePolicy.code == "B-T1", RebatePolicy.status == "published"))
        return policy.id, len(policy.tiers)


def test_manufacturer_edits_simulates_and_publishes_then_the_dealer_sees_the_tier(page_for, viewport, rworld,
                                                                                   policy_ids, as_tenant):
    name, size = viewport
    page, base = page_for(rworld, size)
    page.on("dialog", lambda dialog: dialog.accept())   # the publish confirmation
    sign_in(page, base, f"channel@{rworld}.test")
    page.wait_for_url("**/manufacturer/")
    policy_id, tier_count = _published_tier1(as_tenant, rworld)
    page.goto(f"{base}/manufacturer/rebate-policies/{policy_id}")
    page.click("text=编辑（生成新版本）")
    page.wait_for_url(re.compile(r".*/rebate-policies/\d+$"))
    assert page.locator("#policy-form").is_visible()
    rows = page.locator("#tier-rows tr")
    filled = [i for i in range(rows.count()) if rows.nth(i).locator("input[name=tier_from]").input_value()]
    assert len(filled) == tier_count
    new_top = str(3_000_000 + 1_000_000 * (tier_count - 3))
    rows.nth(1).locator("input[name=tier_rate]").fill("3.5")                       # 100万: 3 % → 3.5 %
    before = rows.count()
    page.click("button:has-text('添加档位')")                                       # htmx adds a row
    page.locator("#tier-rows tr").nth(before).wait_for()                          # (no eval: the CSP forbids it)
    page.locator("#tier-rows tr").last.locator("input[name=tier_from]").fill(new_top)
    page.locator("#tier-rows tr").last.locator("input[name=tier_rate]").fill("5")
    page.evaluate("window.__samePage = true")
    page.click("button:has-text('用上期数据模拟这些档位')")
    row = page.locator("#sim-dealers tr[data-dealer='D-SH-002']")
    row.wait_for()
    # 上海联拓 bought ¥1,300,000 last quarter: the draft pays 3.5 % = ¥45,500
    assert "¥45,500.00" in row.locator("td.draft").inner_text()
    assert page.evaluate("window.__samePage === true")                            # swapped in place
    assert no_sideways_scroll(page)
    shot(page, f"rebate-simulation-{name}")
    with page.expect_navigation():
        page.click("button:has-text('保存草稿')")
    assert "草稿已保存" in page.locator(".flash-success").inner_text()
    page.click("#publish")
    page.wait_for_selector(".flash-success")
    assert "已发布" in page.locator(".flash-success").inner_text()
    with as_tenant(rworld) as session:
        latest = session.scalar(select(RebatePolicy).where(RebatePolicy.code == "B-T1", RebatePolicy.status == "published"))
        assert latest.tiers[1] == {"from": "1000000.00", "rate": "0.0350"} and len(latest.tiers) == tier_count + 1

    page.context.clear_cookies()
    sign_in(page, base, f"dealer1@{rworld}.test")
    page.wait_for_url("**/dealer/")
    page.goto(f"{base}/dealer/rebates")
    card = page.locator("section.rebate[data-policy='B-AGENT']")
    assert "第 1 档 · 2%" in card.locator(".figure.tier").inner_text()
    assert "再采购 ¥250,000 即可达到 3% 档" in card.locator(".gap").inner_text()
    assert card.locator("progress").get_attribute("value") == "750000.00"
    assert card.locator("progress").is_visible()
    assert no_sideways_scroll(page)
    shot(page, f"dealer-rebates-{name}")
    card.locator("a", has_text="查看明细").click()
    page.wait_for_selector("#base-lines")
    assert "CV-DES-3018" in page.locator("#base-lines").inner_text()
    assert no_sideways_scroll(page)
