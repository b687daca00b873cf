"""Recalls (召回): the trace finds exactly the holders of an affected lot through transfers,
consignment, partial and direct deliveries, returns and dealers' sell-out; a campaign goes
from creation to 100 % accounted; quarantine blocks allocation (also of units received
later); and no hospital or dealer sees another's notices."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.core.errors import InvalidInput
from app.core.numbering import assign_number
from app.inventory.models import Lot, SellOutLine, StockBalance, Warehouse
from app.inventory.operations import lot_for, move
from app.orders.models import Allocation, Order, OrderLine, ReturnLine, ReturnRequest, Shipment, ShipmentLine
from app.service import recall_queries as q
from app.service import recall_rules as rules
from app.service import recalls as ops
from app.service.models import RecallHolding, RecallNotice
from tests.sellout_world import dealer, hospital, sellout_world, sku  # noqa: F401

TODAY = date.today()


# --- a small world ---------------------------------------------------------------------------------

def _central(session) -> Warehouse:
    return session.scalar(select(Warehouse).where(Warehouse.code == "WH-SZ"))


def _warehouse(session, code, kind="regional", **kw) -> Warehouse:
    w = Warehouse(code=code, name=code, kind=kind, **kw)
    session.add(w)
    session.flush()
    return w


def _stock(session, warehouse, lot, quantity, state="available"):
    move(session, "receipt", warehouse.id, lot, quantity, None, "inspection")
    if state == "available":
        move(session, "qc_release", warehouse.id, lot, quantity, "inspection", "available")


def _transfer(session, source, target, lot, quantity):
    move(session, "transfer_out", source.id, lot, quantity, "available", None)
    move(session, "transfer_in", target.id, lot, quantity, None, "in_transit")
    move(session, "transfer_receipt", target.id, lot, quantity, "in_transit", "inspection")
    move(session, "qc_release", target.id, lot, quantity, "inspection", "available")


def _ship(session, dealer_code, lot, quantity, received=None, ship_to="dealer", hospital_code=None, status="delivered"):
    """A shipment from the central warehouse (its ledger row too) of the dealer's order."""
    d = dealer(session, dealer_code)
    h = hospital(session, hospital_code) if hospital_code else None
    order = Order(dealer_id=d.id, hospital_id=h.id if h else None, status="delivered")
    assign_number(session, order, "SO")
    order.lines.append(OrderLine(line_no=1, sku_id=lot.sku_id, quantity=quantity, unit_price=Decimal("100.00"),
                                 amount=Decimal("100.00") * quantity, tax_rate=Decimal("0.13"),
                                 shipped_quantity=quantity))
    session.add(order)
    session.flush()
    central = _central(session)
    move(session, "shipment", central.id, lot, quantity, "available", None)
    shipment = Shipment(order_id=order.id, dealer_id=d.id, hospital_id=h.id if h else None, ship_to=ship_to,
                        warehouse_id=central.id, status=status, shipped_at=func.now(),
                        delivered_at=func.now() if status == "delivered" else None)
    assign_number(session, shipment, "SH")
    shipment.lines.append(ShipmentLine(order_line_id=order.lines[0].id, sku_id=lot.sku_id, lot_id=lot.id,
                                       quantity=quantity, received_quantity=received))
    session.add(shipment)
    session.flush()
    return shipment


def _sold(session, dealer_code, lot, quantity, hospital_code=None, buyer_code=None):
    session.add(SellOutLine(dealer_id=dealer(session, dealer_code).id, sold_on=TODAY, sku_id=lot.sku_id, lot_id=lot.id,
                            quantity=quantity, hospital_id=hospital(session, hospital_code).id if hospital_code else None,
                            buyer_dealer_id=dealer(session, buyer_code).id if buyer_code else None))
    session.flush()


