"""The rebate ledger's pages and the order form's rebate use, through the test client:
the dealer's ledger (figures, filters, keyset pages, running balance, links), one entry
explained, the manufacturer's balances per dealer (region filter, export) and one
dealer's ledger, the settings page, 票折 and 货补 on the order form with errors next to
their fields, and who may open what — another tenant, another dealer, a hospital user,
a regional manager outside the region."""
import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.catalog.models import Sku
from app.channel.models import Dealer
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.rebates import ledger
from app.rebates.models import RebateLedgerEntry as Entry
from app.rebates.models import RebatePolicy

Y = Decimal
TODAY = shanghai_today()


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return {**{c: i for c, i in s.execute(select(Dealer.code, Dealer.id))},
                **{c: i for c, i in s.execute(select(Sku.code, Sku.id))},
                **{e.split("@")[0]: i for e, i in s.execute(select(User.email, User.id))}}


@pytest.fixture()
def settled(as_tenant, acme):
    """A settled credit of 华东医疗器械 under a policy, with the engine's explanation."""
    with as_tenant("acme") as s:
        policy = RebatePolicy(code="P-" + uuid.uuid4().hex[:6], name="心内介入进货返利", status="published",
                              valid_from=TODAY, method="retroactive", expires_after_days=120)
        s.add(policy)
        s.flush()
        entry = ledger.add_credit(s, acme["D-SH-001"], "settled", Y("48000.00"), TODAY, policy=policy,
                                  period_key="2026-Q3", base_amount=Y("1600000.00"), rate=Y("0.03"), tier_index=1,
                                  explanation={"tier": 2, "rate": "0.03", "base": "1600000.00",
                                               "next_threshold": "3000000.00", "next_rate": "0.04",
                                               "to_next": "1400000.00", "line_count": 42, "region_factor": "1.0"})
        return {"entry_id": entry.id, "policy_id": policy.id}


def test_dealer_ledger_shows_figures_entries_and_running_balance(signed_in, settled, as_tenant, acme):
    page = signed_in("acme", "dealer1").get("/dealer/rebate-ledger")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "返利台账" in html and "可用余额" in html and "可用于票折" in html and "可用于货补" in html
    assert "30 天内" in html and "90 天内" in html and "未结期间预提" in html
    assert f'id="entry-{settled["entry_id"]}"' in html
    with as_tenant("acme") as s:
        balance = ledger.balance(s, acme["D-SH-001"])
        figures = ledger.balances(s, acme["D-SH-001"])
    assert f"¥{balance:,}" in html[html.index('id="figure-balance"'):][:200]
    assert f"¥{figures.usable_offset:,}" in html[html.index('id="figure-offset"'):][:200]
    # the newest row carries the balance after it
    first_row = re.search(r'<tr id="entry-\d+" data-kind="(\w+)">(.*?)</tr>', html, re.S)
    assert first_row.group(1) != "accrued" and f"¥{balance:,}" in first_row.group(2)


def test_dealer_ledger_filters_by_kind_policy_and_period(signed_in, settled):
    b = signed_in("acme", "dealer1")
    html = b.get(f"/dealer/rebate-ledger?kind=settled&policy={settled['policy_id']}&period=2026-Q3").get_data(as_text=True)
    kinds = set(re.findall(r'<tr id="entry-\d+" data-kind="(\w+)">', html))
    assert kinds == {"settled"} and f'id="entry-{settled["entry_id"]}"' in html
    htmx = b.get("/dealer/rebate-ledger?kind=used", headers={"HX-Request": "true"})
    assert "<html" not in htmx.get_data(as_text=True) and set(re.findall(
        r'data-kind="(\w+)">', htmx.get_data(as_text=True))) <= {"used"}
    assert b.get("/dealer/rebate-ledger?kind=bogus&policy=²&period=" + "9" * 40).status_code == 200


