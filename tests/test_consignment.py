"""Consignment (寄售/跟台): surgery-use reports by the dealer or the hospital, confirmed by
the manufacturer into a consumption and a consignment_use order at the resolved price;
who may report where; counts whose variances post adjustments that reconcile with the
ledger; replenishment as a transfer; the pages and their scoping."""
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from app.channel.models import Hospital
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.inventory import consignment as cons
from app.inventory import transfers as tr
from app.inventory.models import ConsignmentCount, StockBalance, StockMovement, Warehouse
from app.orders import surgery
from app.orders.models import OrderEvent, SurgeryReport
from app.pricing.queries import resolve_price


@pytest.fixture()
def sites(as_tenant):
    with as_tenant("acme") as s:
        wh = {c: i for c, i in s.execute(select(Warehouse.code, Warehouse.id))}
        h1 = s.scalar(select(Hospital).where(Hospital.code == "H-SH-001"))
        return {**wh, "H-SH-001": h1.id, "H-SH-001-dealer": h1.serving_dealer_id,
                "H-BJ-002": s.scalar(select(Hospital.id).where(Hospital.code == "H-BJ-002"))}


def _user(s, local):
    return s.scalar(select(User).where(User.email == f"{local}@acme.test"))


def _lot_at(s, warehouse_id, minimum=1):
    stock = [x for x in cons.available_lots(s, warehouse_id) if x.quantity >= minimum]
    assert stock, "the demo has consignment stock"
    return stock[0]


def _available(s, warehouse_id, lot_id) -> int:
    return s.scalar(select(StockBalance.quantity).where(StockBalance.warehouse_id == warehouse_id,
                                                        StockBalance.lot_id == lot_id,
                                                        StockBalance.state == "available")) or 0


def _report(s, user, warehouse_id, lot_id, hospital_id=None, quantity=1):
    return surgery.report_surgery(s, user, {
        "warehouse_id": warehouse_id, "hospital_id": hospital_id, "surgery_on": shanghai_today().isoformat(),
        "department": "心内科导管室", "surgeon": "王主任", "case_ref": "CASE-001",
        "lines": [{"lot_id": lot_id, "quantity": quantity}]})


def _reconciles(s, warehouse_id) -> bool:
    """Balances at the warehouse equal the ledger's sums per lot and state."""
    mismatches = s.execute(text("""
        WITH ledger AS (
          SELECT lot_id, state, sum(q) AS q FROM (
            SELECT lot_id, to_state AS state, quantity AS q FROM stock_movements WHERE warehouse_id = :w AND to_state IS NOT NULL
            UNION ALL
            SELECT lot_id, from_state, -quantity FROM stock_movements WHERE warehouse_id = :w AND from_state IS NOT NULL) m
          GROUP BY lot_id, state)
        SELECT count(*) FROM ledger l FULL JOIN (SELECT * FROM stock_balances WHERE warehouse_id = :w) b
          ON b.lot_id = l.lot_id AND b.state = l.state
        WHERE coalesce(l.q, 0) <> coalesce(b.quantity, 0)"""), {"w": warehouse_id}).scalar()
    return mismatches == 0


