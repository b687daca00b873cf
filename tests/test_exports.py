"""Exporting a list to Excel: every row the user sees there, with the page's filters,
never more, and nothing in the file can run as a formula."""
import html
import io
import re
import uuid
from datetime import datetime, time
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.catalog.models import Sku
from app.channel.models import Dealer, Region
from app.compliance.models import Job
from app.demo.seed import demo_day

from tests.data_world import world_tenant  # noqa: F401  (the "world" fixture)


@pytest.fixture(scope="module", autouse=True)
def master_data(app, world):
    """The world also gets acme's master data (registrations, the rest of the dealers,
    authorizations, price lists, bands and tender awards), for the lists exported here."""
    from contextlib import ExitStack
    from unittest import mock

    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.demo import data
    from app.demo import master_data as md
    from app.demo.seed import seed_master_data
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    tables = [data.TENANTS] + [getattr(md, n) for n in ("REGISTRATIONS", "MORE_DEALERS", "UPSTREAM", "AUTHORIZATIONS", "TENDERS")]
    with app.app_context(), ExitStack() as stack:
        for table in tables:  # the demo data is keyed by tenant slug: the world is seeded like acme
            stack.enter_context(mock.patch.dict(table, {world: table["acme"]}))
        with tenant_session(db.session, by_slug(db.session, world)) as session:
            set_context(session, Actor.system("test seed"))
            seed_master_data(session, world)
        db.session.remove()
    return world


def export(client, list_name, token_from="/manufacturer/dealers", **filters):
    data = {"list": list_name, "request_id": uuid.uuid4().hex, **filters}
    return client.post("/manufacturer/exports", data, token_from=token_from)


def exported_rows(client, run_worker, as_tenant, list_name, token_from="/manufacturer/dealers", **filters) -> list[list]:
    response = export(client, list_name, token_from, **filters)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    job_id = int(re.search(r"/jobs/(\d+)$", response.headers["Location"]).group(1))
    run_worker()
    with as_tenant(client.base_url.split("//", 1)[1].split(".", 1)[0]) as session:
        job = session.get(Job, job_id)
        assert job.status == "done", job.error
        document_id = job.document_id
    download = client.get(f"/documents/{document_id}")
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.data)).worksheets[0]
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_dealer_export_holds_every_dealer_the_page_lists(world, signed_in, run_worker, as_tenant):
    rows = exported_rows(signed_in(world, "channel"), run_worker, as_tenant, "dealers")
    with as_tenant(world) as session:
        total = session.scalar(select(func.count()).select_from(Dealer))
    assert len(rows) == total + 1 and len(rows[0]) == 12
    names = {r[1] for r in rows[1:]}
    assert {"华东医疗器械有限公司", "北京康泰医疗器械有限公司"} <= names


def test_regional_manager_exports_only_their_regions(world, signed_in, run_worker, as_tenant):
    client = signed_in(world, "sales.east")
    names = {r[1] for r in exported_rows(client, run_worker, as_tenant, "dealers")[1:]}
    assert "华东医疗器械有限公司" in names and "江苏恒康医疗供应链有限公司" in names
    assert "北京康泰医疗器械有限公司" not in names and "广州百仕达医疗器械有限公司" not in names
    with as_tenant(world) as session:
        jjj = session.scalar(select(Region.id).where(Region.code == "JJJ"))
    widened = exported_rows(client, run_worker, as_tenant, "dealers", region=str(jjj))
    assert widened[1:] == []  # a filter narrows, it never widens the scope
    hospitals = {r[1] for r in exported_rows(client, run_worker, as_tenant, "hospitals")[1:]}
    assert "复旦大学附属中山医院" in hospitals and "北京协和医院" not in hospitals


def test_export_follows_the_page_filters(world, signed_in, run_worker, as_tenant):
    rows = exported_rows(signed_in(world, "channel"), run_worker, as_tenant, "dealers", q="苏州")
    assert [r[1] for r in rows[1:]] == ["苏州德尔医疗科技有限公司"]


def test_text_that_looks_like_a_formula_is_written_inert(world, signed_in, run_worker, as_tenant):
    from app.channel import operations as channel_ops

    with as_tenant(world) as session:
        region = session.scalar(select(Region).where(Region.code == "SH"))
        channel_ops.add_dealer(session, "D-EVIL-" + uuid.uuid4().hex[:6].upper(), '=HYPERLINK("http://evil.example","点我")',
                               region, contact_name="@SUM(A1)", contact_phone="+86 21 1234 5678")
    client = signed_in(world, "channel")
    response = export(client, "dealers", q="HYPERLINK")
    run_worker()
    job_id = int(re.search(r"/jobs/(\d+)$", response.headers["Location"]).group(1))
    with as_tenant(world) as session:
        document_id = session.get(Job, job_id).document_id
    sheet = load_workbook(io.BytesIO(client.get(f"/documents/{document_id}").data)).worksheets[0]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert cells and all(c.data_type != "f" for c in cells)
    values = [c.value for c in cells]
    assert '\'=HYPERLINK("http://evil.example","点我")' in values and "'@SUM(A1)" in values


