"""两票制: dealer-to-dealer sell-out (分销流向) and the check that at most one dealer
stands between the manufacturer and a public hospital, with the evidence chain — on a
tenant of its own seeded like acme (江苏恒康 D-JS-001 is a tier-1 dealer, 苏州德尔 D-JS-002
its Suzhou sub-dealer; 苏州大学附属第一医院 H-JS-002 is public)."""
import io
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.channel.queries import ChannelScope
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.finance import two_invoice
from app.inventory import sellout
from app.inventory.models import SellOutLine
from tests.sellout_world import authorize, dealer, deliver, hospital, lot_tag, sellout_world  # noqa: F401

TODAY = shanghai_today()


def sell(session, seller, lot, quantity, days_ago=0, to_hospital=None, to_dealer=None, **extra) -> SellOutLine:
    values = {"sold_on": TODAY - timedelta(days=days_ago), "sku_id": lot.sku_id, "lot_id": lot.id, "quantity": quantity,
              "unit_price": Decimal("6500.00"), "invoice_no": f"INV-{uuid.uuid4().hex[:8]}"}
    if to_hospital:
        values["hospital_id"] = hospital(session, to_hospital).id
    if to_dealer:
        values["buyer_dealer_id"] = dealer(session, to_dealer).id
    values.update(extra)
    return sellout.record_sell_out(session, dealer(session, seller), None, values, source="api")


def refused(session, *args, **kw) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        with session.begin_nested():
            sell(session, *args, **kw)
    return caught.value


def flagged(session, line_id, scope=None):
    page = two_invoice.violations_page(session, scope or ChannelScope(), None,
                                       two_invoice.ViolationFilter(month=None))
    return next((r for r in page.items if r.id == line_id), None)


def test_a_sale_through_two_dealers_into_a_public_hospital_is_a_violation_with_its_evidence_chain(world, as_tenant):
    from app.finance.models import Invoice
    from app.orders.models import Shipment, ShipmentLine

    with as_tenant(world) as s:
        lot = deliver(s, "D-JS-001", "CV-DES-2518", lot_tag(), 10, TODAY - timedelta(days=10))
        to_sub = sell(s, "D-JS-001", lot, 6, days_ago=5, to_dealer="D-JS-002")
        assert (to_sub.hospital_id, to_sub.buyer_dealer_id) == (None, dealer(s, "D-JS-002").id)
        sale = sell(s, "D-JS-002", lot, 4, days_ago=2, to_hospital="H-JS-002")
        shipment = s.scalar(select(Shipment).join(ShipmentLine, ShipmentLine.shipment_id == Shipment.id)
                            .where(ShipmentLine.lot_id == lot.id))
        s.add(Invoice(number="INV-2026-000321", kind="invoice", dealer_id=shipment.dealer_id, order_id=shipment.order_id,
                      shipment_id=shipment.id, issued_on=TODAY - timedelta(days=10), net_amount=Decimal("884.96"),
                      tax_amount=Decimal("115.04"), amount=Decimal("1000.00")))
        s.flush()
        row = flagged(s, sale.id)
        assert row is not None and (row.quantity, row.via_dealers, row.direct) == (4, 4, 0)
        assert row.upstream == "江苏恒康医疗供应链有限公司" and row.hospital_name == "苏州大学附属第一医院"
        assert flagged(s, to_sub.id) is None  # the dealer-to-dealer sale itself is no hospital sale
        chain = two_invoice.evidence_chain(s, ChannelScope(), sale.id)
        assert chain.sale.id == sale.id and (chain.via_dealers, chain.direct, chain.sold_before) == (4, 0, 0)
        assert chain.own_receipts == []
        (step,) = chain.from_dealers
        assert step.line.id == to_sub.id and step.seller_bought == []
        (receipt,) = step.seller_receipts
        assert (receipt.shipment_id, receipt.quantity) == (shipment.id, 10)
        assert [number for _id, number in receipt.invoices] == ["INV-2026-000321"]
        assert two_invoice.evidence_chain(s, ChannelScope(), to_sub.id) is None


def test_a_private_hospital_or_units_bought_from_the_manufacturer_are_not_flagged(world, as_tenant):
    with as_tenant(world) as s:
        kunshan = hospital(s, "H-JS-004")
        kunshan.ownership = "private"
        lot = deliver(s, "D-JS-001", "CV-DES-3018", lot_tag(), 10, TODAY - timedelta(days=10))
        sell(s, "D-JS-001", lot, 6, days_ago=6, to_dealer="D-JS-002")
        private_sale = sell(s, "D-JS-002", lot, 2, days_ago=5, to_hospital="H-JS-004")
        assert flagged(s, private_sale.id) is None
        # 苏州德尔 also buys 5 of the same lot from us: its sales come from those first
        deliver(s, "D-JS-002", "CV-DES-3018", lot.lot_no, 5, TODAY - timedelta(days=4))
        direct = sell(s, "D-JS-002", lot, 3, days_ago=3, to_hospital="H-JS-002")
        assert flagged(s, direct.id) is None  # 2 + 3 sold, 5 received from us
        beyond = sell(s, "D-JS-002", lot, 2, days_ago=2, to_hospital="H-JS-002")
        row = flagged(s, beyond.id)
        assert (row.via_dealers, row.direct) == (2, 5)  # 7 sold, only 5 from us
        kunshan.ownership = "public"