def test_hospital_reports_use_and_the_manufacturer_confirms_it_into_a_sale(as_tenant, sites):
    location = sites["CS-H-SH-001"]
    with as_tenant("acme") as s:
        stock = _lot_at(s, location)
        lot_id, before = stock.lot.id, stock.quantity
        report = _report(s, _user(s, "hospital1"), location, lot_id)
        assert report.status == "reported" and report.number.startswith("SR-")
        assert report.hospital_id == sites["H-SH-001"] and report.dealer_id == sites["H-SH-001-dealer"]
        assert _available(s, location, lot_id) == before  # nothing moves until confirmed
        rid = report.id
    with as_tenant("acme") as s:
        report = s.get(SurgeryReport, rid)
        order = surgery.confirm_surgery_report(s, report, _user(s, "channel"))
        expected = resolve_price(s, report.dealer_id, report.hospital_id, report.lines[0].sku_id, report.surgery_on)
        assert report.status == "confirmed" and report.order_id == order.id
        assert (order.kind, order.status, order.consignment_warehouse_id) == ("consignment_use", "delivered", location)
        assert (order.dealer_id, order.hospital_id) == (report.dealer_id, report.hospital_id)
        assert order.number.startswith("SO-")
        line = order.lines[0]
        assert line.unit_price == expected.price and isinstance(line.amount, Decimal)
        assert line.amount == expected.price * 1 and order.total_amount == line.amount
        assert (line.shipped_quantity, line.delivered_quantity, line.tax_rate) == (1, 1, line.sku.tax_rate)
        consumed = s.scalar(select(StockMovement).where(StockMovement.ref_type == "surgery_reports",
                                                        StockMovement.ref_id == rid))
        assert (consumed.kind, consumed.from_state, consumed.to_state, consumed.quantity) == ("consumption", "available",
                                                                                              None, 1)
        assert _available(s, location, lot_id) == before - 1
        assert s.scalar(select(OrderEvent.kind).where(OrderEvent.order_id == order.id)) == "consignment_use"
        with pytest.raises(InvalidInput):
            surgery.confirm_surgery_report(s, report, _user(s, "channel"))  # decided once
        assert _reconciles(s, location)


def test_dealer_reports_at_the_location_it_holds(as_tenant, sites):
    location = sites["CS-D-SH-001"]
    with as_tenant("acme") as s:
        dealer1 = _user(s, "dealer1")
        hospitals = surgery.hospitals_for(s, dealer1, s.get(Warehouse, location))
        assert hospitals
        report = _report(s, dealer1, location, _lot_at(s, location).lot.id, hospital_id=hospitals[0].id)
        assert report.dealer_id == dealer1.dealer_id
        with pytest.raises(InvalidInput) as wrong_hospital:
            _report(s, dealer1, location, _lot_at(s, location).lot.id, hospital_id=sites["H-BJ-002"])
        assert wrong_hospital.value.field == "hospital_id"


def test_nobody_reports_for_a_location_that_is_not_theirs(as_tenant, sites):
    with as_tenant("acme") as s:
        lot_id = _lot_at(s, sites["CS-H-SH-001"]).lot.id
        with pytest.raises(InvalidInput) as other_hospital:
            _report(s, _user(s, "hospital2"), sites["CS-H-SH-001"], lot_id)
        assert other_hospital.value.field == "warehouse_id"
        with pytest.raises(InvalidInput) as other_dealer:
            _report(s, _user(s, "dealer2"), sites["CS-D-SH-001"], _lot_at(s, sites["CS-D-SH-001"]).lot.id)
        assert other_dealer.value.field == "warehouse_id"
        assert sites["CS-H-SH-001"] not in [w.id for w in surgery.locations_for(s, _user(s, "hospital2"))]


def test_a_scanned_udi_names_the_lot(as_tenant, sites):
    with as_tenant("acme") as s:
        stock = next((x for x in cons.available_lots(s, sites["CS-H-SH-001"]) if x.lot.sku.udi_di and x.lot.lot_no), None)
        assert stock is not None, "the demo consigns stents that carry a UDI device identifier"
        udi = f"(01){stock.lot.sku.udi_di}(10){stock.lot.lot_no}"
        report = surgery.report_surgery(s, _user(s, "hospital1"), {
            "warehouse_id": sites["CS-H-SH-001"], "surgery_on": shanghai_today().isoformat(), "department": "心内科",
            "lines": [{"udi": udi, "quantity": "1"}]})
        assert [(line.lot_id, line.quantity) for line in report.lines] == [(stock.lot.id, 1)]
        with pytest.raises(InvalidInput) as malformed:
            surgery.report_surgery(s, _user(s, "hospital1"), {
                "warehouse_id": sites["CS-H-SH-001"], "surgery_on": shanghai_today().isoformat(), "department": "心内科",
                "lines": [{"udi": "(01)123", "quantity": "1"}]})
        assert malformed.value.field == "lines-0"


def test_reporting_more_than_the_location_holds_is_refused(as_tenant, sites):
    with as_tenant("acme") as s:
        stock = _lot_at(s, sites["CS-H-SH-001"])
        with pytest.raises(InvalidInput) as refused:
            _report(s, _user(s, "hospital1"), sites["CS-H-SH-001"], stock.lot.id, quantity=stock.quantity + 1)
        assert refused.value.field == "lines-0"