def test_list_pages_offer_the_export_with_their_filters(world, signed_in):
    page = signed_in(world, "channel").get("/manufacturer/dealers?q=苏州").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/manufacturer/exports".*?</form>', page, re.S).group(0)
    assert 'name="list" value="dealers"' in form and 'name="q" value="苏州"' in form
    fragment = signed_in(world, "channel").get("/manufacturer/hospitals?q=上海", headers={"HX-Request": "true"})
    assert 'name="q" value="上海"' in fragment.get_data(as_text=True)


def test_sending_the_export_twice_gives_one_job(world, signed_in):
    client = signed_in(world, "channel")
    request_id = uuid.uuid4().hex
    first = client.post("/manufacturer/exports", {"list": "dealers", "request_id": request_id}, token_from="/manufacturer/dealers")
    second = client.post("/manufacturer/exports", {"list": "dealers", "request_id": request_id}, token_from="/manufacturer/dealers")
    assert first.headers["Location"] == second.headers["Location"]


def test_exports_are_closed_to_dealers_hospitals_other_people_and_tenants(world, signed_in, run_worker, as_tenant):
    for local in ("dealer1", "hospital1"):
        client = signed_in(world, local)
        token_page = "/dealer/" if local.startswith("dealer") else "/hospital/"
        response = client.post("/manufacturer/exports", {"list": "dealers", "request_id": uuid.uuid4().hex},
                               token_from=token_page)
        assert response.status_code == 403
    assert export(signed_in(world, "channel"), "nothing").status_code == 404
    bad = signed_in(world, "channel").post("/manufacturer/exports", {"list": "dealers", "request_id": "bad id!"},
                                            token_from="/manufacturer/dealers")
    assert bad.status_code == 400
    east = signed_in(world, "sales.east")
    location = export(east, "dealers").headers["Location"]
    run_worker()
    job_id = int(location.rsplit("/", 1)[1])
    with as_tenant(world) as session:
        document_id = session.get(Job, job_id).document_id
    assert east.get(location).status_code == 200
    assert signed_in(world, "sales.south").get(location).status_code == 404
    assert signed_in(world, "sales.south").get(f"/documents/{document_id}").status_code == 404
    assert signed_in(world, "dealer1").get(f"/documents/{document_id}").status_code == 404
    assert signed_in("globex", "admin").get(location).status_code == 404


# --- every list page: the export holds exactly what the list shows ------------------------------

