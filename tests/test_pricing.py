"""Prices: lists, bands and awards saved through the operations, and resolve_price's
answer (precedence, explanation, band check); the pricing pages and who may see them."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.core.errors import InvalidInput
from app.pricing import operations as ops
from app.pricing.models import PriceList, PriceListItem
from app.pricing.queries import dealer_price_sheet, resolve_price
from tests.test_authorizations import acme  # noqa: F401  (fixture)

DAY = date(2040, 6, 1)


def _pl(s, code, channel, region_id, start="2040-01-01", until=None):
    return ops.save_price_list(s, {"code": code, "name": code, "channel": channel, "region_id": region_id,
                                   "valid_from": start, "valid_until": until})


@pytest.fixture()
def priced(as_tenant, acme):  # noqa: F811
    """National, 华东 and 上海 distribution lists, an agent list, a 华东 alliance award and a
    hospital award for CV-DCB-3020 in 2040, and a band."""
    sku = acme["CV-DCB-3020"]
    with as_tenant("acme") as s:
        if s.scalar(select(PriceList.id).where(PriceList.code == "PL40-NAT")):
            return acme
        for code, channel, region, price in (("PL40-NAT", "distribution", None, "9000"),
                                             ("PL40-EAST", "distribution", acme["region:EAST"], "8800"),
                                             ("PL40-SH", "distribution", acme["region:SH"], "8600"),
                                             ("PL40-AGT", "agent", None, "8000"),
                                             ("PL40-DIR", "direct", None, "12000")):
            pl = _pl(s, code, channel, region)
            ops.save_price_list_item(s, {"price_list_id": pl.id, "sku_id": sku, "price": price})
        newer = _pl(s, "PL40-SH-NEW", "distribution", acme["region:SH"], start="2040-05-01")
        ops.save_price_list_item(s, {"price_list_id": newer.id, "sku_id": sku, "price": "8500"})
        ops.save_tender_price(s, {"award_no": "HD-2040-ALL", "sku_id": sku, "region_id": acme["region:EAST"],
                                  "alliance_name": "华东省际联盟", "price": "7000", "valid_from": "2040-01-01",
                                  "valid_until": "2040-12-31"})
        ops.save_tender_price(s, {"award_no": "ZS-2040-01", "sku_id": sku, "hospital_id": acme["H-SH-001"],
                                  "price": "6500", "valid_from": "2040-01-01", "valid_until": "2040-12-31"})
        ops.save_price_band(s, {"sku_id": sku, "floor": "6800", "ceiling": "9500", "valid_from": "2040-01-01"})
    return acme


def test_hospital_award_beats_alliance_beats_price_lists(as_tenant, priced):
    a, sku = priced, priced["CV-DCB-3020"]
    with as_tenant("acme") as s:
        own = resolve_price(s, a["D-SH-002"], a["H-SH-001"], sku, DAY)
        assert (own.price, own.source, own.record) == (Decimal("6500.00"), "hospital_award", "ZS-2040-01")
        assert own.band_result == "below_floor"  # flagged: the award is under the band's floor
        assert {c.label for c in own.others} >= {"HD-2040-ALL", "PL40-SH-NEW", "PL40-SH", "PL40-EAST", "PL40-NAT"}
        assert "ZS-2040-01" in own.why
        alliance = resolve_price(s, a["D-SH-002"], a["H-SH-002"], sku, DAY)
        assert (alliance.record, alliance.band_result) == ("HD-2040-ALL", "within")
        south = resolve_price(s, a["D-GD-002"], a["H-GD-001"], sku, DAY)
        assert (south.record, south.price) == ("PL40-NAT", Decimal("9000.00"))


def test_dealer_price_uses_its_channel_and_most_specific_newest_list(as_tenant, priced):
    a, sku = priced, priced["CV-DCB-3020"]
    with as_tenant("acme") as s:
        assert resolve_price(s, a["D-SH-002"], None, sku, DAY).record == "PL40-SH-NEW"
        assert resolve_price(s, a["D-SH-002"], None, sku, date(2040, 4, 30)).record == "PL40-SH"
        assert resolve_price(s, a["D-JS-001"], None, sku, DAY).record == "PL40-EAST"
        agent = resolve_price(s, a["D-SH-001"], None, sku, DAY)
        assert (agent.record, agent.channel) == ("PL40-AGT", "agent")
        direct = resolve_price(s, None, a["H-GD-001"], sku, DAY)
        assert (direct.record, direct.band_result) == ("PL40-DIR", "above_ceiling")
        none = resolve_price(s, a["D-SH-002"], None, sku, date(2039, 6, 1))
        assert none.price is None and none.source is None and none.band_result == "no_band" and none.why
        sheet = {r.sku.code: r.answer.record for r in dealer_price_sheet(s, a["D-SH-002"], DAY)}
        assert sheet["CV-DCB-3020"] == "PL40-SH-NEW"


def test_price_inputs_are_validated(as_tenant, acme):  # noqa: F811
    sku = acme["CV-GW-0141"]
    with as_tenant("acme") as s:
        pl = _pl(s, "PL40-VAL", "distribution", None)
        for values, field in (({"price": "-1"}, "price"), ({"price": "abc"}, "price"), ({"price": "1.005"}, "price"),
                              ({"sku_id": 999999, "price": "5"}, "sku_id")):
            with pytest.raises(InvalidInput) as err:
                ops.save_price_list_item(s, {"price_list_id": pl.id, "sku_id": sku, **values})
            assert err.value.field == field
        first = ops.save_price_list_item(s, {"price_list_id": pl.id, "sku_id": sku, "price": "100"})
        again = ops.save_price_list_item(s, {"price_list_id": pl.id, "sku_id": sku, "price": "120.50"})
        assert first.id == again.id and again.price == Decimal("120.50")
        with pytest.raises(InvalidInput) as err:
            _pl(s, "PL40-VAL", "distribution", None)
        assert err.value.field == "code"
        with pytest.raises(InvalidInput) as err:
            ops.save_price_list(s, {"code": "X", "name": "X", "channel": "retail", "valid_from": "2040-01-01"})
        assert err.value.field == "channel"
        with pytest.raises(InvalidInput) as err:
            ops.save_price_band(s, {"sku_id": sku, "floor": "10", "ceiling": "9", "valid_from": "2040-01-01"})
        assert err.value.field == "ceiling"
        ops.save_price_band(s, {"sku_id": sku, "floor": "9", "ceiling": "10", "valid_from": "2040-01-01",
                                "valid_until": "2040-06-30"})
        with pytest.raises(InvalidInput) as err:
            ops.save_price_band(s, {"sku_id": sku, "floor": "9", "ceiling": "11", "valid_from": "2040-06-30"})
        assert err.value.field == "valid_from"
        ops.save_price_band(s, {"sku_id": sku, "floor": "9", "ceiling": "11", "valid_from": "2040-07-01"})
        with pytest.raises(InvalidInput) as err:
            ops.save_tender_price(s, {"award_no": "T", "sku_id": sku, "price": "5", "valid_from": "2040-01-01",
                                      "valid_until": "2040-02-01"})
        assert err.value.field == "hospital_id"
        with pytest.raises(InvalidInput) as err:
            ops.save_tender_price(s, {"award_no": "T", "sku_id": sku, "price": "5", "region_id": acme["region:EAST"],
                                      "valid_from": "2040-01-01", "valid_until": "2040-02-01"})
        assert err.value.field == "alliance_name"
        s.rollback()


# --- pages -------------------------------------------------------------------------------

HX = {"HX-Request": "true"}


@pytest.fixture()
def today_prices(as_tenant, acme):  # noqa: F811
    """A 上海 agent price list and a hospital award for 中山医院 valid today, and an
    authorization of D-SH-002 for the structural-heart line in 上海."""
    from datetime import timedelta

    from app.channel import authorizations as auth_ops
    from app.channel.models import Authorization
    from app.pricing.models import PriceList

    today = date.today()
    with as_tenant("acme") as s:
        pl = s.scalar(select(PriceList).where(PriceList.code == "PL-SH-AGT-NOW"))
        if pl is None:
            pl = _pl(s, "PL-SH-AGT-NOW", "agent", acme["region:SH"], start=today - timedelta(days=30),
                     until=date(2030, 12, 31))
            ops.save_price_list_item(s, {"price_list_id": pl.id, "sku_id": acme["SH-ASD-20"], "price": "23456.78"})
            ops.save_price_list_item(s, {"price_list_id": pl.id, "sku_id": acme["SH-TAVR-23"], "price": "150000"})
            ops.save_tender_price(s, {"award_no": "ZS-NOW-ASD", "sku_id": acme["SH-ASD-20"], "hospital_id": acme["H-SH-001"],
                                      "price": "19888", "valid_from": today - timedelta(days=1),
                                      "valid_until": today + timedelta(days=200)})
            auth_ops.create_authorization(s, {"dealer_id": acme["D-SH-002"], "product_line_id": acme["line:SH"],
                                              "region_id": acme["region:SH"], "valid_from": today - timedelta(days=1),
                                              "valid_until": today + timedelta(days=200)})
        item_id = s.scalar(select(PriceListItem.id).where(PriceListItem.price_list_id == pl.id,
                                                          PriceListItem.sku_id == acme["SH-TAVR-23"]))
        auth_id = s.scalar(select(Authorization.id).where(Authorization.dealer_id == acme["D-SH-002"],
                                                          Authorization.product_line_id == acme["line:SH"]))
        return {**acme, "price_list": pl.id, "item": item_id, "auth": auth_id}


def test_price_is_edited_inline_and_errors_stay_in_the_row(signed_in, today_prices):
    b = signed_in("acme", "channel")
    url = f"/manufacturer/price-lists/{today_prices['price_list']}/items/{today_prices['item']}"
    detail = b.get(f"/manufacturer/price-lists/{today_prices['price_list']}").get_data(as_text=True)
    assert "¥150,000.00" in detail and f'hx-get="{url}?edit=1"' in detail
    form = b.get(url + "?edit=1", headers=HX).get_data(as_text=True)
    assert form.lstrip().startswith("<tr") and 'name="price"' in form
    bad = b.post(url, {"price": "-3"}, token_from=f"/manufacturer/price-lists/{today_prices['price_list']}", headers=HX)
    assert bad.status_code == 200 and "请输入大于零的金额" in bad.get_data(as_text=True)
    good = b.post(url, {"price": "149,800.50"}, token_from=f"/manufacturer/price-lists/{today_prices['price_list']}",
                  headers=HX)
    row = good.get_data(as_text=True)
    assert good.status_code == 200 and "¥149,800.50" in row and "<html" not in row
    plain = b.post(url, {"price": "150000"}, token_from=f"/manufacturer/price-lists/{today_prices['price_list']}")
    assert plain.status_code == 303


def test_add_item_and_create_price_list_with_errors_shown(signed_in, today_prices):
    b = signed_in("acme", "finance")
    pl = today_prices["price_list"]
    bad = b.post(f"/manufacturer/price-lists/{pl}/items", {"sku_id": today_prices["SH-LAAO-27"], "price": "abc"},
                 token_from=f"/manufacturer/price-lists/{pl}")
    assert bad.status_code == 400 and "1280.00" in bad.get_data(as_text=True)
    ok = b.post(f"/manufacturer/price-lists/{pl}/items", {"sku_id": today_prices["SH-LAAO-27"], "price": "88000"},
                token_from=f"/manufacturer/price-lists/{pl}")
    assert ok.status_code == 303
    dup = b.post("/manufacturer/price-lists/new", {"code": "PL-SH-AGT-NOW", "name": "x", "channel": "agent",
                                                    "valid_from": "2026-01-01", "status": "active"})
    assert dup.status_code == 400 and "已存在" in dup.get_data(as_text=True)
    assert b.get("/manufacturer/tender-prices/new").status_code == 403  # finance: bands and lists, not awards


def test_price_check_page_explains_the_answer_and_the_gate(signed_in, today_prices):
    a = today_prices
    html = signed_in("acme", "channel").get(
        f"/manufacturer/price-check?dealer={a['D-SH-002']}&hospital={a['H-SH-001']}&sku={a['SH-ASD-20']}").get_data(as_text=True)
    assert "¥19,888.00" in html and "ZS-NOW-ASD" in html
    assert "data-code=" not in html  # registered, qualified, authorized: the sale may go ahead
    elsewhere = signed_in("acme", "channel").get(
        f"/manufacturer/price-check?dealer={a['D-SH-002']}&hospital={a['H-GD-001']}&sku={a['SH-ASD-20']}").get_data(as_text=True)
    assert 'data-code="not_authorized"' in elsewhere
    south = signed_in("acme", "sales.south")
    assert south.get(f"/manufacturer/price-check?dealer={a['D-SH-002']}&sku={a['SH-ASD-20']}").status_code == 404
    assert south.get(f"/manufacturer/price-check?sku={a['SH-ASD-20']}&day=tomorrow").status_code == 400


def test_dealer_sees_only_its_own_prices(signed_in, today_prices):
    mine = signed_in("acme", "dealer1").get("/dealer/prices").get_data(as_text=True)  # D-SH-001, agent in 上海
    assert "¥23,456.78" in mine and "PL-SH-AGT-NOW" in mine
    other = signed_in("acme", "dealer2").get("/dealer/prices").get_data(as_text=True)  # D-GD-001, agent in 广东
    assert "23,456.78" not in other
    assert signed_in("globex", "dealer1").get("/dealer/prices").status_code == 200
    assert "23,456.78" not in signed_in("globex", "dealer1").get("/dealer/prices").get_data(as_text=True)


def test_hospital_sees_the_products_it_may_buy_and_from_whom(signed_in, today_prices):
    zs = signed_in("acme", "hospital1").get("/hospital/products").get_data(as_text=True)
    assert "SH-ASD-20" in zs and "上海联拓医疗器械有限公司" in zs and "¥19,888.00" in zs
    az = signed_in("acme", "hospital2").get("/hospital/products").get_data(as_text=True)
    assert "上海联拓医疗器械有限公司" not in az and "19,888" not in az


@pytest.mark.parametrize("path", ["/manufacturer/price-lists", "/manufacturer/price-bands", "/manufacturer/tender-prices",
                                  "/manufacturer/price-check", "/manufacturer/price-lists/new", "/manufacturer/price-bands/new"])
def test_dealers_hospitals_and_other_roles_are_kept_out_of_pricing_pages(signed_in, path):
    for local in ("dealer1", "hospital1", "qa", "service"):
        assert signed_in("acme", local).get(path).status_code == 403, (local, path)
    assert signed_in("acme", "channel").get(path).status_code == 200


def test_regional_manager_may_look_but_not_change(signed_in, today_prices):
    east = signed_in("acme", "sales.east")
    assert east.get("/manufacturer/price-lists").status_code == 200
    assert "PL-SH-AGT-NOW" in east.get("/manufacturer/price-lists").get_data(as_text=True)
    assert "PL-SH-AGT-NOW" not in signed_in("acme", "sales.south").get("/manufacturer/price-lists").get_data(as_text=True)
    assert signed_in("acme", "sales.south").get(f"/manufacturer/price-lists/{today_prices['price_list']}").status_code == 404
    assert east.get("/manufacturer/price-lists/new").status_code == 403
    url = f"/manufacturer/price-lists/{today_prices['price_list']}/items/{today_prices['item']}"
    assert east.client.post(url, base_url=east.base_url, data={"price": "1"}).status_code in (400, 403)
    assert east.get(url + "?edit=1", headers=HX).status_code == 403


def test_other_tenant_cannot_read_or_change_acme_prices(signed_in, today_prices):
    g = signed_in("globex", "admin")
    assert g.get(f"/manufacturer/price-lists/{today_prices['price_list']}").status_code == 404
    url = f"/manufacturer/price-lists/{today_prices['price_list']}/items/{today_prices['item']}"
    assert g.get(url + "?edit=1", headers=HX).status_code == 404
    assert g.post(url, {"price": "1"}, token_from="/manufacturer/price-lists").status_code == 404


def test_band_and_tender_forms_save_and_refuse_with_the_field(signed_in, acme):  # noqa: F811
    b = signed_in("acme", "channel")
    bad = b.post("/manufacturer/price-bands/new", {"sku_id": acme["CV-INF-30"], "floor": "500", "ceiling": "400",
                                                   "valid_from": "2041-01-01"})
    assert bad.status_code == 400 and "ceiling" in bad.get_data(as_text=True).lower()
    assert b.post("/manufacturer/price-bands/new", {"sku_id": acme["CV-INF-30"], "floor": "400", "ceiling": "500",
                                                    "valid_from": "2041-01-01", "valid_until": "2041-12-31"}).status_code == 303
    t = b.post("/manufacturer/tender-prices/new", {"award_no": "GX-2041", "sku_id": acme["CV-INF-30"], "price": "450",
                                                   "region_id": acme["region:GX"], "valid_from": "2041-01-01",
                                                   "valid_until": "2041-12-31"})
    assert t.status_code == 400 and "alliance" in t.get_data(as_text=True).lower()
    assert "CV-INF-30" in b.get("/manufacturer/price-bands?q=CV-INF").get_data(as_text=True)


def test_a_long_price_list_is_searched_and_paged_not_shown_whole(signed_in, as_tenant):
    from app.core.pagination import PER_PAGE
    from app.pricing.models import PriceList

    with as_tenant("acme") as s:
        list_id = s.scalar(select(PriceList.id).where(PriceList.code == "PL-2026-DIST"))
        items = s.query(PriceListItem).filter_by(price_list_id=list_id).count()
    channel = signed_in("acme", "channel")
    page = channel.get(f"/manufacturer/price-lists/{list_id}?q=CV-DES").get_data(as_text=True)
    stents = page[page.index('id="results"'):page.index('id="add-item"')]
    assert 'id="add-sku"' not in page  # the add form (a choice of every SKU) comes only when asked for
    form = channel.get(f"/manufacturer/price-lists/{list_id}?add=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in form and 'id="add-sku"' in form and "IVD-HSTNI-100" in form
    assert stents.count("CV-DES-") >= 5 and "IVD-HSTNI-100" not in stents
    fragment = channel.get(f"/manufacturer/price-lists/{list_id}?q=IVD", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert "IVD-HSTNI-100" in fragment.get_data(as_text=True) and "CV-DES-2518" not in fragment.get_data(as_text=True)
    assert items < PER_PAGE and 'rel="next"' not in stents  # one page: no next link (the pager keeps the list's id)