def test_a_direct_chain_is_never_flagged(world, as_tenant):
    with as_tenant(world) as s:
        lot = deliver(s, "D-JS-002", "CV-PTCA-2520", lot_tag(), 8, TODAY - timedelta(days=3))
        sale = sell(s, "D-JS-002", lot, 8, days_ago=1, to_hospital="H-JS-002")
        assert flagged(s, sale.id) is None


def test_a_sale_to_another_dealer_needs_both_authorized_and_a_real_buyer(world, as_tenant):
    with as_tenant(world) as s:
        lot = deliver(s, "D-JS-001", "CV-NC-3012", lot_tag(), 10, TODAY - timedelta(days=10))
        assert refused(s, "D-JS-001", lot, 1, to_dealer="D-JS-001").field == "buyer_dealer_id"
        both = refused(s, "D-JS-001", lot, 1, to_dealer="D-JS-002", to_hospital="H-JS-002")
        assert both.field == "buyer_dealer_id" and "二者只能选一个" in both.message
        for junk in ("²", "0x10", "99999999999999999999"):
            assert refused(s, "D-JS-001", lot, 1, buyer_dealer_id=junk).field == "buyer_dealer_id"
        ivd = deliver(s, "D-JS-001", "IVD-MYO-100", lot_tag(), 10, TODAY - timedelta(days=10))
        seller_not = refused(s, "D-JS-001", ivd, 1, to_dealer="D-JS-002")  # no IVD authorization at all
        assert seller_not.field == "sku_id" and "IVD-MYO-100" in seller_not.message
        authorize(s, "D-JS-001", ["H-JS-001"], TODAY - timedelta(days=30), TODAY + timedelta(days=30), line="IVD")
        buyer_not = refused(s, "D-JS-001", ivd, 1, to_dealer="D-JS-002")
        assert buyer_not.field == "buyer_dealer_id" and "苏州德尔医疗科技有限公司" in buyer_not.message


def test_what_a_dealer_bought_from_another_is_its_stock_to_sell_on(world, as_tenant):
    with as_tenant(world) as s:
        lot = deliver(s, "D-JS-001", "CV-DES-3533", lot_tag(), 10, TODAY - timedelta(days=10))
        seller, buyer = dealer(s, "D-JS-001").id, dealer(s, "D-JS-002").id
        assert refused(s, "D-JS-002", lot, 1, to_hospital="H-JS-002").field == "lot_id"  # nothing bought yet
        sell(s, "D-JS-001", lot, 6, days_ago=5, to_dealer="D-JS-002")
        before = refused(s, "D-JS-002", lot, 1, days_ago=6, to_hospital="H-JS-002")
        assert before.field == "sold_on"  # it arrived with the sale, five days ago
        too_many = refused(s, "D-JS-002", lot, 7, to_hospital="H-JS-002")
        assert too_many.field == "quantity" and "6" in too_many.message
        stock = {(r.dealer_id, r.lot_id): r.stock for r in sellout.channel_stock(s, [seller, buyer], None)}
        assert (stock[(seller, lot.id)], stock[(buyer, lot.id)]) == (4, 6)
        sell(s, "D-JS-002", lot, 6, to_hospital="H-JS-002")
        assert (buyer, lot.id) not in {(r.dealer_id, r.lot_id) for r in sellout.channel_stock(s, [buyer], None)}


def test_a_dealer_reports_a_sale_to_a_sub_dealer_on_the_form_and_only_it_sees_the_line(world, as_tenant, signed_in):
    with as_tenant(world) as s:
        lot = deliver(s, "D-SH-001", "CV-DES-2523", lot_tag(), 5, TODAY - timedelta(days=2))
        lot_id, sku_id, buyer = lot.id, lot.sku_id, dealer(s, "D-SH-002").id
    client = signed_in(world, "dealer1")
    form = client.get("/dealer/sell-out/new").get_data(as_text=True)
    assert "上海联拓医疗器械有限公司" in form and "广州百仕达医疗器械有限公司" not in form  # dealers of its own area
    sent = client.post("/dealer/sell-out/new", {"sold_on": TODAY.isoformat(), "hospital_id": "", "buyer_dealer_id": buyer,
                                                "sku_id": sku_id, "lot_id": lot_id, "quantity": "2", "unit_price": "560",
                                                "invoice_no": "FX-0098"})
    assert sent.status_code == 303, sent.get_data(as_text=True)[:400]
    listing = client.get("/dealer/sell-out").get_data(as_text=True)
    assert "FX-0098" in listing and "上海联拓医疗器械有限公司" in listing
    assert "FX-0098" not in signed_in(world, "dealer2").get("/dealer/sell-out").get_data(as_text=True)
    manufacturer = signed_in(world, "channel").get("/manufacturer/sell-out").get_data(as_text=True)
    assert "FX-0098" in manufacturer and "上海联拓医疗器械有限公司" in manufacturer
    neither = client.post("/dealer/sell-out/new", {"sold_on": TODAY.isoformat(), "sku_id": sku_id, "lot_id": lot_id,
                                                   "quantity": "1", "unit_price": "560", "invoice_no": "FX-0099"})
    assert neither.status_code == 400 and 'id="hospital_id-error"' in neither.get_data(as_text=True)