def _returned(session, dealer_code, lot, quantity):
    ret = ReturnRequest(dealer_id=dealer(session, dealer_code).id, reason="overstock", status="received",
                        received_at=func.now())
    assign_number(session, ret, "RT")
    ret.lines.append(ReturnLine(sku_id=lot.sku_id, lot_id=lot.id, quantity=quantity, unit_price=Decimal("100.00")))
    session.add(ret)
    session.flush()
    move(session, "return", _central(session).id, lot, quantity, None, "inspection")


def build_scenario(session) -> dict:
    """100 units of one lot go everywhere a lot can go (see the expected holders below);
    a second lot of the same SKU, outside the recalled range, goes to the same dealer."""
    tag = "R" + uuid.uuid4().hex[:6].upper()
    stent = sku(session, "CV-DES-2518")
    lot = lot_for(session, stent, f"{tag}-03", None, None, date(2030, 6, 30))
    other = lot_for(session, stent, f"{tag}-09", None, None, date(2030, 6, 30))
    central = _central(session)
    guangzhou = _warehouse(session, f"WH-GZ-{tag}")
    cath_lab = _warehouse(session, f"CS-{tag}", kind="consignment", hospital_id=hospital(session, "H-BJ-002").id)
    _stock(session, central, lot, 100)
    _stock(session, central, other, 20)
    _transfer(session, central, guangzhou, lot, 10)             # a regional warehouse: 10
    _transfer(session, central, cath_lab, lot, 5)               # consignment at 安贞医院 …
    move(session, "consumption", cath_lab.id, lot, 2, "available", None)   # … 2 used in surgery: 3 left
    _ship(session, "D-SH-001", lot, 30)                         # dealer1: 30
    _ship(session, "D-SH-001", lot, 10, received=8)             # partial delivery: 8 arrived, 2 lost
    _ship(session, "D-SH-001", other, 20)                       # not recalled
    _sold(session, "D-SH-001", lot, 12, hospital_code="H-SH-001")   # 中山医院: 12
    _sold(session, "D-SH-001", lot, 5, buyer_code="D-SH-002")       # to a sub-dealer: 5
    _sold(session, "D-SH-002", lot, 2, hospital_code="H-SH-002")    # 瑞金医院: 2
    _ship(session, "D-SH-002", lot, 6, ship_to="hospital", hospital_code="H-SH-003")  # straight to 第六人民医院 …
    _sold(session, "D-SH-002", lot, 6, hospital_code="H-SH-003")    # … and reported: the same 6 units
    _ship(session, "D-SH-002", lot, 4, status="shipped")            # on its way to dealer 2: 4
    _returned(session, "D-SH-001", lot, 3)                          # back in the central warehouse (inspection)
    return {"tag": tag, "lot": lot, "other": other, "central": central, "guangzhou": guangzhou, "cath_lab": cath_lab,
            "sku": stent}


def expected_holders(session, s) -> dict:
    return {
        ("warehouse", s["central"].id): 100 - 10 - 5 - 30 - 10 - 6 - 4 + 3,
        ("warehouse", s["guangzhou"].id): 10,
        ("hospital", hospital(session, "H-BJ-002").id): 3,
        ("dealer", dealer(session, "D-SH-001").id): 30 + 8 - 3 - 12 - 5,
        ("dealer", dealer(session, "D-SH-002").id): 5 - 2 + 4,
        ("hospital", hospital(session, "H-SH-001").id): 12,
        ("hospital", hospital(session, "H-SH-002").id): 2,
        ("hospital", hospital(session, "H-SH-003").id): 6,
    }


def campaign_values(s, **kw) -> dict:
    values = {"title": "支架输送系统球囊回撤不畅", "reason": "个别批次输送系统球囊回撤阻力偏大", "classification": "2",
              "actions_required": "停止使用，隔离并清点，联系经销商退回",
              "lines": [{"sku_id": str(s["sku"].id), "kind": "range", "lot_no": f"{s['tag']}-01",
                         "lot_to": f"{s['tag']}-05"}]}
    values.update(kw)
    return values


# --- the trace --------------------------------------------------------------------------------------