def test_confirmation_without_a_price_is_refused_and_consumes_nothing(as_tenant, sites, monkeypatch):
    import app.pricing.queries as pricing_q

    location = sites["CS-H-SH-001"]
    with as_tenant("acme") as s:
        stock = _lot_at(s, location)
        report = _report(s, _user(s, "hospital1"), location, stock.lot.id)
        real = pricing_q.resolve_price
        monkeypatch.setattr(pricing_q, "resolve_price",
                            lambda *a, **k: type(real(*a, **k))(**{**real(*a, **k).__dict__, "price": None}))
        with pytest.raises(InvalidInput) as refused:
            surgery.confirm_surgery_report(s, report, _user(s, "channel"))
        assert stock.lot.sku.code in refused.value.message
        assert report.status == "reported" and _available(s, location, stock.lot.id) == stock.quantity


def test_rejecting_needs_a_reason(as_tenant, sites):
    with as_tenant("acme") as s:
        report = _report(s, _user(s, "hospital1"), sites["CS-H-SH-001"], _lot_at(s, sites["CS-H-SH-001"]).lot.id)
        with pytest.raises(InvalidInput):
            surgery.reject_surgery_report(s, report, _user(s, "channel"), " ")
        surgery.reject_surgery_report(s, report, _user(s, "channel"), "批号与实物不符")
        assert report.status == "rejected"


def test_count_variances_post_adjustments_and_stock_reconciles(as_tenant, sites):
    location = sites["CS-D-SH-001"]
    with as_tenant("acme") as s:
        for stale in s.scalars(select(ConsignmentCount).where(ConsignmentCount.warehouse_id == location,
                                                              ConsignmentCount.status == "open")):
            stale.status = "closed"
        count = cons.open_count(s, s.get(Warehouse, location), _user(s, "channel"))
        assert count.lines and all(line.counted_quantity is None for line in count.lines)
        with pytest.raises(InvalidInput):
            cons.open_count(s, s.get(Warehouse, location), _user(s, "channel"))  # one open count at a time
        cid = count.id
    with as_tenant("acme") as s:
        count = s.get(ConsignmentCount, cid)
        short, extra, *rest = count.lines
        before = {line.lot_id: _available(s, location, line.lot_id) for line in count.lines}
        with pytest.raises(InvalidInput):
            cons.close_count(s, count, _user(s, "channel"))  # not counted yet
        cons.set_counted(s, count, short, {"counted_quantity": short.expected_quantity - 1})
        cons.set_counted(s, count, extra, {"counted_quantity": extra.expected_quantity + 2, "variance_reason": "上次漏记"})
        for line in rest:
            cons.set_counted(s, count, line, {"counted_quantity": line.expected_quantity})
        with pytest.raises(InvalidInput) as no_reason:
            cons.close_count(s, count, _user(s, "channel"))
        assert no_reason.value.field == "reason"
        movements = cons.close_count(s, count, _user(s, "channel"), "盘点差异")
        assert count.status == "closed"
        assert {(m.kind, m.from_state, m.to_state, m.quantity) for m in movements} == {
            ("adjustment", "available", None, 1), ("adjustment", None, "available", 2)}
        assert {m.reason for m in movements} == {"盘点差异", "上次漏记"}
        assert _available(s, location, short.lot_id) == before[short.lot_id] - 1
        assert _available(s, location, extra.lot_id) == before[extra.lot_id] + 2
        assert _reconciles(s, location)
        last = [x for x in cons.locations(s, tr.ChannelScope()) if x.warehouse.id == location][0]
        assert last.last_counted_on == shanghai_today() and last.units > 0