def _violation(world, as_tenant):
    with as_tenant(world) as s:
        lot = deliver(s, "D-JS-001", "CV-DES-2518", lot_tag(), 10, TODAY - timedelta(days=10))
        sell(s, "D-JS-001", lot, 5, days_ago=5, to_dealer="D-JS-002")
        return sell(s, "D-JS-002", lot, 3, to_hospital="H-JS-002", invoice_no=f"TV-{lot.lot_no}", days_ago=0).id, lot.lot_no


def test_the_manufacturer_lists_violations_and_opens_the_evidence(world, as_tenant, signed_in):
    line_id, lot_no = _violation(world, as_tenant)
    channel = signed_in(world, "channel")
    listing = channel.get("/manufacturer/two-invoice").get_data(as_text=True)
    assert f"/manufacturer/two-invoice/{line_id}" in listing and "苏州德尔医疗科技有限公司" in listing
    assert f"/manufacturer/two-invoice/{line_id}" in channel.get(
        f"/manufacturer/two-invoice?month={TODAY:%Y-%m}&dealer=苏州").get_data(as_text=True)
    assert f"/manufacturer/two-invoice/{line_id}" not in channel.get(
        "/manufacturer/two-invoice?dealer=百仕达").get_data(as_text=True)
    case = channel.get(f"/manufacturer/two-invoice/{line_id}").get_data(as_text=True)
    assert lot_no in case and "江苏恒康医疗供应链有限公司" in case and "苏州大学附属第一医院" in case
    assert "SH-" in case and "尚未开票" in case  # the shipment to the first dealer, not invoiced in this world
    assert channel.get("/manufacturer/two-invoice?month=2026-13").status_code == 400


def test_two_invoice_pages_are_closed_to_the_wrong_people(world, as_tenant, signed_in):
    line_id, _lot = _violation(world, as_tenant)
    path = f"/manufacturer/two-invoice/{line_id}"
    for local in ("channel", "qa", "finance", "admin", "sales.east"):
        assert signed_in(world, local).get(path).status_code == 200, local
    south = signed_in(world, "sales.south")
    assert south.get(path).status_code == 404
    assert path not in south.get("/manufacturer/two-invoice").get_data(as_text=True)
    for local in ("service", "dealer1", "hospital1"):
        assert signed_in(world, local).get("/manufacturer/two-invoice").status_code == 403, local
        assert signed_in(world, local).get(path).status_code == 403, local
    assert signed_in("globex", "admin").get(path).status_code == 404
    assert signed_in(world, "channel").get("/manufacturer/two-invoice/99999999999").status_code == 404


def test_manufacturer_exports_the_violations_it_sees(world, as_tenant, signed_in, run_worker):
    from openpyxl import load_workbook

    from app.compliance.models import Job

    line_id, lot_no = _violation(world, as_tenant)

    def rows(local):
        client = signed_in(world, local)
        response = client.post("/manufacturer/exports", {"list": "two_invoice", "request_id": uuid.uuid4().hex},
                               token_from="/manufacturer/two-invoice")
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
        job_id = int(re.search(r"/jobs/(\d+)$", response.headers["Location"]).group(1))
        run_worker()
        with as_tenant(world) as s:
            job = s.get(Job, job_id)
            assert job.status == "done", job.error
            document_id = job.document_id
        sheet = load_workbook(io.BytesIO(client.get(f"/documents/{document_id}").data)).worksheets[0]
        return [[c.value for c in row] for row in sheet.iter_rows()][1:]

    mine = [r for r in rows("qa") if r[7] == lot_no]
    assert len(mine) == 1 and mine[0][1] == "D-JS-002" and mine[0][10] == 3 and mine[0][11] == "江苏恒康医疗供应链有限公司"
    assert [r for r in rows("sales.south") if r[7] == lot_no] == []


def test_the_demo_shows_a_violation_through_the_suzhou_sub_dealer(signed_in):
    page = signed_in("acme", "sales.east").get("/manufacturer/two-invoice").get_data(as_text=True)
    assert "苏州德尔医疗科技有限公司" in page and "华东医疗器械有限公司" in page and "苏州大学附属第一医院" in page
    assert "苏州德尔" not in signed_in("acme", "sales.south").get("/manufacturer/two-invoice").get_data(as_text=True)