def test_trace_finds_exactly_the_holders_of_the_affected_lot(world, as_tenant):
    with as_tenant(world) as session:
        s = build_scenario(session)
        campaign = ops.create_campaign(session, None, campaign_values(s))
        traced = q.live_trace(session, campaign.id)
        found = {(h.holder_kind, h.holder_id): h.quantity for h in traced}
        assert found == expected_holders(session, s)
        assert {h.lot_id for h in traced} == {s["lot"].id}
        assert sum(found.values()) == 100 - 2 - 2  # used in surgery and lost in the partial delivery
        dealer1 = next(h for h in traced if h.holder_kind == "dealer" and h.holder_id == dealer(session, "D-SH-001").id)
        assert [r[:2] for r in dealer1.refs] == ["SH", "SH", "RT"]  # the two shipments it came with, its return
        session.rollback()


def test_trace_rules_direct_delivery_and_its_sell_out_are_the_same_units():
    flows = [rules.Flow("direct", 1, 6, dealer_id=7, hospital_id=9),
             rules.Flow("sold", 1, 8, dealer_id=7, hospital_id=9),
             rules.Flow("to_dealer", 1, 10, dealer_id=7)]
    held = {(h.holder_kind, h.holder_id): h.quantity for h in rules.trace_holdings(flows)}
    assert held == {("hospital", 9): 8, ("dealer", 7): 8}


def test_trace_rules_a_dealer_that_reports_more_than_it_had_holds_nothing_and_says_so():
    flows = [rules.Flow("to_dealer", 1, 3, dealer_id=7), rules.Flow("sold", 1, 5, dealer_id=7, hospital_id=9)]
    out = rules.trace_holdings(flows)
    assert [(h.holder_kind, h.quantity) for h in out] == [("hospital", 5)]


def test_effectiveness_rules():
    total, regions = rules.effectiveness([(1, 10, 10), (2, 5, 1), (2, 5, 9), (None, 0, 0)])
    assert (total.expected, total.accounted, total.percent) == (20, 16, Decimal("80.0"))
    assert [(r.region_id, r.percent) for r in regions] == [(1, Decimal("100.0")), (2, Decimal("60.0"))]
    assert rules.accounted(5, "acknowledged", 5, 0, 0) == 0
    assert rules.accounted(5, "reported", 3, 2, 4) == 5
    assert rules.share(1, 3) == Decimal("33.3")


# --- creation to 100 % -------------------------------------------------------------------------------------

def test_campaign_from_creation_to_100_percent_accounted(world, as_tenant):
    from app.identity.models import OutboxMessage, User

    with as_tenant(world) as session:
        s = build_scenario(session)
        outbox_before = session.scalar(select(func.count()).select_from(OutboxMessage))
        campaign = ops.create_campaign(session, None, campaign_values(s))
        assert campaign.status == "draft" and campaign.number.startswith("RC-")
        with pytest.raises(InvalidInput):
            ops.close_campaign(session, campaign, None)
        ops.activate_campaign(session, campaign, None)
        assert campaign.status == "active"
        frozen = {(h.holder_kind, q.holder_id(h)): h.quantity for h in q.holdings(session, campaign.id)}
        assert frozen == expected_holders(session, s)
        notices = q.notices(session, campaign.id)
        assert len(notices) == 6  # two dealers, four hospitals
        assert all(n.status == "sent" for n in notices)
        # the outbox: an e-mail to each active user of each party (and SMS where a phone is known)
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) > outbox_before
        hospital1 = session.scalar(select(User).where(User.email.like("hospital1@%")))
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.to_address == hospital1.email,
                                     OutboxMessage.kind == "recall_notice")) >= 1
        # quarantined in our own warehouses (not the consignment location): available → 隔离
        balances = dict(session.execute(
            select(StockBalance.state, func.sum(StockBalance.quantity))
            .where(StockBalance.lot_id == s["lot"].id, StockBalance.quantity > 0,
                   StockBalance.warehouse_id.in_([s["central"].id, s["guangzhou"].id]))
            .group_by(StockBalance.state)).all())
        assert balances == {"quarantined": 35 + 10, "inspection": 3}
        # our warehouses count as accounted for at once: 48 of 96
        total, _regions = q.effectiveness(session, campaign.id)
        assert (total.expected, total.accounted) == (96, 48)
        with pytest.raises(InvalidInput):
            ops.close_campaign(session, campaign, None)
        for n in notices:
            ops.acknowledge(session, n, None)
            assert n.status == "acknowledged"
        # a report short of the trace needs a note saying where the rest went
        with pytest.raises(InvalidInput) as caught:
            with session.begin_nested():
                ops.report(session, notices[0], None, {"on_hand": "1"})
        assert caught.value.field == "note"
        for n in notices:
            ops.report(session, n, None, {"on_hand": str(n.expected - 1), "returned": "1", "used": "0"})
        total, regions = q.effectiveness(session, campaign.id)
        assert (total.accounted, total.percent) == (96, Decimal("100.0"))
        assert all(r.percent == Decimal("100.0") for r in regions)
        ops.close_campaign(session, campaign, None)
        assert campaign.status == "closed" and campaign.closed_at is not None
        session.rollback()