def test_replenishment_is_a_transfer_into_the_location(as_tenant, sites):
    with as_tenant("acme") as s:
        stock = _lot_at(s, sites["CS-H-SH-001"])
        have = s.scalar(select(func.sum(StockBalance.quantity)).where(
            StockBalance.warehouse_id == sites["WH-SZ"], StockBalance.sku_id == stock.lot.sku_id,
            StockBalance.state == "available")) or 0
        assert have >= 2, "the demo keeps the consigned SKUs in the central warehouse too"
        transfer = tr.request_transfer(s, _user(s, "channel"), {
            "from_warehouse_id": sites["WH-SZ"], "to_warehouse_id": sites["CS-H-SH-001"], "reason": "寄售补货",
            "lines": [{"sku_id": stock.lot.sku_id, "quantity": 2}]})
        tr.ship_transfer(s, transfer, _user(s, "channel"), {"carrier": "自提",
                                                            "eta": (shanghai_today() + timedelta(days=1)).isoformat()})
        arriving = tr.open_transfers_into(s, [sites["CS-H-SH-001"]], [stock.lot.sku_id])
        assert sum(a.quantity for a in arriving) >= 2


# --- pages ---------------------------------------------------------------------------------------

def _status(html: str, element: str = "report-status") -> str:
    match = re.search(rf'id="{element}">([^<]*)<', html)
    return match.group(1).strip() if match else ""


def test_hospital_reports_on_its_page_and_the_manufacturer_confirms_on_its_own(signed_in, as_tenant, sites):
    hospital = signed_in("acme", "hospital1")
    form = hospital.get("/hospital/surgery-reports/new").get_data(as_text=True)
    assert "CS-H-SH-001" in form
    with as_tenant("acme") as s:
        lot_id = _lot_at(s, sites["CS-H-SH-001"]).lot.id
    response = hospital.post("/hospital/surgery-reports/new", {
        "warehouse_id": sites["CS-H-SH-001"], "hospital_id": sites["H-SH-001"], "surgery_on": shanghai_today().isoformat(),
        "department": "心内科", "lot_id-0": lot_id, "quantity-0": "1"}, token_from="/hospital/surgery-reports/new")
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    url = response.headers["Location"]
    rid = int(url.rstrip("/").split("/")[-1])
    assert f"/hospital/surgery-reports/{rid}" in hospital.get("/hospital/surgery-reports").get_data(as_text=True)
    assert hospital.get(url).status_code == 200
    bad = hospital.post("/hospital/surgery-reports/new", {"warehouse_id": sites["CS-H-SH-001"], "surgery_on": "2020-13-01",
                                                          "department": "x", "lot_id-0": lot_id},
                        token_from="/hospital/surgery-reports/new")
    assert bad.status_code == 400
    udi = hospital.post("/hospital/surgery-reports/new", {"warehouse_id": sites["CS-H-SH-001"],
                                                          "surgery_on": shanghai_today().isoformat(), "department": "x",
                                                          "udi-0": "(01)123"}, token_from="/hospital/surgery-reports/new")
    assert udi.status_code == 400

    channel = signed_in("acme", "channel")
    assert f"/manufacturer/consignment/reports/{rid}" in channel.get("/manufacturer/consignment").get_data(as_text=True)
    page = f"/manufacturer/consignment/reports/{rid}"
    assert channel.post(page + "/confirm", {}, token_from=page).status_code == 303
    assert _status(channel.get(page).get_data(as_text=True)) in ("Confirmed", "已确认")
    assert re.search(r'id="report-order">SO-', channel.get(page).get_data(as_text=True))
    assert re.search(r'id="report-order">SO-', hospital.get(url).get_data(as_text=True))

    # others: another hospital, a dealer not serving it, another tenant; roles without access
    assert signed_in("acme", "hospital2").get(url).status_code == 404
    assert signed_in("acme", "dealer2").get(f"/dealer/surgery-reports/{rid}").status_code == 404
    assert signed_in("globex", "hospital1").get(url).status_code == 404
    assert signed_in("acme", "hospital1").get(page).status_code == 403
    assert signed_in("acme", "dealer1").get("/manufacturer/consignment").status_code == 403
    assert signed_in("acme", "dealer1").post(page + "/reject", {"reason": "x"}, token_from="/dealer/").status_code == 403
    assert signed_in("acme", "hospital1").post(page + "/confirm", {}, token_from="/hospital/").status_code == 403
    assert signed_in("acme", "finance").post(page + "/reject", {"reason": "x"}, token_from=page).status_code == 403
    assert signed_in("globex", "admin").get(page).status_code == 404
    assert signed_in("acme", "channel").get("/dealer/surgery-reports").status_code == 403


