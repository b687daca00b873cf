"""Rebate pages through the test client: the manufacturer's policies (draft, errors by
field and tier row, simulation, publish, new version, retire), settlements (run, close,
results by region, export) and the dealer's "why this amount" — each route closed to
other tenants, other dealers, hospitals and regional managers outside the region."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.core.i18n import shanghai_today
from app.rebates import rules, settlement
from app.rebates.models import RebatePolicy
from tests.rebate_world import (day_in, last_quarter, line_id, order, published, rebate_world, sku,  # noqa: F401
                                this_quarter)

D = Decimal
LQ, CQ = last_quarter(), this_quarter()
TIERS = [{"from": "500000", "rate": "2"}, {"from": "1000000", "rate": "3"}, {"from": "2000000", "rate": "4"}]


@pytest.fixture(scope="module")
def ids(rworld, app):
    """Policies and transactions of the page tests, and last quarter settled."""
    from app.channel.models import Region
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    start = rules.parse_period(LQ)[1]
    today = shanghai_today()
    with app.app_context():
        tenant = by_slug(db.session, rworld)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("test seed"))
            cv = [line_id(session, "CV"), line_id(session, "SH")]
            out = {
                "agent": published(session, code="AGENT-INC", name="代理商分段累进返利", period="quarter", kind="volume",
                                   basis="purchase", method="incremental", valid_from=start, tiers=TIERS,
                                   dealer_tiers=["agent"], product_line_ids=cv, priority=10),
                "tier1": published(session, code="T1-RETRO", name="一级经销商季度采购返利", period="quarter",
                                   kind="volume", basis="purchase", method="retroactive", valid_from=start, tiers=TIERS,
                                   dealer_tiers=["tier1"], product_line_ids=cv, priority=10),
                "north": published(session, code="JJJ-ONLY", name="京津冀专项返利", period="quarter", kind="volume",
                                   basis="purchase", method="retroactive", valid_from=start,
                                   tiers=[{"from": "100000", "rate": "1"}],
                                   region_id=session.scalar(select(Region.id).where(Region.code == "JJJ"))),
            }
            # this quarter: 华东医疗器械 (agent) ¥750,000; 广州百仕达 (agent) ¥1,100,000
            order(session, "D-SH-001", today, [("CV-DES-3018", 75, "10000.00")], hour=0)
            order(session, "D-GD-001", today, [("CV-DES-3018", 110, "10000.00")], hour=0)
            # last quarter, settled below: agents and tier-1 dealers east and south
            order(session, "D-SH-001", day_in(LQ), [("CV-DES-3018", 125, "10000.00")])
            order(session, "D-GD-001", day_in(LQ), [("CV-DES-3018", 60, "10000.00")])
            order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 130, "10000.00")])
            order(session, "D-GD-002", day_in(LQ), [("CV-DES-3018", 90, "10000.00")])
            order(session, "D-BJ-002", day_in(LQ), [("CV-DES-3018", 20, "10000.00")])
            settlement.settle(session, LQ, None, today)
            out["draft"] = session.scalar(select(RebatePolicy.id).where(RebatePolicy.code == "T1-RETRO"))
        db.session.remove()
    return out


def test_policy_list_and_detail_are_scoped(signed_in, ids, rworld):
    admin = signed_in(rworld, "admin").get("/manufacturer/rebate-policies").get_data(as_text=True)
    assert "AGENT-INC" in admin and "JJJ-ONLY" in admin and "代理商分段累进返利" in admin
    east = signed_in(rworld, "sales.east")
    listing = east.get("/manufacturer/rebate-policies").get_data(as_text=True)
    assert "AGENT-INC" in listing and "JJJ-ONLY" not in listing
    assert east.get(f"/manufacturer/rebate-policies/{ids['north']}").status_code == 404
    assert east.get(f"/manufacturer/rebate-policies/{ids['agent']}").status_code == 200
    assert signed_in(rworld, "finance").get(f"/manufacturer/rebate-policies/{ids['north']}").status_code == 200
    for who in ("dealer1", "hospital1"):
        b = signed_in(rworld, who)
        assert b.get("/manufacturer/rebate-policies").status_code == 403
        assert b.get(f"/manufacturer/rebate-policies/{ids['agent']}").status_code == 403
    other = signed_in("globex", "admin").get(f"/manufacturer/rebate-policies/{ids['agent']}")
    assert other.status_code == 404 or "AGENT-INC" not in other.get_data(as_text=True)  # ids are per tenant
    detail = signed_in(rworld, "channel").get(f"/manufacturer/rebate-policies/{ids['agent']}").get_data(as_text=True)
    assert "¥500,000" in detail and "2%" in detail and "¥2,000,000" in detail and "4%" in detail


def test_new_policy_errors_are_shown_next_to_the_field_and_the_tier_row(signed_in, rworld, ids):
    channel = signed_in(rworld, "channel")
    form = {"code": "", "name": "测试政策", "period": "quarter", "kind": "volume", "basis": "purchase",
            "method": "retroactive", "valid_from": (rules.parse_period(CQ)[1] + timedelta(days=14)).isoformat(),
            "tier_from": ["500000", "300000", "abc"], "tier_rate": ["2", "150", "3"], "priority": "10",
            "cap_rate": "nan", "cap_amount": "9999999999999999", "region_id": "²"}
    bad = channel.post("/manufacturer/rebate-policies/new", form, token_from="/manufacturer/rebate-policies/new")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert html.count('class="error"') >= 6
    assert "此项为必填项" in html or "必填" in html                       # code
    assert "每个门槛必须高于上一档" in html                               # tier row 2 threshold
    assert "费率为 0 到 100%" in html                                     # tier row 2 rate
    assert "周期的第一天" in html                                         # valid_from mid-quarter
    with_rows = re.findall(r'name="tier_from" value="([^"]*)"', html)
    assert with_rows[:3] == ["500000", "300000", "abc"]                  # what was typed comes back, in order
    assert signed_in(rworld, "finance").get("/manufacturer/rebate-policies/new").status_code == 403


def test_a_draft_is_simulated_then_published_in_place_of_the_current_version(signed_in, rworld, ids, as_tenant):
    channel = signed_in(rworld, "channel")
    revised = channel.post(f"/manufacturer/rebate-policies/{ids['tier1']}/revise",
                           token_from=f"/manufacturer/rebate-policies/{ids['tier1']}")
    assert revised.status_code == 303
    draft_url = revised.headers["Location"]
    draft_id = int(draft_url.rsplit("/", 1)[1])
    page = channel.get(draft_url).get_data(as_text=True)
    assert 'name="tier_from"' in page and "模拟" in page
    values = {"name": "一级经销商季度采购返利（2 版）", "period": "quarter", "kind": "volume", "basis": "purchase",
              "method": "retroactive", "valid_from": rules.parse_period(CQ)[1].isoformat(),
              "tier_from": ["500000", "800000"], "tier_rate": ["2", "3.5"], "dealer_tiers": ["tier1"], "priority": "10",
              "usable_as": ["offset", "free_goods"]}
    sim = channel.post(f"/manufacturer/rebate-policies/{draft_id}/simulate", values, token_from=draft_url,
                       headers={"HX-Request": "true"})
    html = sim.get_data(as_text=True)
    assert sim.status_code == 200 and "<html" not in html
    # 上海联拓 bought ¥1,300,000 last quarter: now 3 % = ¥39,000, the draft 3.5 % = ¥45,500
    row = re.search(r'<tr data-dealer="D-SH-002">.*?</tr>', html, re.S).group(0)
    assert "¥39,000.00" in row and "¥45,500.00" in row and "+¥6,500.00" in row
    below = re.search(r'<tr data-dealer="D-BJ-002">.*?</tr>', html, re.S).group(0)   # ¥200,000: no tier either way
    assert below.count("¥0.00") == 2 and "—" in below
    east = signed_in(rworld, "sales.east").get(f"/manufacturer/rebate-policies/{draft_id}/simulate",
                                               headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-dealer="D-SH-002"' in east and 'data-dealer="D-GD-002"' not in east   # only their region
    saved = channel.post(f"/manufacturer/rebate-policies/{draft_id}/save", values, token_from=draft_url)
    assert saved.status_code == 303
    assert signed_in(rworld, "finance").post(f"/manufacturer/rebate-policies/{draft_id}/publish",
                                             token_from="/manufacturer/").status_code == 403
    done = channel.post(f"/manufacturer/rebate-policies/{draft_id}/publish", token_from=draft_url)
    assert done.status_code == 303
    with as_tenant(rworld) as session:
        v1, v2 = session.get(RebatePolicy, ids["tier1"]), session.get(RebatePolicy, draft_id)
        assert (v1.status, v2.status, v2.version) == ("retired", "published", 2)
        assert v2.tiers == [{"from": "500000.00", "rate": "0.0200"}, {"from": "800000.00", "rate": "0.0350"}]


def test_tier_row_fragment_and_discard(signed_in, rworld, ids):
    channel = signed_in(rworld, "channel")
    row = channel.get("/manufacturer/rebate-policies/tier-row", headers={"HX-Request": "true"})
    assert row.status_code == 200 and 'name="tier_from"' in row.get_data(as_text=True)
    assert "<html" not in row.get_data(as_text=True)
    revised = channel.post(f"/manufacturer/rebate-policies/{ids['agent']}/revise",
                           token_from=f"/manufacturer/rebate-policies/{ids['agent']}")
    draft_id = int(revised.headers["Location"].rsplit("/", 1)[1])
    again = channel.post(f"/manufacturer/rebate-policies/{ids['agent']}/revise",
                         token_from=f"/manufacturer/rebate-policies/{ids['agent']}")
    assert again.headers["Location"] == revised.headers["Location"]      # one open draft per policy
    gone = channel.post(f"/manufacturer/rebate-policies/{draft_id}/discard", token_from="/manufacturer/")
    assert gone.status_code == 303 and channel.get(f"/manufacturer/rebate-policies/{draft_id}").status_code == 404
    assert signed_in(rworld, "dealer1").get("/manufacturer/rebate-policies/tier-row",
                                            headers={"HX-Request": "true"}).status_code == 403


def test_settlement_page_results_are_scoped_by_region(signed_in, rworld, ids):
    admin = signed_in(rworld, "admin").get(f"/manufacturer/rebate-settlements?period={LQ}").get_data(as_text=True)
    assert 'data-period="%s"' % LQ in admin
    for code in ("D-SH-001", "D-GD-001", "D-SH-002", "D-GD-002"):
        assert f'data-dealer="{code}"' in admin
    # 华东医疗器械 (agent, incremental): (1,000,000 − 500,000) × 2 % + 250,000 × 3 % = 17,500
    row = re.search(r'<tr data-dealer="D-SH-001" data-policy="AGENT-INC">.*?</tr>', admin, re.S).group(0)
    assert "¥17,500.00" in row and "¥1,250,000.00" in row
    east = signed_in(rworld, "sales.east").get(f"/manufacturer/rebate-settlements?period={LQ}").get_data(as_text=True)
    assert 'data-dealer="D-SH-001"' in east and 'data-dealer="D-GD-001"' not in east
    assert "关闭" not in east  # a regional manager neither settles nor closes
    for who in ("dealer1", "hospital1"):
        assert signed_in(rworld, who).get("/manufacturer/rebate-settlements").status_code == 403
    globex = signed_in("globex", "admin").get(f"/manufacturer/rebate-settlements?period={LQ}").get_data(as_text=True)
    assert "D-SH-001" not in globex


def test_settle_and_close_from_the_page(signed_in, rworld, ids, run_worker, as_tenant):
    finance = signed_in(rworld, "finance")
    page = finance.get("/manufacturer/rebate-settlements").get_data(as_text=True)
    rid = re.search(r'name="request_id" value="([0-9a-f]+)"', page).group(1)
    early = finance.post("/manufacturer/rebate-settlements/settle", {"period_key": CQ, "request_id": rid},
                         token_from="/manufacturer/rebate-settlements")
    assert early.status_code == 400 and "结束" in early.get_data(as_text=True)
    garbage = finance.post("/manufacturer/rebate-settlements/settle", {"period_key": "2026-Q9", "request_id": rid},
                           token_from="/manufacturer/rebate-settlements")
    assert garbage.status_code == 400
    assert signed_in(rworld, "channel").post("/manufacturer/rebate-settlements/settle",
                                             {"period_key": LQ, "request_id": rid},
                                             token_from="/manufacturer/").status_code == 403
    asked = finance.post("/manufacturer/rebate-settlements/settle", {"period_key": LQ, "request_id": rid},
                         token_from="/manufacturer/rebate-settlements")
    assert asked.status_code == 303
    running = finance.get(asked.headers["Location"]).get_data(as_text=True)
    assert "<progress" in running or "等待" in running
    run_worker()
    done = finance.get(f"/manufacturer/rebate-settlements?period={LQ}").get_data(as_text=True)
    assert "0 条结算" in done or "已完成" in done
    assert signed_in(rworld, "channel").post("/manufacturer/rebate-settlements/close", {"period_key": LQ},
                                             token_from="/manufacturer/").status_code == 403
    closed = finance.post("/manufacturer/rebate-settlements/close", {"period_key": LQ},
                          token_from=f"/manufacturer/rebate-settlements?period={LQ}")
    assert closed.status_code == 303
    again = finance.post("/manufacturer/rebate-settlements/settle",
                         {"period_key": LQ, "request_id": uuid.uuid4().hex}, token_from="/manufacturer/rebate-settlements")
    assert again.status_code == 400 and "已关闭" in again.get_data(as_text=True)


def test_settlement_export_has_the_rows_the_page_shows(signed_in, rworld, ids, run_worker):
    import io

    from openpyxl import load_workbook

    east = signed_in(rworld, "sales.east")
    page = east.get(f"/manufacturer/rebate-settlements?period={LQ}").get_data(as_text=True)
    block = re.search(r'action="/manufacturer/exports" class="export">(.*?)</form>', page, re.S).group(1)
    form = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', block))
    assert form["list"] == "rebate_settlement" and form["period"] == LQ
    response = east.post("/manufacturer/exports", form, token_from=f"/manufacturer/rebate-settlements?period={LQ}")
    assert response.status_code == 303
    run_worker()
    job_page = east.get(response.headers["Location"]).get_data(as_text=True)
    data = east.get(re.search(r'href="(/documents/\d+)"', job_page).group(1)).data
    rows = list(load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True))
    dealers = {r[2] for r in rows[1:]}
    assert "D-SH-001" in dealers and "D-SH-002" in dealers and "D-GD-001" not in dealers


def test_dealer_sees_why_and_what_it_takes_to_reach_the_next_tier(signed_in, rworld, ids):
    dealer1 = signed_in(rworld, "dealer1")
    page = dealer1.get("/dealer/rebates").get_data(as_text=True)
    card = re.search(r'<section class="card rebate" data-policy="AGENT-INC">.*?</section>', page, re.S).group(0)
    assert "¥750,000.00" in card                               # the base
    assert "再采购 ¥250,000 即可达到 3% 档" in card              # the next threshold
    assert '<progress max="1000000.00" value="750000.00"' in card
    assert "¥5,000.00" in card                                 # (750,000 − 500,000) × 2 %
    assert "T1-RETRO" not in page and "JJJ-ONLY" not in page    # policies for others
    last = dealer1.get(f"/dealer/rebates?period={LQ}").get_data(as_text=True)
    assert "¥17,500.00" in last and "已结算" in last
    dealer2 = signed_in(rworld, "dealer2").get("/dealer/rebates").get_data(as_text=True)
    assert "¥1,100,000.00" in dealer2 and "¥750,000.00" not in dealer2


def test_dealer_lines_behind_the_base_are_its_own(signed_in, rworld, ids, as_tenant):
    from app.orders.models import Order

    dealer1 = signed_in(rworld, "dealer1")
    page = dealer1.get(f"/dealer/rebates/{ids['agent']}?period={LQ}").get_data(as_text=True)
    assert "CV-DES-3018" in page and "¥1,250,000.00" in page
    with as_tenant(rworld) as session:
        numbers = set(session.scalars(select(Order.number).join(Order.dealer).where(
            Order.dealer.has(code="D-GD-001"))))
    assert not any(n in page for n in numbers)
    assert signed_in(rworld, "dealer2").get(f"/dealer/rebates/{ids['agent']}?period={LQ}").status_code == 200
    assert dealer1.get(f"/dealer/rebates/{ids['tier1']}").status_code == 404     # a tier-1 policy: not theirs
    assert dealer1.get(f"/dealer/rebates/{ids['north']}").status_code == 404     # 京津冀 only
    assert dealer1.get("/dealer/rebates/99999999").status_code == 404
    assert dealer1.get(f"/dealer/rebates/{ids['agent']}?period=2026-Q9&after=%E2%88%9E").status_code == 200
    assert dealer1.get("/dealer/rebates?period=../../etc").status_code == 200
    assert signed_in(rworld, "hospital1").get("/dealer/rebates").status_code == 403
    assert signed_in(rworld, "admin").get("/dealer/rebates").status_code == 403
    other = signed_in("globex", "dealer1").get(f"/dealer/rebates/{ids['agent']}")
    assert other.status_code == 404 or "代理商分段累进返利" not in other.get_data(as_text=True)


def test_every_rebate_route_is_closed_to_other_portals_and_roles(signed_in, rworld, ids):
    p = ids["agent"]
    pages = ["/manufacturer/rebate-policies", "/manufacturer/rebate-policies/new", f"/manufacturer/rebate-policies/{p}",
             f"/manufacturer/rebate-policies/{p}/simulate", "/manufacturer/rebate-settlements"]
    actions = ["/manufacturer/rebate-policies/new", f"/manufacturer/rebate-policies/{p}/save",
               f"/manufacturer/rebate-policies/{p}/simulate", f"/manufacturer/rebate-policies/{p}/publish",
               f"/manufacturer/rebate-policies/{p}/revise", f"/manufacturer/rebate-policies/{p}/retire",
               f"/manufacturer/rebate-policies/{p}/discard", "/manufacturer/rebate-settlements/settle",
               "/manufacturer/rebate-settlements/close", "/manufacturer/rebate-settlements/accrue"]
    for who, home in (("dealer1", "/dealer/"), ("hospital1", "/hospital/"), ("qa", "/manufacturer/"),
                      ("service", "/manufacturer/")):
        b = signed_in(rworld, who)
        for url in pages:
            assert b.get(url).status_code == 403, (who, url)
        for url in actions:
            assert b.post(url, {"period_key": LQ, "request_id": uuid.uuid4().hex}, token_from=home).status_code == 403, (who, url)
    east = signed_in(rworld, "sales.east")  # sees, never changes
    for url in actions:
        assert east.post(url, {"period_key": LQ, "request_id": uuid.uuid4().hex},
                         token_from="/manufacturer/").status_code in (403, 404), url
    for who in ("admin", "hospital1"):
        b = signed_in(rworld, who)
        assert b.get("/dealer/rebates").status_code == 403 and b.get(f"/dealer/rebates/{p}").status_code == 403