def test_a_campaign_needs_a_product_and_a_known_class(world, as_tenant):
    with as_tenant(world) as session:
        s = build_scenario(session)
        with pytest.raises(InvalidInput) as caught:
            ops.create_campaign(session, None, campaign_values(s, lines=[]))
        assert caught.value.field == "sku_id-0"
        with pytest.raises(InvalidInput) as caught:
            ops.create_campaign(session, None, campaign_values(s, classification="4"))
        assert caught.value.field == "classification"
        with pytest.raises(InvalidInput) as caught:
            ops.create_campaign(session, None, campaign_values(s, lines=[
                {"sku_id": str(s["sku"].id), "kind": "range", "lot_no": "B", "lot_to": "A"}]))
        assert caught.value.field == "lot_to-0"
        session.rollback()


def test_tracing_again_after_late_sell_out_and_a_late_receipt(world, as_tenant):
    from app.identity.models import OutboxMessage

    with as_tenant(world) as session:
        s = build_scenario(session)
        campaign = ops.create_campaign(session, None, campaign_values(s))
        ops.activate_campaign(session, campaign, None)
        d1 = dealer(session, "D-SH-001")
        by_party = {(n.dealer or n.hospital).code: n for n in q.notices(session, campaign.id)}
        ops.report(session, by_party["H-SH-001"], None, {"on_hand": "12"})
        _sold(session, "D-SH-001", s["lot"], 4, hospital_code="H-SH-001")     # reported late
        _sold(session, "D-SH-001", s["lot"], 2, hospital_code="H-JS-001")     # a hospital nobody knew of
        _stock(session, s["central"], s["lot"], 5)                            # 5 more found at the plant
        mails = session.scalar(select(func.count()).select_from(OutboxMessage))
        assert ops.refresh_trace(session, campaign, None) == 1
        by_party = {(n.dealer or n.hospital).code: n for n in q.notices(session, campaign.id)}
        assert by_party["H-SH-001"].expected == 16 and by_party["H-SH-001"].status == "reported"
        assert by_party["D-SH-001"].expected == 18 - 6 and by_party["H-JS-001"].expected == 2
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) >= mails  # the new hospital's users
        assert session.scalar(select(StockBalance.quantity).where(
            StockBalance.lot_id == s["lot"].id, StockBalance.warehouse_id == s["central"].id,
            StockBalance.state == "quarantined")) == 35 + 5
        total, _regions = q.effectiveness(session, campaign.id)
        assert total.expected == 96 + 5 and d1.id
        session.rollback()


# --- quarantine blocks allocation -----------------------------------------------------------------------------