def test_dealer_report_pages_and_scoping(signed_in, as_tenant, sites):
    dealer = signed_in("acme", "dealer1")
    page = dealer.get(f"/dealer/surgery-reports/new?warehouse={sites['CS-D-SH-001']}").get_data(as_text=True)
    assert "CS-D-SH-001" in page and 'name="lot_id-0"' in page
    with as_tenant("acme") as s:
        lot_id = _lot_at(s, sites["CS-D-SH-001"]).lot.id
        hospital_id = surgery.hospitals_for(s, _user(s, "dealer1"), s.get(Warehouse, sites["CS-D-SH-001"]))[0].id
    response = dealer.post("/dealer/surgery-reports/new", {
        "warehouse_id": sites["CS-D-SH-001"], "hospital_id": hospital_id, "surgery_on": shanghai_today().isoformat(),
        "department": "骨科", "lot_id-0": lot_id, "quantity-0": "1"}, token_from="/dealer/surgery-reports/new")
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    url = response.headers["Location"]
    assert dealer.get(url).status_code == 200
    assert signed_in("acme", "dealer2").get(url).status_code == 404
    assert signed_in("globex", "dealer1").get(url).status_code == 404
    other = signed_in("acme", "dealer2").post("/dealer/surgery-reports/new", {
        "warehouse_id": sites["CS-D-SH-001"], "surgery_on": shanghai_today().isoformat(), "department": "x",
        "lot_id-0": lot_id}, token_from="/dealer/surgery-reports/new")
    assert other.status_code == 400