def _cell_text(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()[0] if re.sub(r"<[^>]+>", "", cell).strip() else ""


def listed(client, path: str, column: int = 0, **filters) -> list[str]:
    """The first word of one column of every row the list page shows for ``filters``,
    page after page (the htmx fragment, as the filter form asks for it)."""
    out, params = [], {k: v for k, v in filters.items()}
    url = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
    while url:
        fragment = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        for row in re.findall(r"<tr[ >].*?</tr>", fragment, re.S):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            if cells and 'class="empty"' not in row:
                out.append(_cell_text(cells[column]))
        following = re.search(r'<a href="([^"]+)"[^>]*rel="next"', fragment)
        url = html.unescape(following.group(1)) if following else None
    return out


def column(rows, index: int) -> list:
    return [r[index] for r in rows[1:]]


def _ids(world, as_tenant):
    from app.catalog.models import ProductLine
    from app.pricing.models import PriceList

    with as_tenant(world) as session:
        dealers = dict(session.execute(select(Dealer.code, Dealer.id)).all())
        lines = dict(session.execute(select(ProductLine.code, ProductLine.id)).all())
        price_lists = dict(session.execute(select(PriceList.code, PriceList.id)).all())
        regions = dict(session.execute(select(Region.code, Region.id)).all())
    return dealers, lines, price_lists, regions


def test_dealer_and_hospital_exports_honour_every_filter_of_their_pages(world, signed_in, run_worker, as_tenant):
    client = signed_in(world, "channel")
    dealers, _lines, _lists, regions = _ids(world, as_tenant)
    for filters in ({"status": "active", "tier": "agent"}, {"status": "pending"}, {"tier": "tier2", "region": regions["EAST"]}):
        rows = exported_rows(client, run_worker, as_tenant, "dealers", **filters)
        assert column(rows, 0) == listed(client, "/manufacturer/dealers", **filters)
        assert len(rows) > 1 or filters == {"status": "pending"}
    agents = exported_rows(client, run_worker, as_tenant, "dealers", status="active", tier="agent")
    assert {r[3] for r in agents[1:]} == {"代理商"} and {r[11] for r in agents[1:]} == {"启用"}
    serving = {"grade": "三级甲等", "dealer": dealers["D-SH-001"]}
    rows = exported_rows(client, run_worker, as_tenant, "hospitals", **serving)
    assert column(rows, 0) == listed(client, "/manufacturer/hospitals", **serving)
    assert "复旦大学附属中山医院" in column(rows, 1) and {r[2] for r in rows[1:]} == {"三级甲等"}
    active = exported_rows(client, run_worker, as_tenant, "hospitals", status="active")
    assert column(active, 0) == listed(client, "/manufacturer/hospitals", status="active")
    assert len(active) - 1 > 50  # several pages of the list, all in the file
    bogus = exported_rows(client, run_worker, as_tenant, "hospitals", grade="特级", q="上海")  # the page ignores the grade
    assert column(bogus, 0) == listed(client, "/manufacturer/hospitals", grade="特级", q="上海") and len(bogus) > 1


def test_sku_export_follows_search_line_and_status(world, signed_in, run_worker, as_tenant):
    client = signed_in(world, "finance")
    _dealers, lines, _lists, _regions = _ids(world, as_tenant)
    filters = {"q": "CV-D", "line": lines["CV"], "status": "active"}
    rows = exported_rows(client, run_worker, as_tenant, "skus", **filters)
    assert column(rows, 0) == listed(client, "/manufacturer/skus", **filters) and len(rows) > 1
    assert all(r[0].startswith("CV-D") and r[4] == "CV" for r in rows[1:])
    des = next(r for r in rows[1:] if r[0].startswith("CV-DES"))
    assert des[6] == "国械注准20193130412" and des[7] == datetime.combine(demo_day("2029-03-17"), time())  # a date cell
    assert Decimal(str(des[10])) == Decimal("0.13")


def test_registration_export_follows_class_and_search(world, signed_in, run_worker, as_tenant):
    client = signed_in(world, "qa")
    filters = {"q": "导管", "device_class": "III"}
    rows = exported_rows(client, run_worker, as_tenant, "registrations", **filters)
    assert column(rows, 0) == listed(client, "/manufacturer/registrations", **filters) and len(rows) > 1
    assert all(r[2] == "III" and "导管" in r[1] for r in rows[1:])
    assert all(isinstance(r[4], datetime) for r in rows[1:])


def test_authorization_export_keeps_a_regional_managers_scope(world, signed_in, run_worker, as_tenant):
    from app.channel.models import Authorization

    east = signed_in(world, "sales.east")
    rows = exported_rows(east, run_worker, as_tenant, "authorizations", token_from="/manufacturer/authorizations")
    assert column(rows, 0) == listed(east, "/manufacturer/authorizations") and len(rows) > 1
    with as_tenant(world) as session:
        east_path = session.scalar(select(Region.path).where(Region.code == "EAST"))
        in_east = set(session.scalars(select(Dealer.code).join(Region, Region.id == Dealer.region_id)
                                      .where(Region.path.startswith(east_path))))
        total = session.scalar(select(func.count()).select_from(Authorization))
    assert {r[1] for r in rows[1:]} <= in_east and "D-SH-001" in {r[1] for r in rows[1:]}
    assert len(rows) - 1 < total
    client = signed_in(world, "channel")
    dealers, lines, _lists, regions = _ids(world, as_tenant)
    filters = {"line": lines["IVD"], "region": regions["JJJ"], "status": "active"}
    rows = exported_rows(client, run_worker, as_tenant, "authorizations", token_from="/manufacturer/authorizations",
                         **filters)
    assert column(rows, 0) == listed(client, "/manufacturer/authorizations", **filters) and len(rows) > 1
    named = next(r for r in rows[1:] if r[1] == "D-BJ-003")  # authorized for two named hospitals
    assert named[4].count("、") == 1 and isinstance(named[5], datetime)


def test_price_list_and_item_exports(world, signed_in, run_worker, as_tenant):
    from app.pricing.models import PriceListItem

    client = signed_in(world, "finance")
    _dealers, _lines, lists, _regions = _ids(world, as_tenant)
    rows = exported_rows(client, run_worker, as_tenant, "price_lists", token_from="/manufacturer/price-lists",
                         channel="distribution")
    assert column(rows, 0) == listed(client, "/manufacturer/price-lists", channel="distribution")
    assert set(column(rows, 0)) == {"PL-2026-DIST", "PL-2026-SOUTH"} and isinstance(rows[1][4], datetime)
    south = lists["PL-2026-SOUTH"]
    page = f"/manufacturer/price-lists/{south}"
    rows = exported_rows(client, run_worker, as_tenant, "price_list_items", token_from=page,
                         price_list_id=str(south), q="CV-DES")
    assert column(rows, 1) == listed(client, page, q="CV-DES") and len(rows) > 1
    with as_tenant(world) as session:
        prices = dict(session.execute(select(Sku.code, PriceListItem.price).join(Sku, Sku.id == PriceListItem.sku_id)
                                      .where(PriceListItem.price_list_id == south)).all())
    assert all(r[0] == "PL-2026-SOUTH" and Decimal(str(r[5])) == prices[r[1]] for r in rows[1:])
    # a regional manager outside 华南 can neither see the list nor export it
    east = signed_in(world, "sales.east")
    assert east.get(page).status_code == 404
    assert export(east, "price_list_items", token_from="/manufacturer/price-lists", price_list_id=str(south)).status_code == 404
    assert export(client, "price_list_items", token_from="/manufacturer/price-lists", price_list_id="999999").status_code == 404
    assert export(client, "price_list_items", token_from="/manufacturer/price-lists").status_code == 404


def test_price_band_and_tender_exports_follow_search_and_scope(world, signed_in, run_worker, as_tenant):
    client = signed_in(world, "channel")
    rows = exported_rows(client, run_worker, as_tenant, "price_bands", token_from="/manufacturer/price-bands", q="CV-DES")
    assert column(rows, 0) == listed(client, "/manufacturer/price-bands", q="CV-DES") and len(rows) > 1
    assert all(Decimal(str(r[3])) < Decimal(str(r[4])) for r in rows[1:])
    for local in ("channel", "sales.east", "sales.south"):
        user = signed_in(world, local)
        rows = exported_rows(user, run_worker, as_tenant, "tender_prices", token_from="/manufacturer/tender-prices", q="IVD")
        assert column(rows, 0) == listed(user, "/manufacturer/tender-prices", q="IVD")
        awards = set(column(rows, 0))
        # the awards of 中山医院 (Shanghai) reach 华东 and not 华南
        assert ("ZS-2026-IVD-017" in awards) == (local != "sales.south")
    rows = exported_rows(client, run_worker, as_tenant, "tender_prices", token_from="/manufacturer/tender-prices",
                         q="ZS-2026-IVD-017")
    assert rows[1][3] == "复旦大学附属中山医院" and Decimal(str(rows[1][6])) == Decimal("2680.00")


def test_expiry_export_follows_kind_and_bucket(world, signed_in, run_worker, as_tenant):
    client = signed_in(world, "qa")
    for filters in ({"kind": "registration"}, {"kind": "authorization", "bucket": "90"}, {}):
        rows = exported_rows(client, run_worker, as_tenant, "expiry", **filters)
        shown = listed(client, "/manufacturer/expiry", 1, **filters)
        assert [str(r[1]).split()[0] for r in rows[1:]] == shown
        assert shown or filters.get("bucket")
    east = signed_in(world, "sales.east")
    dealers = {r[2] for r in exported_rows(east, run_worker, as_tenant, "expiry", kind="qualification")[1:]}
    assert "广州百仕达医疗器械有限公司" not in dealers


def test_every_list_offers_its_export_with_its_filters_to_who_may_see_it(world, signed_in, as_tenant):
    from portals.manufacturer import authorizations, catalog, channel, pricing

    from app.compliance.exports import EXPORTS

    handlers = {"dealers": channel.RHDealers, "hospitals": channel.RHHospitals, "skus": catalog.RHSkus,
                "registrations": catalog.RHRegistrations, "expiry": catalog.RHExpiry,
                "authorizations": authorizations.RHAuthorizations, "price_lists": pricing.RHPriceLists,
                "price_list_items": pricing.RHPriceList, "price_bands": pricing.RHPriceBands,
                "tender_prices": pricing.RHTenderPrices}
    from portals.manufacturer import orders, sellout
    handlers["sell_out"] = sellout.RHSellOut
    handlers["orders"] = orders.RHOrders
    from portals.manufacturer import finance
    handlers.update(invoices=finance.RHInvoices, payments=finance.RHPayments, receivables=finance.RHReceivables)
    from portals.manufacturer import special_prices, two_invoice
    handlers["price_requests"] = special_prices.RHPriceRequests
    handlers["two_invoice"] = two_invoice.RHTwoInvoice
    from portals.manufacturer import rebate_ledger
    handlers["rebate_balances"] = rebate_ledger.RHRebateLedger
    from portals.manufacturer import rebates
    handlers["rebate_settlement"] = rebates.RHRebateSettlements  # its rows: tests/test_rebate_pages.py
    from portals.manufacturer import statements
    handlers["statements"] = statements.RHStatements
    from portals.manufacturer import installed_base
    handlers["installed_base"] = installed_base.RHUnits
    from portals.manufacturer import tickets
    handlers["service_tickets"] = tickets.RHTickets
    assert set(handlers) == set(EXPORTS)
    for name, handler in handlers.items():
        assert set(EXPORTS[name].roles) == set(handler.roles), name
    _dealers, lines, lists, _regions = _ids(world, as_tenant)
    client = signed_in(world, "admin")
    pages = {"skus": f"/manufacturer/skus?q=CV&line={lines['CV']}", "registrations": "/manufacturer/registrations?device_class=III",
             "authorizations": "/manufacturer/authorizations?status=active", "price_lists": "/manufacturer/price-lists?q=PL",
             "price_list_items": f"/manufacturer/price-lists/{lists['PL-2026-DIST']}?q=CV",
             "price_bands": "/manufacturer/price-bands?q=CV", "tender_prices": "/manufacturer/tender-prices?q=CV",
             "expiry": "/manufacturer/expiry?kind=registration"}
    pages["sell_out"] = "/manufacturer/sell-out?month=2026-01"
    pages["orders"] = "/manufacturer/orders?status=approved"
    pages.update(invoices="/manufacturer/invoices?status=open", payments="/manufacturer/payments?status=unapplied",
                 receivables="/manufacturer/receivables?days=30")
    pages["price_requests"] = "/manufacturer/price-requests?status=approved&dealer=D-SH"
    pages["two_invoice"] = "/manufacturer/two-invoice?month=2026-01&dealer=D-JS"
    pages["rebate_balances"] = "/manufacturer/rebate-ledger?q=D-SH"
    pages["statements"] = "/manufacturer/statements?status=issued&q=D-SH"
    pages["installed_base"] = "/manufacturer/installed-base?standing=contract&q=CL2K"
    pages["service_tickets"] = "/manufacturer/tickets?status=all&urgency=high"
    for name, url in pages.items():
        fragment = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        form = re.search(r'<form method="post" action="/manufacturer/exports".*?</form>', fragment, re.S)
        assert form, name
        assert f'name="list" value="{name}"' in form.group(0)
        for key, value in re.findall(r"[?&]([^=&]+)=([^&]+)", url):
            assert f'name="{key}" value="{value}"' in form.group(0), (name, key)
    assert f'name="price_list_id" value="{lists["PL-2026-DIST"]}"' in client.get(pages["price_list_items"]).get_data(as_text=True)


def test_new_exports_are_closed_to_other_roles_dealers_hospitals_and_tenants(world, signed_in, run_worker, as_tenant):
    _dealers, _lines, lists, _regions = _ids(world, as_tenant)
    priced = ("authorizations", "price_lists", "price_list_items", "price_bands", "tender_prices")
    for local in ("qa", "service"):  # neither may open the price or authorization pages
        client = signed_in(world, local)
        assert client.get("/manufacturer/price-lists").status_code == 403
        for name in priced:
            assert export(client, name, price_list_id=str(lists["PL-2026-DIST"])).status_code == 403, (local, name)
    everything = priced + ("skus", "registrations", "expiry")
    for local in ("dealer1", "hospital1"):
        client = signed_in(world, local)
        for name in everything:
            response = client.post("/manufacturer/exports", {"list": name, "request_id": uuid.uuid4().hex,
                                                             "price_list_id": str(lists["PL-2026-DIST"])},
                                   token_from="/dealer/" if local.startswith("dealer") else "/hospital/")
            assert response.status_code == 403, (local, name)
    finance = signed_in(world, "finance")
    location = export(finance, "price_list_items", token_from="/manufacturer/price-lists",
                      price_list_id=str(lists["PL-2026-DIST"]), q="CV-DES").headers["Location"]
    run_worker()
    with as_tenant(world) as session:
        document_id = session.get(Job, int(location.rsplit("/", 1)[1])).document_id
    assert finance.get(f"/documents/{document_id}").status_code == 200
    for other in (signed_in("globex", "admin"), signed_in(world, "dealer1"), signed_in(world, "hospital1"),
                  signed_in(world, "channel")):
        assert other.get(f"/documents/{document_id}").status_code == 404
        assert other.get(location).status_code == 404
