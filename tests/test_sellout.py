"""Dealers report sell-out (流向) against what they received; channel stock, days of
cover and late reporters follow from it; nobody sees another dealer's figures."""
import csv
import io
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.inventory import sellout
from app.inventory.models import SellOutLine
from app.compliance.models import AuditEvent, ImportRun
from tests.sellout_world import (at_shanghai, authorize, dealer, deliver, hospital, lot_tag, return_goods,  # noqa: F401
                                 sellout_world, sku)

TODAY = shanghai_today()


def _scope_all():
    from app.channel.queries import ChannelScope

    return ChannelScope()


def sale(session, dealer_code, lot, quantity, sold_on=None, hospital_code="H-SH-001", **extra):
    values = {"sold_on": sold_on or TODAY, "hospital_id": hospital(session, hospital_code).id, "sku_id": lot.sku_id,
              "lot_id": lot.id, "quantity": quantity, "unit_price": Decimal("6800.00"), "invoice_no": "04410001"}
    values.update(extra)
    return sellout.record_sell_out(session, dealer(session, dealer_code), None, values, source="api")


def refused(session, dealer_code, lot, quantity, **kw) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        with session.begin_nested():
            sale(session, dealer_code, lot, quantity, **kw)
    return caught.value


# --- recording and validation ---------------------------------------------------------------

def test_a_sale_of_a_received_lot_is_recorded_and_audited(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-2518", lot_tag(), 10, TODAY - timedelta(days=20))
        line = sale(session, "D-SH-001", lot, 4)
        assert line.quantity == 4 and line.unit_price == Decimal("6800.00") and line.source == "api"
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_type == "sell_out_lines", AuditEvent.entity_id == str(line.id))) == 1
        position = sellout.lot_position(session, dealer(session, "D-SH-001").id, lot.id)
        assert (position.received, position.sold, position.available) == (10, 4, 6)