def test_count_pages_edit_lines_inline_and_close(signed_in, as_tenant, sites):
    location = sites["CS-H-SH-001"]
    with as_tenant("acme") as s:
        for stale in s.scalars(select(ConsignmentCount).where(ConsignmentCount.warehouse_id == location,
                                                              ConsignmentCount.status == "open")):
            stale.status = "closed"
    channel = signed_in("acme", "channel")
    loc_page = f"/manufacturer/consignment/{location}"
    assert "CS-H-SH-001" in channel.get(loc_page).get_data(as_text=True)
    response = channel.post(loc_page + "/count", {}, token_from=loc_page)
    assert response.status_code == 303
    count_url = response.headers["Location"]
    cid = int(count_url.rstrip("/").split("/")[-1])
    with as_tenant("acme") as s:
        lines = [(line.id, line.expected_quantity) for line in s.get(ConsignmentCount, cid).lines]
    first = f"{count_url}/lines/{lines[0][0]}"
    fragment = channel.get(first, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and 'name="counted_quantity"' in fragment
    saved = channel.post(first, {"counted_quantity": "-1"}, token_from=count_url, headers={"HX-Request": "true"})
    assert saved.status_code == 400
    for line_id, expected in lines:
        saved = channel.post(f"{count_url}/lines/{line_id}", {"counted_quantity": expected}, token_from=count_url,
                             headers={"HX-Request": "true"})
        assert saved.status_code == 200 and f'id="count-line-{line_id}"' in saved.get_data(as_text=True)
    assert channel.post(count_url + "/close", {}, token_from=count_url).status_code == 303
    assert _status(channel.get(count_url).get_data(as_text=True), "count-status") in ("Closed", "已关闭", "已结束")
    assert signed_in("acme", "dealer1").get(count_url).status_code == 403
    assert signed_in("acme", "finance").post(count_url + "/close", {}, token_from=count_url).status_code == 403
    assert signed_in("globex", "admin").get(count_url).status_code == 404
    east_outside = signed_in("acme", "sales.south")
    assert east_outside.get(count_url).status_code == 404  # a 华东 location is outside 华南


# --- double decisions and counts that meet later stock changes ------------------------------------

def _after_another_commit(as_tenant, load, first, second):
    """``load`` in one session (thread A); ``first`` runs in another session and commits;
    then ``second`` runs in A on its now stale copy. {"refused": err} or {"value": ...}."""
    import threading

    loaded, go, outcome = threading.Event(), threading.Event(), {}

    def stale():
        try:
            with as_tenant("acme") as s:
                obj = load(s)
                loaded.set()
                go.wait(30)
                try:
                    outcome["value"] = second(s, obj)
                except InvalidInput as err:
                    outcome["refused"] = err
        except Exception as err:  # pragma: no cover - reported below
            outcome["error"] = err

    thread = threading.Thread(target=stale)
    thread.start()
    assert loaded.wait(30)
    try:
        with as_tenant("acme") as s:
            first(s, load(s))
    finally:
        go.set()
        thread.join(60)
    assert "error" not in outcome, outcome
    return outcome


def _both_at_once(as_tenant, load, *acts):
    """Each act in its own thread and session on its own copy, released together."""
    import threading

    barrier, outcomes = threading.Barrier(len(acts)), {}

    def run(n, act):
        try:
            with as_tenant("acme") as s:
                obj = load(s)
                barrier.wait(timeout=10)
                try:
                    outcomes[n] = ("done", act(s, obj))
                except InvalidInput as err:
                    outcomes[n] = ("refused", err)
        except Exception as err:  # pragma: no cover - reported below
            outcomes[n] = ("error", err)

    threads = [threading.Thread(target=run, args=(n, act)) for n, act in enumerate(acts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not [o for o in outcomes.values() if o[0] == "error"], outcomes
    return [outcomes[n][0] for n in range(len(acts))]


def _reported(as_tenant, location, quantity=1):
    with as_tenant("acme") as s:
        stock = _lot_at(s, location, quantity)
        report = _report(s, _user(s, "hospital1"), location, stock.lot.id, quantity=quantity)
        return report.id, stock.lot.id


def _load_report(rid):
    def load(s):
        report = s.get(SurgeryReport, rid)
        list(report.lines)
        return report
    return load


def _confirm(s, report):
    return surgery.confirm_surgery_report(s, report, _user(s, "channel"))


def _reject(s, report):
    return surgery.reject_surgery_report(s, report, _user(s, "channel"), "批号不符")


def _sales_of(s, rid) -> int:
    number = s.get(SurgeryReport, rid).number
    from app.orders.models import Order
    return s.scalar(select(func.count()).select_from(Order).where(Order.kind == "consignment_use",
                                                                  Order.note.contains(number)))


def _consumed(s, rid) -> int:
    return s.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
        StockMovement.ref_type == "surgery_reports", StockMovement.ref_id == rid))


def test_a_second_confirmation_after_the_first_committed_is_refused(as_tenant, sites):
    location = sites["CS-H-SH-001"]
    rid, lot_id = _reported(as_tenant, location)
    with as_tenant("acme") as s:
        before = _available(s, location, lot_id)
    assert "refused" in _after_another_commit(as_tenant, _load_report(rid), _confirm, _confirm)
    with as_tenant("acme") as s:
        assert s.get(SurgeryReport, rid).status == "confirmed"
        assert _consumed(s, rid) == 1 and _sales_of(s, rid) == 1
        assert _available(s, location, lot_id) == before - 1
        assert _reconciles(s, location)


def test_a_rejection_read_before_a_confirmation_is_refused_after_it(as_tenant, sites):
    location = sites["CS-H-SH-001"]
    rid, _lot = _reported(as_tenant, location)
    assert "refused" in _after_another_commit(as_tenant, _load_report(rid), _confirm, _reject)
    with as_tenant("acme") as s:
        assert s.get(SurgeryReport, rid).status == "confirmed" and _sales_of(s, rid) == 1
    rid, _lot = _reported(as_tenant, location)
    assert "refused" in _after_another_commit(as_tenant, _load_report(rid), _reject, _confirm)
    with as_tenant("acme") as s:
        assert s.get(SurgeryReport, rid).status == "rejected"
        assert _consumed(s, rid) == 0 and _sales_of(s, rid) == 0


def test_two_confirmations_at_once_consume_and_sell_once(as_tenant, sites):
    location = sites["CS-H-SH-001"]
    rid, lot_id = _reported(as_tenant, location)
    with as_tenant("acme") as s:
        before = _available(s, location, lot_id)
    assert sorted(_both_at_once(as_tenant, _load_report(rid), _confirm, _confirm)) == ["done", "refused"]
    with as_tenant("acme") as s:
        assert _consumed(s, rid) == 1 and _sales_of(s, rid) == 1
        assert _available(s, location, lot_id) == before - 1
        assert _reconciles(s, location)


def test_confirm_racing_reject_only_one_wins(as_tenant, sites):
    location = sites["CS-H-SH-001"]
    rid, _lot = _reported(as_tenant, location)
    assert sorted(_both_at_once(as_tenant, _load_report(rid), _confirm, _reject)) == ["done", "refused"]
    with as_tenant("acme") as s:
        status = s.get(SurgeryReport, rid).status
        assert (status, _consumed(s, rid), _sales_of(s, rid)) in (("confirmed", 1, 1), ("rejected", 0, 0))


def _fresh_count(s, location):
    for stale in s.scalars(select(ConsignmentCount).where(ConsignmentCount.warehouse_id == location,
                                                          ConsignmentCount.status == "open")):
        stale.status = "closed"
    s.flush()
    return cons.open_count(s, s.get(Warehouse, location), _user(s, "channel"))


def _adjustments(s, cid) -> list:
    return list(s.scalars(select(StockMovement).where(StockMovement.ref_type == "consignment_counts",
                                                      StockMovement.ref_id == cid)))


def test_closing_a_count_twice_posts_its_variances_once(as_tenant, sites):
    location = sites["CS-D-SH-001"]
    with as_tenant("acme") as s:
        count = _fresh_count(s, location)
        first, *rest = count.lines
        lot_id, before = first.lot_id, _available(s, location, first.lot_id)
        cons.set_counted(s, count, first, {"counted_quantity": first.expected_quantity + 3, "variance_reason": "找到"})
        for line in rest:
            cons.set_counted(s, count, line, {"counted_quantity": line.expected_quantity})
        cid = count.id

    def load(s):
        count = s.get(ConsignmentCount, cid)
        list(count.lines)
        return count

    def close(s, count):
        return cons.close_count(s, count, _user(s, "channel"))

    assert "refused" in _after_another_commit(as_tenant, load, close, close)
    with as_tenant("acme") as s:
        assert [m.quantity for m in _adjustments(s, cid)] == [3]
        assert _available(s, location, lot_id) == before + 3
        # and at once: a second count, both closes released together
        count = _fresh_count(s, location)
        first, *rest = count.lines
        cons.set_counted(s, count, first, {"counted_quantity": first.expected_quantity + 1, "variance_reason": "找到"})
        for line in rest:
            cons.set_counted(s, count, line, {"counted_quantity": line.expected_quantity})
        cid = count.id
    assert sorted(_both_at_once(as_tenant, load, close, close)) == ["done", "refused"]
    with as_tenant("acme") as s:
        assert [m.quantity for m in _adjustments(s, cid)] == [1]
        assert _available(s, location, lot_id) == before + 4
        assert _reconciles(s, location)


def test_a_count_closes_against_the_stock_on_the_books_at_closing(as_tenant, sites):
    """Opened with the lot on the books, 2 used in a surgery (confirmed) while the count
    is open, and the shelf counted after it: nothing is missing, nothing is posted."""
    location = sites["CS-H-SH-001"]
    with as_tenant("acme") as s:
        count = _fresh_count(s, location)
        line = next(ln for ln in count.lines if ln.expected_quantity >= 2)
        cid, lot_id, expected = count.id, line.lot_id, line.expected_quantity
        report = _report(s, _user(s, "hospital1"), location, lot_id, quantity=2)
        surgery.confirm_surgery_report(s, report, _user(s, "channel"))
        assert _available(s, location, lot_id) == expected - 2
    with as_tenant("acme") as s:
        count = s.get(ConsignmentCount, cid)
        for ln in count.lines:
            counted = expected - 2 if ln.lot_id == lot_id else ln.expected_quantity
            cons.set_counted(s, count, ln, {"counted_quantity": counted})
        movements = cons.close_count(s, count, _user(s, "channel"))  # no reason needed: no difference now
        assert movements == [] and not _adjustments(s, cid)
        assert count.status == "closed"
        assert _available(s, location, lot_id) == expected - 2
        assert next(ln for ln in count.lines if ln.lot_id == lot_id).expected_quantity == expected - 2
        assert not [ln for ln in count.lines if cons.variance(ln)]
        assert _reconciles(s, location)