def test_dealer_ledger_pages_walk_every_entry_once(signed_in, as_tenant, acme):
    dealer_id = acme["D-HN-001"]
    with as_tenant("acme") as s:
        ids = [ledger.add_credit(s, dealer_id, "claim", Y(n + 1), TODAY).id for n in range(60)]
        user = User(email=f"hn-{uuid.uuid4().hex[:6]}@acme.test", name="罗娟", portal="dealer", roles=["dealer_owner"],
                    dealer_id=dealer_id, password_hash=s.get(User, acme["dealer1"]).password_hash)
        s.add(user)
        s.flush()
        email = user.email
    b = signed_in("acme", email.split("@")[0])
    seen, url = [], "/dealer/rebate-ledger"
    while url:
        html = b.get(url).get_data(as_text=True)
        seen += [int(i) for i in re.findall(r'<tr id="entry-(\d+)"', html)]
        nxt = re.search(r'href="([^"]*after=[^"]+)"[^>]*rel="next"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert seen == sorted(ids, reverse=True)
    # the balance after the newest is the sum of all sixty (1 + 2 + … + 60)
    first = b.get("/dealer/rebate-ledger").get_data(as_text=True)
    assert "¥1,830.00" in re.search(rf'<tr id="entry-{ids[-1]}".*?</tr>', first, re.S).group(0)


def test_an_entry_is_explained_in_sentences_with_what_produced_it(signed_in, settled):
    html = signed_in("acme", "dealer1").get(f"/dealer/rebate-ledger/{settled['entry_id']}").get_data(as_text=True)
    assert "计算基数为 ¥1,600,000.00：达到第 2 档，返利率 3 %。" in html
    assert "全额累进：达到档位的返利率适用于全部基数。" in html
    assert "下一档起点为 ¥3,000,000.00（返利率 4 %）：再增加 ¥1,400,000.00 即可达到。" in html
    assert "计算基数由 42 条交易明细构成。" in html and "region_factor" in html
    assert "可使用至" in html and "可用于：票折, 货补。" in html


def test_a_use_links_to_its_order_and_the_credit_links_back(signed_in, as_tenant, acme, settled):
    from app.orders import operations as ops

    with as_tenant("acme") as s:
        order = ops.place_order(s, s.get(Dealer, acme["D-SH-001"]), s.get(User, acme["dealer1"]),
                                [{"sku_id": acme["CV-NC-3012"], "quantity": 10}], rebate_offset="1000")
        use = s.scalar(select(Entry).where(Entry.ref_type == "orders", Entry.ref_id == order.id))
        order_id, number, use_id, credit_id = order.id, order.number, use.id, use.explanation["credit_entry_id"]
    b = signed_in("acme", "dealer1")
    html = b.get(f"/dealer/rebate-ledger/{use_id}").get_data(as_text=True)
    assert f'href="/dealer/orders/{order_id}"' in html and number in html
    assert f'href="/dealer/rebate-ledger/{credit_id}"' in html
    credit_page = b.get(f"/dealer/rebate-ledger/{credit_id}").get_data(as_text=True)
    assert "这笔返利的使用情况" in credit_page and f'href="/dealer/rebate-ledger/{use_id}"' in credit_page
    order_page = b.get(f"/dealer/orders/{order_id}").get_data(as_text=True)
    assert 'id="order-rebate-offset">−¥1,000.00' in order_page and 'data-kind="rebate_used"' in order_page
    channel = signed_in("acme", "channel").get(f"/manufacturer/orders/{order_id}").get_data(as_text=True)
    assert 'id="order-rebate-offset"' in channel and f"/manufacturer/rebate-ledger/dealers/{acme['D-SH-001']}" in channel


# --- the order form ------------------------------------------------------------------------------------

def _form(html: str) -> dict:
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
            "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)}


def test_the_order_form_shows_the_balance_and_places_an_order_with_offset_and_free_goods(signed_in, as_tenant, acme):
    with as_tenant("acme") as s:
        ledger.add_credit(s, acme["D-SH-001"], "claim", Y("20000.00"), TODAY)
        usable = ledger.usable(s, acme["D-SH-001"], "offset")
    b = signed_in("acme", "dealer1")
    html = b.get("/dealer/orders/new").get_data(as_text=True)
    assert 'name="rebate_offset"' in html and 'name="free_sku_id"' in html
    assert f"¥{usable:,}" in html[html.index('id="usable-offset"'):][:100] and "票折最多为订单金额的 30 %" in html
    data = {**_form(html), "sku_id": [str(acme["CV-NC-3012"])], "quantity": ["10"],
            "free_sku_id": [str(acme["CV-INF-30"])], "free_quantity": ["2"], "rebate_offset": "5000"}
    checked = b.post("/dealer/orders/new", {**data, "action": "check"}, headers={"HX-Request": "true"})
    body = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "货补价值 ¥700.00" in body and "最多 ¥5,250.00" in body
    assert "扣除票折 ¥5,000.00 后应付 ¥12,500.00" in body
    placed = b.post("/dealer/orders/new", {**data, "action": "place"})
    assert placed.status_code == 303
    order_html = b.get(placed.headers["Location"]).get_data(as_text=True)
    assert "−¥5,000.00" in order_html and 'id="order-free-goods">¥700.00' in order_html and "价值 ¥700.00" in order_html


def test_the_order_form_puts_rebate_errors_next_to_their_fields(signed_in, acme):
    b = signed_in("acme", "dealer1")
    html = b.get("/dealer/orders/new").get_data(as_text=True)
    data = {**_form(html), "sku_id": [str(acme["CV-INF-30"])], "quantity": ["1"], "rebate_offset": "nan",
            "action": "place"}
    refused = b.post("/dealer/orders/new", data)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="rebate_offset-error">请输入金额' in body
    capped = b.post("/dealer/orders/new", {**data, "rebate_offset": "300"})
    assert capped.status_code == 422 and "票折金额最多为订单金额的 30 %" in capped.get_data(as_text=True)
    free = b.post("/dealer/orders/new", {**data, "rebate_offset": "", "free_sku_id": [str(acme["CV-DCB-3020"])],
                                         "free_quantity": ["100000"]})
    assert free.status_code == 422 and 'id="free_goods-error"' in free.get_data(as_text=True)
    more = b.get("/dealer/orders/new?row=1&free=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'name="free_sku_id"' in more and 'id="free_line-new-' in more


# --- the manufacturer's pages ----------------------------------------------------------------------

def test_manufacturer_balances_per_dealer_with_region_filter(signed_in, settled, as_tenant, acme):
    from app.channel.models import Region

    channel = signed_in("acme", "channel")
    html = channel.get("/manufacturer/rebate-ledger").get_data(as_text=True)
    assert 'data-dealer="D-SH-001"' in html and "返利余额" in html
    with as_tenant("acme") as s:
        south = s.scalar(select(Region.id).where(Region.code == "SOUTH"))
    only_south = channel.get(f"/manufacturer/rebate-ledger?region={south}").get_data(as_text=True)
    assert 'data-dealer="D-SH-001"' not in only_south
    search = channel.get("/manufacturer/rebate-ledger?q=华东").get_data(as_text=True)
    assert 'data-dealer="D-SH-001"' in search and 'data-dealer="D-ZJ-001"' not in search
    dealer_page = channel.get(f"/manufacturer/rebate-ledger/dealers/{acme['D-SH-001']}").get_data(as_text=True)
    assert f'id="entry-{settled["entry_id"]}"' in dealer_page
    assert f'href="/manufacturer/rebate-ledger/entries/{settled["entry_id"]}"' in dealer_page
    entry = channel.get(f"/manufacturer/rebate-ledger/entries/{settled['entry_id']}").get_data(as_text=True)
    assert "计算基数为 ¥1,600,000.00" in entry


def test_manufacturer_exports_the_balances_it_sees(signed_in, as_tenant, acme, run_worker, settled):
    import io

    from openpyxl import load_workbook

    from app.compliance.models import Job

    east = signed_in("acme", "sales.east")
    response = east.post("/manufacturer/exports", {"list": "rebate_balances", "request_id": uuid.uuid4().hex},
                         token_from="/manufacturer/rebate-ledger")
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    job_id = int(re.search(r"/jobs/(\d+)$", response.headers["Location"]).group(1))
    run_worker()
    with as_tenant("acme") as s:
        job = s.get(Job, job_id)
        assert job.status == "done", job.error
        document_id = job.document_id
    rows = list(load_workbook(io.BytesIO(east.get(f"/documents/{document_id}").data)).worksheets[0].iter_rows(values_only=True))
    codes = [r[2] for r in rows[1:]]
    assert "D-SH-001" in codes and "D-GD-001" not in codes


def test_rebate_use_settings_are_for_admins_and_checked(signed_in, as_tenant):
    assert signed_in("acme", "finance").get("/manufacturer/rebate-use-settings").status_code == 403
    admin = signed_in("acme", "admin")
    bad = admin.post("/manufacturer/rebate-use-settings", {"rebate_offset_max_pct": "130", "rebate_credit_expiry_days": "x"})
    assert bad.status_code == 400 and 'id="f-rebate_offset_max_pct-error"' in bad.get_data(as_text=True)
    ok = admin.post("/manufacturer/rebate-use-settings", {"rebate_offset_max_pct": "30", "rebate_credit_expiry_days": "365"})
    assert ok.status_code == 303


# --- who may open what ---------------------------------------------------------------------------------

def test_ledger_pages_are_closed_to_other_dealers_hospitals_other_tenants_and_regions(signed_in, settled, acme):
    entry = settled["entry_id"]
    dealer1 = acme["D-SH-001"]
    # another dealer: not its entry
    assert signed_in("acme", "dealer2").get(f"/dealer/rebate-ledger/{entry}").status_code == 404
    d2 = signed_in("acme", "dealer2").get("/dealer/rebate-ledger").get_data(as_text=True)
    assert f'id="entry-{entry}"' not in d2
    # a hospital user: no ledger anywhere
    hospital = signed_in("acme", "hospital1")
    for path in ("/dealer/rebate-ledger", f"/dealer/rebate-ledger/{entry}", "/manufacturer/rebate-ledger",
                 f"/manufacturer/rebate-ledger/dealers/{dealer1}", f"/manufacturer/rebate-ledger/entries/{entry}"):
        assert hospital.get(path).status_code == 403, path
    # dealers do not open the manufacturer's pages
    assert signed_in("acme", "dealer1").get("/manufacturer/rebate-ledger").status_code == 403
    # another tenant: acme's ids mean nothing there
    globex = signed_in("globex", "dealer1")
    assert globex.get(f"/dealer/rebate-ledger/{entry}").status_code == 404
    assert signed_in("globex", "admin").get(f"/manufacturer/rebate-ledger/entries/{entry}").status_code == 404
    assert signed_in("globex", "admin").get(f"/manufacturer/rebate-ledger/dealers/{dealer1}").status_code == 404
    # a regional manager outside the dealer's region
    south = signed_in("acme", "sales.south")
    assert south.get(f"/manufacturer/rebate-ledger/dealers/{dealer1}").status_code == 404
    assert south.get(f"/manufacturer/rebate-ledger/entries/{entry}").status_code == 404
    assert 'data-dealer="D-SH-001"' not in south.get("/manufacturer/rebate-ledger").get_data(as_text=True)
    east = signed_in("acme", "sales.east")
    assert east.get(f"/manufacturer/rebate-ledger/entries/{entry}").status_code == 200
    # a role without the ledger
    assert signed_in("acme", "qa").get("/manufacturer/rebate-ledger").status_code == 403