def test_a_lot_the_dealer_never_received_is_refused(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-002", "CV-DES-2518", lot_tag(), 10, TODAY - timedelta(days=5))
        err = refused(session, "D-SH-001", lot, 1)
        assert err.field == "lot_id" and "没有收到过" in err.message


def test_a_typed_lot_number_nobody_received_is_refused_next_to_the_lot_field(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-2518", lot_tag(), 10, TODAY - timedelta(days=5))
        err = refused(session, "D-SH-001", lot, 1, lot_id=None, lot_no="NO-SUCH-LOT")
        assert err.field == "lot_no"


def test_selling_more_than_the_dealer_holds_is_refused(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-2523", lot_tag(), 10, TODAY - timedelta(days=10))
        sale(session, "D-SH-001", lot, 6)
        err = refused(session, "D-SH-001", lot, 5)
        assert err.field == "quantity" and "4" in err.message
        sale(session, "D-SH-001", lot, 4)  # exactly what is left


def test_returned_units_can_no_longer_be_sold(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-2523", lot_tag(), 10, TODAY - timedelta(days=10))
        return_goods(session, "D-SH-001", lot, 3)
        return_goods(session, "D-SH-001", lot, 5, status="requested")  # not back yet: still held
        assert refused(session, "D-SH-001", lot, 8).field == "quantity"
        sale(session, "D-SH-001", lot, 7)


def test_a_short_delivery_counts_what_was_received(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-3018", lot_tag(), 10, TODAY - timedelta(days=3), received_quantity=8)
        assert refused(session, "D-SH-001", lot, 9).field == "quantity"
        sale(session, "D-SH-001", lot, 8)


def test_a_sale_dated_in_the_future_is_refused(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-3018", lot_tag(), 10, TODAY - timedelta(days=3))
        err = refused(session, "D-SH-001", lot, 1, sold_on=TODAY + timedelta(days=1))
        assert err.field == "sold_on"


def test_a_sale_before_the_lot_arrived_is_refused(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-3018", lot_tag(), 10, TODAY - timedelta(days=3))
        err = refused(session, "D-SH-001", lot, 1, sold_on=TODAY - timedelta(days=4))
        assert err.field == "sold_on"
        sale(session, "D-SH-001", lot, 1, sold_on=TODAY - timedelta(days=3))


def test_a_lot_of_another_product_is_refused(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-3028", lot_tag(), 10, TODAY - timedelta(days=3))
        other = sku(session, "CV-PTCA-2015")
        err = refused(session, "D-SH-001", lot, 1, sku_id=other.id)
        assert err.field == "lot_id" and "CV-DES-3028" in err.message
        err = refused(session, "D-SH-001", lot, 1, sku_id=other.id, lot_id="", lot_no=lot.lot_no)
        assert err.field == "lot_no"


def test_an_inactive_hospital_and_a_zero_quantity_are_refused(world, as_tenant):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-3028", lot_tag(), 10, TODAY - timedelta(days=3))
        h = hospital(session, "H-JS-004")
        h.status = "inactive"
        session.flush()
        assert refused(session, "D-SH-001", lot, 1, hospital_code="H-JS-004").field == "hospital_id"
        h.status = "active"
        assert refused(session, "D-SH-001", lot, 0).field == "quantity"
        assert refused(session, "D-SH-001", lot, "2.5").field == "quantity"
        assert refused(session, "D-SH-001", lot, 1, unit_price="abc").field == "unit_price"
        assert refused(session, "D-SH-001", lot, 1, invoice_no="").field == "invoice_no"


def test_a_dealer_reports_sales_only_to_hospitals_it_may_sell_to(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-2523", lot_tag(), 10, TODAY - timedelta(days=30))
        err = refused(session, "D-SH-001", lot, 1, hospital_code="H-GD-001")  # 广东: dealer2's territory
        assert err.field == "hospital_id" and TODAY.isoformat() in err.message and "中山大学附属第一医院" in err.message
        # a hospital named in an authorization from ten days ago: sales from that day on
        authorize(session, "D-SH-001", ["H-GD-003"], TODAY - timedelta(days=10), TODAY + timedelta(days=300))
        assert refused(session, "D-SH-001", lot, 1, hospital_code="H-GD-003",
                       sold_on=TODAY - timedelta(days=11)).field == "hospital_id"
        sale(session, "D-SH-001", lot, 1, hospital_code="H-GD-003", sold_on=TODAY - timedelta(days=10))
        sale(session, "D-SH-001", lot, 1, hospital_code="H-SH-002")
        gd1, lot_id, sku_id, lot_no = hospital(session, "H-GD-001").id, lot.id, lot.sku_id, lot.lot_no
    client = signed_in(world, "dealer1")
    form = client.get("/dealer/sell-out/new").get_data(as_text=True)
    assert "(H-SH-002)" in form and "(H-GD-003)" in form and "(H-GD-001)" not in form
    posted = client.post("/dealer/sell-out/new", {"sold_on": TODAY.isoformat(), "hospital_id": gd1, "sku_id": sku_id,
                                                  "lot_id": lot_id, "quantity": "1", "unit_price": "100",
                                                  "invoice_no": "NA-1"})
    assert posted.status_code == 400 and 'id="hospital_id-error"' in posted.get_data(as_text=True)
    uploaded = upload(client, csv_bytes([[TODAY.isoformat(), "H-GD-001", "CV-DES-2523", lot_no, "", 1, "100", "NA-2"]]))
    assert uploaded.status_code == 400 and "H-GD-001" in uploaded.get_data(as_text=True)
    assert "(H-GD-001)" in signed_in(world, "dealer2").get("/dealer/sell-out/new").get_data(as_text=True)
    with as_tenant(world) as session:
        assert not session.scalar(select(func.count()).select_from(SellOutLine).where(
            SellOutLine.hospital_id == gd1, SellOutLine.lot_id == lot_id))


def test_a_quantity_that_is_no_whole_number_is_refused_not_a_crash(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-DES-3028", lot_tag(), 10, TODAY - timedelta(days=3))
        for bad in ("nan", "NaN", "inf", "-inf", "1e999999", "1e3", "9" * 5000, "-1", "0", "1000001", "2.0",
                    Decimal("NaN"), Decimal("1E+999999"), float("nan"), float("inf"), 10**5000, True):
            assert refused(session, "D-SH-001", lot, bad).field == "quantity", str(bad)[:20]
        assert sale(session, "D-SH-001", lot, " 003 ").quantity == 3
        lot_id, sku_id, hid = lot.id, lot.sku_id, hospital(session, "H-SH-001").id
    client = signed_in(world, "dealer1")
    for bad in ("nan", "inf", "1e999999"):
        response = client.post("/dealer/sell-out/new", {"sold_on": TODAY.isoformat(), "hospital_id": hid, "sku_id": sku_id,
                                                        "lot_id": lot_id, "quantity": bad, "unit_price": "100",
                                                        "invoice_no": "Q-1"})
        assert response.status_code == 400 and 'id="quantity-error"' in response.get_data(as_text=True), bad


def test_whole_numbers_are_read_from_any_text_without_crashing(app):
    from app.core import coerce

    with app.test_request_context():
        for bad in ("nan", "inf", "1e999999", "9" * 5000, "0" * 5000 + "1" * 40, "-3", "+3", "３", "3.0", 10**5000,
                    float("nan"), Decimal("Infinity"), False):
            with pytest.raises(InvalidInput):
                coerce.whole({"n": bad}, "n", 1, 10)
        assert coerce.whole({"n": " 007 "}, "n", 1, 10) == 7
        assert coerce.whole({"n": "0" * 5000 + "3"}, "n", 1, 10) == 3
        assert coerce.whole({"n": Decimal(4)}, "n", 1, 10) == 4


def test_two_reports_at_once_cannot_both_sell_the_last_units(world, as_tenant, app):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-002", "CV-NC-3012", lot_tag(), 5, TODAY - timedelta(days=3))
        lot_id, sku_id = lot.id, lot.sku_id
    barrier = threading.Barrier(2)
    outcomes = []

    def report():
        try:
            with as_tenant(world) as session:
                values = {"sold_on": TODAY, "hospital_id": hospital(session, "H-SH-002").id, "sku_id": sku_id,
                          "lot_id": lot_id, "quantity": 4, "unit_price": "100", "invoice_no": "X1"}
                d = dealer(session, "D-SH-002")
                barrier.wait(timeout=10)
                sellout.record_sell_out(session, d, None, values, source="api")
                session.execute(text("SELECT pg_sleep(0.3)"))  # hold the lock while the other waits
            outcomes.append("recorded")
        except InvalidInput as err:
            outcomes.append(err.field)

    threads = [threading.Thread(target=report) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["quantity", "recorded"]
    with as_tenant(world) as session:
        assert session.scalar(select(func.sum(SellOutLine.quantity)).where(SellOutLine.lot_id == lot_id)) == 4


# --- channel stock and days of cover ----------------------------------------------------------

def test_channel_stock_is_sell_in_minus_returns_minus_sell_out_with_days_of_cover(world, as_tenant):
    with as_tenant(world) as session:
        d = dealer(session, "D-BJ-001")
        lot = deliver(session, "D-BJ-001", "CV-GW-0141", lot_tag(), 100, TODAY - timedelta(days=200))
        return_goods(session, "D-BJ-001", lot, 10)
        sale(session, "D-BJ-001", lot, 20, sold_on=TODAY - timedelta(days=150), hospital_code="H-BJ-001")  # before the window
        sale(session, "D-BJ-001", lot, 30, sold_on=TODAY - timedelta(days=89), hospital_code="H-BJ-001")   # first day of it
        [row] = [r for r in sellout.channel_stock(session, [d.id], TODAY) if r.lot_id == lot.id]
        assert (row.received, row.sold, row.stock, row.sold_90) == (90, 50, 40, 30)
        assert row.days_of_cover == 120  # 40 units at 30 per 90 days
        # as of a day before the later sale, it was still held
        [earlier] = [r for r in sellout.channel_stock(session, [d.id], TODAY - timedelta(days=100)) if r.lot_id == lot.id]
        assert earlier.sold == 20 and earlier.sold_90 == 20


def test_days_of_cover_is_none_without_sales():
    assert sellout.days_of_cover(40, 0) is None
    assert sellout.days_of_cover(0, 30) == 0
    assert sellout.days_of_cover(10, 3) == 300
    assert sellout.days_of_cover(1, 180) == 1  # 0.5 rounds half up


def test_channel_stock_page_shows_the_dealers_own_stock_and_no_sales(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        tag = lot_tag()
        deliver(session, "D-SH-001", "SH-ASD-20", tag, 7, TODAY - timedelta(days=2))
    page = signed_in(world, "dealer1").get("/dealer/channel-stock")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and tag in html and "SH-ASD-20" in html
    assert "无销量" in html
    other = signed_in(world, "dealer2").get("/dealer/channel-stock").get_data(as_text=True)
    assert tag not in other


def test_manufacturer_sees_channel_stock_by_region_and_drills_into_a_dealer(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        tag = lot_tag()
        deliver(session, "D-GD-001", "SH-LAAO-27", tag, 3, TODAY - timedelta(days=2))
        gd, sh = dealer(session, "D-GD-001").id, dealer(session, "D-SH-001").id
    channel = signed_in(world, "channel")
    html = channel.get("/manufacturer/channel-stock").get_data(as_text=True)
    assert "广州百仕达医疗器械有限公司" in html and "华南" in html
    detail = channel.get(f"/manufacturer/channel-stock/{gd}")
    assert detail.status_code == 200 and tag in detail.get_data(as_text=True)
    south = signed_in(world, "sales.south")
    assert south.get(f"/manufacturer/channel-stock/{gd}").status_code == 200
    assert south.get(f"/manufacturer/channel-stock/{sh}").status_code == 404
    assert "华东医疗器械有限公司" not in south.get("/manufacturer/channel-stock").get_data(as_text=True)
    assert signed_in(world, "qa").get("/manufacturer/channel-stock").status_code == 403
    assert signed_in(world, "hospital1").get("/dealer/channel-stock").status_code == 403


# --- late reporters ------------------------------------------------------------------------

def test_late_reporters_at_month_boundaries_in_shanghai_time(world, as_tenant):
    with as_tenant(world) as session:
        d = dealer(session, "D-HB-001") or dealer(session, "D-SC-001")
        code = d.code
        # 00:30 on 1 September in Shanghai is still 31 August in UTC: a September delivery
        deliver(session, code, "IVD-DD-100", lot_tag(), 20, at_shanghai(date(2026, 9, 1), 0, 30))

        def late(day, due_day=5):
            return [r for r in sellout.late_reporters(session, _scope_all(), day, due_day) if r.dealer_id == d.id]

        assert late(date(2026, 9, 30)) == []          # August had no sell-in; September not due
        assert late(date(2026, 10, 5)) == []          # due today: not late yet
        [r] = late(date(2026, 10, 6))
        assert (r.month, r.due_on, r.days_late, r.reported_on) == (date(2026, 9, 1), date(2026, 10, 5), 1, None)
        assert late(date(2026, 10, 9), due_day=10) == []
        # a line for September reported on 5 October: on time
        lot = deliver(session, code, "IVD-DD-100", lot_tag(), 5, at_shanghai(date(2026, 9, 2)))
        line = sale(session, code, lot, 1, sold_on=date(2026, 9, 20), hospital_code="H-HB-001")
        line.created_at = at_shanghai(date(2026, 10, 5), 23, 50)
        session.flush()
        assert late(date(2026, 10, 20)) == []
        # reported on 6 October in Shanghai (22:10 UTC on the 5th... is the 6th at 06:10): late by one day
        line.created_at = at_shanghai(date(2026, 10, 6), 6, 10)
        session.flush()
        [r] = late(date(2026, 10, 20))
        assert (r.reported_on, r.days_late) == (date(2026, 10, 6), 1)


def test_due_day_past_the_end_of_a_short_month_is_its_last_day():
    assert sellout.due_on(date(2026, 1, 1), 31) == date(2026, 2, 28)
    assert sellout.due_on(date(2026, 12, 1), 5) == date(2027, 1, 5)


def test_a_dealer_sees_a_warning_when_its_sell_out_is_late(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        deliver(session, "D-GD-001", "IVD-CRP-25", lot_tag(), 5, TODAY.replace(day=1) - timedelta(days=40))
    html = signed_in(world, "dealer2").get("/dealer/sell-out").get_data(as_text=True)
    assert "days late" in html or "天" in html


# --- pages: form, list, scoping -------------------------------------------------------------------

def test_dealer_reports_a_sale_by_form_and_sees_it_listed(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-PTCA-2520", lot_tag(), 6, TODAY - timedelta(days=2))
        lot_id, sku_id, hid = lot.id, lot.sku_id, hospital(session, "H-SH-003").id
        lot_no = lot.lot_no
    client = signed_in(world, "dealer1.sales")
    form = client.get("/dealer/sell-out/new").get_data(as_text=True)
    assert lot_no in form
    # choosing another product narrows the lot list (an htmx fragment)
    with as_tenant(world) as session:
        other = sku(session, "CV-DES-2518").id
    fragment = client.get(f"/dealer/sell-out/new?sku_id={other}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="lot-choice">') and lot_no not in fragment
    assert lot_no in client.get(f"/dealer/sell-out/new?sku_id={sku_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    data = {"sold_on": TODAY.isoformat(), "hospital_id": hid, "sku_id": sku_id, "lot_id": lot_id, "quantity": "9",
            "unit_price": "1200", "invoice_no": "INV-77"}
    bad = client.post("/dealer/sell-out/new", data)
    assert bad.status_code == 400 and 'id="quantity-error"' in bad.get_data(as_text=True)
    ok = client.post("/dealer/sell-out/new", dict(data, quantity="2"))
    assert ok.status_code == 303
    listing = client.get("/dealer/sell-out").get_data(as_text=True)
    assert "INV-77" in listing
    assert "INV-77" not in signed_in(world, "dealer2").get("/dealer/sell-out").get_data(as_text=True)
    manufacturer = signed_in(world, "channel").get("/manufacturer/sell-out").get_data(as_text=True)
    assert "INV-77" in manufacturer
    assert "INV-77" not in signed_in(world, "sales.south").get("/manufacturer/sell-out").get_data(as_text=True)
    assert "INV-77" in signed_in(world, "sales.east").get(f"/manufacturer/sell-out?month={TODAY:%Y-%m}").get_data(as_text=True)


def test_sell_out_pages_refuse_the_wrong_people(world, signed_in):
    assert signed_in(world, "hospital1").get("/dealer/sell-out").status_code == 403
    assert signed_in(world, "hospital1").get("/manufacturer/sell-out").status_code == 403
    assert signed_in(world, "dealer1").get("/manufacturer/sell-out").status_code == 403
    assert signed_in(world, "qa").get("/manufacturer/sell-out").status_code == 403
    assert signed_in(world, "service").get("/manufacturer/channel-stock").status_code == 403
    bad_month = signed_in(world, "channel").get("/manufacturer/sell-out?month=2026-13")
    assert bad_month.status_code == 400 and "YYYY-MM" in bad_month.get_data(as_text=True)


def test_a_month_outside_2000_to_2100_is_a_bad_filter_not_a_crash(world, signed_in):
    for local, path in (("channel", "/manufacturer/sell-out"), ("dealer1", "/dealer/sell-out")):
        client = signed_in(world, local)
        for month in ("9999-12", "2101-01", "1999-12", "0001-01", "-1-01"):
            response = client.get(f"{path}?month={month}")
            assert response.status_code == 400 and "YYYY-MM" in response.get_data(as_text=True), (path, month)
        for month in ("2100-12", "2000-01"):
            assert client.get(f"{path}?month={month}").status_code == 200, (path, month)


def test_another_tenants_dealer_cannot_reach_these_pages(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        gd = dealer(session, "D-GD-001").id
    assert signed_in("globex", "admin").get(f"/manufacturer/channel-stock/{gd + 100000}").status_code == 404


# --- upload -------------------------------------------------------------------------------------

HEADERS = ["销售日期", "医院编码", "产品编码", "批号", "序列号", "数量", "单价", "发票号"]


def csv_bytes(rows) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    for row in rows:
        writer.writerow(row)
    return buf.getvalue().encode("utf-8-sig")


def upload(client, data: bytes, dry_run=False, name="sellout.csv", request_id=None):
    form = {"file": (io.BytesIO(data), name)}
    if request_id:
        form["request_id"] = request_id
    if dry_run:
        form["dry_run"] = "1"
    return client.post("/dealer/sell-out/upload", form, content_type="multipart/form-data")


def test_upload_is_all_or_nothing_with_errors_per_row_and_column(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-001", "CV-SH-6F", lot_tag(), 10, TODAY - timedelta(days=5))
        lot_no, lot_id = lot.lot_no, lot.id
        before = session.scalar(select(func.count()).select_from(SellOutLine))
    day = TODAY.isoformat()
    rows = [[day, "H-SH-001", "CV-SH-6F", lot_no, "", 3, "120.00", "F-1"],
            [day, "H-SH-001", "CV-SH-6F", "NOPE", "", 1, "120.00", "F-2"],
            [day, "H-XX-999", "CV-SH-6F", lot_no, "", 1, "120.00", "F-3"],
            [day, "H-SH-001", "CV-SH-6F", lot_no, "", 30, "120.00", "F-4"]]
    client = signed_in(world, "dealer1")
    refused_upload = upload(client, csv_bytes(rows))
    html = refused_upload.get_data(as_text=True)
    assert refused_upload.status_code == 400
    assert "Refused" in html or "拒绝" in html
    assert "NOPE" in html and "H-XX-999" in html and "批号" in html and "医院编码" in html and "数量" in html
    with as_tenant(world) as session:
        assert session.scalar(select(func.count()).select_from(SellOutLine)) == before
        run = session.scalar(select(ImportRun).where(ImportRun.entity == "sell_out").order_by(ImportRun.id.desc()))
        assert run.status == "rejected" and {e["row"] for e in run.errors} == {3, 4, 5}
    # a dry run of the good rows writes nothing either
    good = [rows[0], [day, "H-SH-002", "CV-SH-6F", lot_no, "", 2, "118.50", "F-5"]]
    assert upload(client, csv_bytes(good), dry_run=True).status_code == 200
    with as_tenant(world) as session:
        assert session.scalar(select(func.count()).select_from(SellOutLine)) == before
    taken = upload(client, csv_bytes(good), request_id="r-0123456789")
    assert taken.status_code == 303
    assert upload(client, csv_bytes(good), request_id="r-0123456789").status_code == 303  # sent twice: one import
    with as_tenant(world) as session:
        lines = list(session.scalars(select(SellOutLine).where(SellOutLine.lot_id == lot_id)))
        assert sorted(line.quantity for line in lines) == [2, 3]
        assert {line.source for line in lines} == {"import"} and all(line.import_run_id for line in lines)
        assert {line.dealer_id for line in lines} == {dealer(session, "D-SH-001").id}


def test_upload_sells_only_for_the_signed_in_dealer(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        lot_no = deliver(session, "D-SH-001", "CV-INF-30", lot_tag(), 4, TODAY - timedelta(days=5)).lot_no
    rows = [[TODAY.isoformat(), "H-GD-001", "CV-INF-30", lot_no, "", 1, "50", "G-1"]]
    response = upload(signed_in(world, "dealer2"), csv_bytes(rows))
    assert response.status_code == 400 and "没有收到过" in response.get_data(as_text=True)


def test_an_upload_by_a_user_of_no_dealer_is_refused_in_a_sentence(world, as_tenant):
    from flask_babel import force_locale

    from app.inventory.imports import _apply_sell_out

    with as_tenant(world) as session, force_locale("en"):
        with pytest.raises(InvalidInput) as caught:
            _apply_sell_out(session, {}, None, None)
    assert caught.value.field is None and caught.value.message == "Only a dealer's users can upload sell-out."


def test_sell_out_template_has_the_chinese_headers(world, signed_in):
    from openpyxl import load_workbook

    response = signed_in(world, "dealer1").get("/dealer/sell-out/template")
    assert response.status_code == 200
    headers = [c.value for c in next(load_workbook(io.BytesIO(response.data)).worksheets[0].iter_rows(max_row=1))]
    assert headers == HEADERS
    assert signed_in(world, "hospital1").get("/dealer/sell-out/template").status_code == 403


def test_manufacturer_exports_the_sell_out_it_sees_with_its_filters(world, as_tenant, signed_in, run_worker):
    import re
    import uuid

    from openpyxl import load_workbook

    from app.compliance.models import Job

    with as_tenant(world) as session:
        lot = deliver(session, "D-SH-002", "IVD-QC-01", lot_tag(), 5, TODAY - timedelta(days=2))
        sale(session, "D-SH-002", lot, 2, invoice_no="EXP-1")
        sh2 = dealer(session, "D-SH-002").id

    def rows(local, **filters):
        client = signed_in(world, local)
        response = client.post("/manufacturer/exports", {"list": "sell_out", "request_id": uuid.uuid4().hex, **filters},
                               token_from="/manufacturer/sell-out")
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
        job_id = int(re.search(r"/jobs/(\d+)$", response.headers["Location"]).group(1))
        run_worker()
        with as_tenant(world) as session:
            job = session.get(Job, job_id)
            assert job.status == "done", job.error
            document_id = job.document_id
        sheet = load_workbook(io.BytesIO(client.get(f"/documents/{document_id}").data)).worksheets[0]
        return [[c.value for c in row] for row in sheet.iter_rows()][1:]

    mine = rows("channel", dealer_id=str(sh2), month=f"{TODAY:%Y-%m}")
    assert mine and {r[1] for r in mine} == {"D-SH-002"} and "EXP-1" in {r[11] for r in mine}
    assert "EXP-1" not in {r[11] for r in rows("sales.south")}


# --- the pure rules, for any input ----------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), st.integers(1, 31))
def test_a_month_is_due_in_the_next_month_never_later_than_its_due_day(day, due_day):
    month = sellout.month_start(day)
    due = sellout.due_on(month, due_day)
    assert sellout.month_start(due) == sellout.add_months(month, 1)
    assert due.day <= due_day and (due.day == due_day or (due + timedelta(days=1)).day == 1)


@given(st.integers(0, 10**6), st.integers(1, 10**6))
def test_more_stock_never_means_fewer_days_of_cover(stock, sold):
    cover = sellout.days_of_cover(stock, sold)
    assert cover is not None and cover >= 0
    assert sellout.days_of_cover(stock + 1, sold) >= cover
    assert sellout.days_of_cover(stock, sold + 1) <= cover


def test_the_sell_out_list_pages_through_every_line(world, as_tenant, signed_in):
    from app.core.pagination import PER_PAGE

    with as_tenant(world) as session:
        lot = deliver(session, "D-JS-001", "IVD-MYO-100", lot_tag(), PER_PAGE + 5, TODAY - timedelta(days=3))
        for n in range(PER_PAGE + 5):
            sale(session, "D-JS-001", lot, 1, hospital_code="H-JS-003", invoice_no=f"PG-{n:03d}")
        js = dealer(session, "D-JS-001").id
    client = signed_in(world, "channel")
    first = client.get(f"/manufacturer/sell-out?dealer_id={js}").get_data(as_text=True)
    assert first.count("PG-") == PER_PAGE
    import html as html_lib
    import re
    next_url = html_lib.unescape(re.search(r'href="([^"]*after=[^"]*)"[^>]*rel="next"', first).group(1))
    second = client.get(next_url).get_data(as_text=True)
    assert second.count("PG-") == 5 and "PG-000" in second and "PG-000" not in first