def _order(session, dealer_code, sku_id, quantity) -> Order:
    order = Order(dealer_id=dealer(session, dealer_code).id, status="approved")
    assign_number(session, order, "SO")
    order.lines.append(OrderLine(line_no=1, sku_id=sku_id, quantity=quantity, unit_price=Decimal("100.00"),
                                 amount=Decimal("100.00") * quantity, tax_rate=Decimal("0.13")))
    session.add(order)
    session.flush()
    return order


def test_quarantine_blocks_allocation_also_of_units_received_later(world, as_tenant):
    from app.orders.operations import allocate_order, reallocate_open_orders

    with as_tenant(world) as session:
        tag = "Q" + uuid.uuid4().hex[:6].upper()
        tavr = sku(session, "CV-DES-3533")
        central = _central(session)
        for other in session.scalars(select(StockBalance).where(StockBalance.sku_id == tavr.id,
                                                                StockBalance.state == "available")):
            move(session, "quarantine", other.warehouse_id, other.lot_id, other.quantity, "available", "quarantined")
        early = lot_for(session, tavr, f"{tag}-EARLY", None, None, TODAY + timedelta(days=400))
        late = lot_for(session, tavr, f"{tag}-LATE", None, None, TODAY + timedelta(days=900))
        _stock(session, central, early, 10)
        _stock(session, central, late, 10)
        before = _order(session, "D-SH-001", tavr.id, 4)
        allocate_order(session, before)
        assert [(a.lot_id, a.quantity) for a in session.scalars(
            select(Allocation).join(OrderLine).where(OrderLine.order_id == before.id))] == [(early.id, 4)]

        # one of those units is already packed on another order (not shipped yet)
        packed_order = _order(session, "D-SH-002", tavr.id, 1)
        allocate_order(session, packed_order)
        allocation = session.scalar(select(Allocation).join(OrderLine).where(OrderLine.order_id == packed_order.id))
        packed = Shipment(order_id=packed_order.id, dealer_id=packed_order.dealer_id, warehouse_id=central.id,
                          status="packed")
        assign_number(session, packed, "SH")
        packed.lines.append(ShipmentLine(order_line_id=allocation.order_line_id, allocation_id=allocation.id,
                                         sku_id=tavr.id, lot_id=early.id, quantity=1))
        session.add(packed)
        session.flush()

        campaign = ops.create_campaign(session, None, {
            "title": "瓣膜装载工具", "reason": "装载工具卡扣可能断裂", "classification": "1", "actions_required": "立即停用",
            "lines": [{"sku_id": str(tavr.id), "kind": "lot", "lot_no": f"{tag}-EARLY"}]})
        ops.activate_campaign(session, campaign, None)
        # taken off the open order and quarantined, all 10
        statuses = [a.status for a in session.scalars(select(Allocation).join(OrderLine)
                                                      .where(OrderLine.order_id == before.id))]
        assert statuses == ["released"]
        assert packed.status == "cancelled" and allocation.status == "released"  # it can never ship now
        with pytest.raises(InvalidInput):
            from app.orders.fulfilment import ship_shipment

            ship_shipment(session, packed, None, "顺丰速运", "SF1")
        assert session.scalar(select(StockBalance.quantity).where(
            StockBalance.lot_id == early.id, StockBalance.state == "quarantined")) == 10
        assert q.is_blocked(session, early.id) and not q.is_blocked(session, late.id)

        # more units of the recalled lot arrive and are released by QC after activation
        _stock(session, central, early, 6)
        assert session.scalar(select(StockBalance.quantity).where(
            StockBalance.lot_id == early.id, StockBalance.state == "available")) == 6
        reallocate_open_orders(session)
        after = _order(session, "D-SH-002", tavr.id, 8)
        allocate_order(session, after)
        taken = session.execute(select(Allocation.lot_id, func.sum(Allocation.quantity)).join(OrderLine)
                                .where(OrderLine.order_id.in_([before.id, after.id, packed_order.id]),
                                       Allocation.status == "allocated")
                                .group_by(Allocation.lot_id)).all()
        assert taken == [(late.id, 10)]  # the 6 fresh units of the recalled lot were never offered
        # nor are they offered as spare parts on a service ticket
        from app.service.tickets import available_parts

        assert early.id not in {c["lot_id"] for c in available_parts(session, limit=100_000)}
        line = session.scalar(select(OrderLine).where(OrderLine.order_id == after.id))
        assert line.allocated_quantity == 5  # 4 went to the earlier order, 1 to the packed one; the rest waits
        session.rollback()


# --- the pages -----------------------------------------------------------------------------------------------

def _notice_ids(world, as_tenant, campaign_id) -> dict:
    with as_tenant(world) as session:
        out = {}
        for n in q.notices(session, campaign_id):
            out[(n.dealer or n.hospital).code] = n.id
        return out


def test_recall_journey_through_the_portals_and_who_may_see_what(world, as_tenant, signed_in, run_worker):
    with as_tenant(world) as session:
        s = build_scenario(session)
        sku_id, tag = s["sku"].id, s["tag"]
    qa = signed_in(world, "qa")
    form = {"title": "输送系统回撤不畅", "reason": "球囊回撤阻力偏大", "classification": "2", "actions_required": "停止使用并隔离",
            "sku_id-0": str(sku_id), "kind-0": "range", "lot_no-0": f"{tag}-01", "lot_to-0": ""}
    refused_page = qa.post("/manufacturer/recalls/new", form)
    assert refused_page.status_code == 400
    assert 'id="f-lot_to-0-error"' in refused_page.get_data(as_text=True)
    form["lot_to-0"] = f"{tag}-05"
    created = qa.post("/manufacturer/recalls/new", form)
    assert created.status_code == 303
    campaign_id = int(created.headers["Location"].rstrip("/").split("/")[-1])
    draft = qa.get(f"/manufacturer/recalls/{campaign_id}").get_data(as_text=True)
    assert "复旦大学附属中山医院" in draft and "首都医科大学附属北京安贞医院" in draft
    assert qa.post(f"/manufacturer/recalls/{campaign_id}/activate", {},
                   token_from=f"/manufacturer/recalls/{campaign_id}").status_code == 303
    console = qa.get(f"/manufacturer/recalls/{campaign_id}").get_data(as_text=True)
    assert 'id="recall-effectiveness">50.0 %' in console

    # dealers, hospitals and other tenants: only their own
    notices = _notice_ids(world, as_tenant, campaign_id)
    h1, h2, d1 = notices["H-SH-001"], notices["H-BJ-002"], notices["D-SH-001"]
    hospital1, hospital2 = signed_in(world, "hospital1"), signed_in(world, "hospital2")
    dealer1, dealer2 = signed_in(world, "dealer1"), signed_in(world, "dealer2")
    assert f"/hospital/recalls/{h1}" in hospital1.get("/hospital/recalls").get_data(as_text=True)
    listed2 = hospital2.get("/hospital/recalls").get_data(as_text=True)
    assert f"/hospital/recalls/{h2}" in listed2 and f"/hospital/recalls/{h1}\"" not in listed2
    assert hospital2.get(f"/hospital/recalls/{h1}").status_code == 404
    assert hospital2.post(f"/hospital/recalls/{h1}/acknowledge", {}, token_from="/hospital/recalls").status_code == 404
    assert hospital2.post(f"/hospital/recalls/{h1}/report", {"on_hand": "12"}, token_from="/hospital/recalls").status_code == 404
    assert hospital1.get(f"/hospital/recalls/{d1}").status_code == 404
    assert dealer2.get(f"/dealer/recalls/{d1}").status_code == 404
    assert dealer2.post(f"/dealer/recalls/{d1}/report", {"on_hand": "18"}, token_from="/dealer/recalls").status_code == 404
    assert f"/dealer/recalls/{d1}" not in dealer2.get("/dealer/recalls").get_data(as_text=True)
    for client in (dealer1, hospital1):
        assert client.get(f"/manufacturer/recalls/{campaign_id}").status_code == 403
        assert client.get("/manufacturer/recalls").status_code == 403
    assert signed_in(world, "finance").get("/manufacturer/recalls").status_code == 403
    channel = signed_in(world, "channel")  # follows recalls, does not run them
    assert channel.get(f"/manufacturer/recalls/{campaign_id}").status_code == 200
    for action in ("activate", "refresh", "close"):
        assert channel.post(f"/manufacturer/recalls/{campaign_id}/{action}", {},
                            token_from="/manufacturer/recalls").status_code == 403
        assert dealer1.post(f"/manufacturer/recalls/{campaign_id}/{action}", {},
                            token_from="/dealer/recalls").status_code == 403
    other = signed_in("acme", "admin").get(f"/manufacturer/recalls/{campaign_id}")
    assert other.status_code == 404 or tag not in other.get_data(as_text=True)
    assert signed_in("acme", "hospital1").get(f"/hospital/recalls/{h1}").status_code == 404

    # the hospital acknowledges and reports; a short count needs a note
    page = hospital1.get(f"/hospital/recalls/{h1}").get_data(as_text=True)
    assert f"{tag}-03" in page
    assert hospital1.post(f"/hospital/recalls/{h1}/acknowledge", {}, token_from=f"/hospital/recalls/{h1}").status_code == 303
    short = hospital1.post(f"/hospital/recalls/{h1}/report", {"on_hand": "5", "returned": "0", "used": "0"},
                           token_from=f"/hospital/recalls/{h1}")
    assert short.status_code == 400 and 'id="f-note-error"' in short.get_data(as_text=True)
    assert hospital1.post(f"/hospital/recalls/{h1}/report", {"on_hand": "5", "returned": "0", "used": "7"},
                          token_from=f"/hospital/recalls/{h1}").status_code == 303
    assert dealer1.post(f"/dealer/recalls/{d1}/report", {"on_hand": "0", "returned": "18", "used": "0"},
                        token_from=f"/dealer/recalls/{d1}").status_code == 303
    with as_tenant(world) as session:
        n = session.get(RecallNotice, h1)
        assert (n.status, n.on_hand, n.used) == ("reported", 5, 7)

    # not yet 100 %: closing is refused with the reason
    refused_close = qa.post(f"/manufacturer/recalls/{campaign_id}/close", {}, token_from=f"/manufacturer/recalls/{campaign_id}")
    assert refused_close.status_code == 400

    # the report PDF, in the background
    asked = qa.post(f"/manufacturer/recalls/{campaign_id}/report", {"request_id": uuid.uuid4().hex[:16]},
                    token_from=f"/manufacturer/recalls/{campaign_id}")
    assert asked.status_code == 303 and "job=" in asked.headers["Location"]
    run_worker()
    done = qa.get(asked.headers["Location"]).get_data(as_text=True)
    assert ".pdf" in done
    with as_tenant(world) as session:
        from app.compliance.models import Document
        from app.service.models import RecallCampaign

        campaign = session.get(RecallCampaign, campaign_id)
        doc = session.get(Document, campaign.report_document_id)
        assert doc is not None and doc.filename.endswith(".pdf")


def test_every_recall_route_is_closed_to_dealers_hospitals_and_other_parties(world, as_tenant, signed_in):
    with as_tenant(world) as session:
        s = build_scenario(session)
        campaign = ops.create_campaign(session, None, campaign_values(s))
        ops.activate_campaign(session, campaign, None)
        campaign_id = campaign.id
        notices = {(n.dealer or n.hospital).code: n.id for n in q.notices(session, campaign_id)}
    base = f"/manufacturer/recalls/{campaign_id}"
    for local in ("dealer1", "hospital1"):
        client = signed_in(world, local)
        token_from = "/dealer/recalls" if local == "dealer1" else "/hospital/recalls"
        for path in ("/manufacturer/recalls", "/manufacturer/recalls/new", base):
            assert client.get(path).status_code == 403, (local, path)
        for action in ("activate", "refresh", "close", "report"):
            assert client.post(f"{base}/{action}", {}, token_from=token_from).status_code == 403, (local, action)
        assert client.post("/manufacturer/recalls/new", {"title": "x"}, token_from=token_from).status_code == 403
    # another dealer, another hospital: none of the three notice routes answers
    others = {"dealer": (signed_in(world, "dealer2"), notices["D-SH-001"], "/dealer/recalls"),
              "hospital": (signed_in(world, "hospital2"), notices["H-SH-001"], "/hospital/recalls")}
    for portal, (client, notice_id, listing) in others.items():
        assert client.get(f"/{portal}/recalls/{notice_id}").status_code == 404
        for action in ("acknowledge", "report"):
            assert client.post(f"/{portal}/recalls/{notice_id}/{action}", {"on_hand": "1", "note": "x"},
                               token_from=listing).status_code == 404
    # another tenant's users reach their own tenant's rows only
    for local, path in (("hospital1", f"/hospital/recalls/{notices['H-SH-001']}"),
                        ("dealer1", f"/dealer/recalls/{notices['D-SH-001']}")):
        answer = signed_in("acme", local).get(path)
        assert answer.status_code == 404 or s["tag"] not in answer.get_data(as_text=True)
    with as_tenant(world) as session:
        untouched = [session.get(RecallNotice, i) for i in (notices["D-SH-001"], notices["H-SH-001"])]
        assert all(n.status == "sent" and n.acknowledged_at is None for n in untouched)


def test_an_order_allocating_while_the_recall_activates_loses_the_units(app, world, as_tenant):
    """Real parallel transactions: an order has just allocated units of the lot and holds
    its transaction open when the recall is activated. Activation waits for it, then takes
    the units back off the order and quarantines them."""
    import threading

    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.orders.operations import allocate_order
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with as_tenant(world) as session:
        tag = "P" + uuid.uuid4().hex[:6].upper()
        stent = sku(session, "CV-DES-3018")
        central = _central(session)
        for other in session.scalars(select(StockBalance).where(StockBalance.sku_id == stent.id,
                                                                StockBalance.state == "available")):
            move(session, "quarantine", other.warehouse_id, other.lot_id, other.quantity, "available", "quarantined")
        lot = lot_for(session, stent, f"{tag}-1", None, None, TODAY + timedelta(days=600))
        _stock(session, central, lot, 10)
        order_id = _order(session, "D-SH-001", stent.id, 6).id
        campaign_id = ops.create_campaign(session, None, {
            "title": "并发", "reason": "并发测试", "classification": "2", "actions_required": "隔离",
            "lines": [{"sku_id": str(stent.id), "kind": "lot", "lot_no": f"{tag}-1"}]}).id
        lot_id = lot.id

    allocated, errors = threading.Event(), []

    def in_tenant(name, work):
        try:
            with app.app_context():
                tenant = by_slug(db.session, world)
                db.session.rollback()
                with tenant_session(db.session, tenant) as session:
                    set_context(session, Actor.system(name))
                    work(session)
                db.session.remove()
        except Exception as err:  # surfaced below
            errors.append(err)
            allocated.set()

    def order(session):
        from app.orders.models import Order as O

        allocate_order(session, session.get(O, order_id))
        allocated.set()
        threading.Event().wait(0.5)  # still open when the recall activates

    def recall(session):
        allocated.wait(timeout=10)
        ops.activate_campaign(session, q.campaign(session, campaign_id), None)

    threads = [threading.Thread(target=in_tenant, args=("order", order)),
               threading.Thread(target=in_tenant, args=("recall", recall))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    with as_tenant(world) as session:
        live = session.scalar(select(func.count()).select_from(Allocation).where(
            Allocation.lot_id == lot_id, Allocation.status == "allocated"))
        assert live == 0
        assert session.scalar(select(StockBalance.quantity).where(
            StockBalance.lot_id == lot_id, StockBalance.state == "quarantined")) == 10
        assert session.scalar(select(OrderLine.allocated_quantity).where(OrderLine.order_id == order_id)) == 0
