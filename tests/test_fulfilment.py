"""Shipments (发货) and delivery confirmation (签收): the ledger moves with them, partial
shipments split allocations, nothing ships twice, and a discrepancy opens a return."""
import pytest
from sqlalchemy import func, select

from app.compliance.models import Document, Job
from app.core.errors import InvalidInput
from app.identity.models import User
from app.inventory.models import StockBalance, StockMovement
from app.orders import fulfilment as ful
from app.orders.models import Allocation, Order, OrderEvent, OrderLine, ReturnRequest, Shipment, ShipmentLine
from tests.order_world import allocated_order, ids, ledger_mismatches


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return ids(s)


def _user(s, acme, local):
    return s.get(User, acme[local])


def _pack_all(s, order, acme, **kw):
    allocations = ful.open_allocations(s, order)
    warehouse_id = allocations[0].warehouse_id
    quantities = {a.id: a.quantity for a in allocations if a.warehouse_id == warehouse_id}
    return ful.create_shipment(s, order, warehouse_id, quantities, _user(s, acme, "channel"), carrier="顺丰速运",
                               tracking_no="SF1234567890", **kw)


def test_shipping_takes_the_units_out_of_the_warehouse_and_the_ledger_reconciles(as_tenant, acme):
    with as_tenant("acme") as s:
        order = allocated_order(s)
        allocated_before = {(a.warehouse_id, a.lot_id): a.quantity for a in ful.open_allocations(s, order)}
        balances_before = {k: s.scalar(select(StockBalance.quantity).where(
            StockBalance.warehouse_id == k[0], StockBalance.lot_id == k[1], StockBalance.state == "allocated"))
            for k in allocated_before}
        shipment = _pack_all(s, order, acme)
        assert shipment.status == "packed" and shipment.number.startswith("SH-")
        ful.ship_shipment(s, shipment, _user(s, acme, "channel"))
        assert shipment.status == "shipped" and shipment.shipped_at is not None
        moved = s.execute(select(StockMovement.lot_id, StockMovement.quantity, StockMovement.from_state,
                                 StockMovement.to_state).where(StockMovement.ref_type == "shipments",
                                                               StockMovement.ref_id == shipment.id)).all()
        assert {(lot, q) for lot, q, _f, _t in moved} == {(line.lot_id, line.quantity) for line in shipment.lines}
        assert all(f == "allocated" and t is None for _l, _q, f, t in moved)
        for line in shipment.lines:
            key = (shipment.warehouse_id, line.lot_id)
            after = s.scalar(select(StockBalance.quantity).where(
                StockBalance.warehouse_id == key[0], StockBalance.lot_id == key[1], StockBalance.state == "allocated"))
            assert after == balances_before[key] - line.quantity
        for line in s.scalars(select(OrderLine).where(OrderLine.order_id == order.id)):
            assert line.allocated_quantity == 0 and line.shipped_quantity == line.quantity
        assert order.status == "shipped"
        assert {a.status for a in s.scalars(select(Allocation).join(OrderLine).where(OrderLine.order_id == order.id))} == {"shipped"}
        event = s.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "shipped"))
        assert event.details["shipment"] == shipment.number and event.details["tracking_no"] == "SF1234567890"
        assert ledger_mismatches(s) == []


def test_a_partial_shipment_splits_the_allocation_and_leaves_the_rest_allocated(as_tenant, acme):
    with as_tenant("acme") as s:
        order = allocated_order(s, lines=None)
        first = ful.open_allocations(s, order)[0]
        total = first.quantity
        shipment = ful.create_shipment(s, order, first.warehouse_id, {first.id: 1}, _user(s, acme, "channel"),
                                       carrier="京东物流", tracking_no="JD0001")
        ful.ship_shipment(s, shipment)
        assert [line.quantity for line in shipment.lines] == [1]
        rest = [a for a in ful.open_allocations(s, order) if a.order_line_id == first.order_line_id]
        assert sum(a.quantity for a in rest) == total - 1
        line = s.get(OrderLine, first.order_line_id)
        assert (line.allocated_quantity, line.shipped_quantity) == (line.quantity - 1, 1)
        assert order.status == "partially_shipped"
        assert ledger_mismatches(s) == []


def test_cannot_ship_more_than_allocated_or_the_same_units_twice(as_tenant, acme):
    with as_tenant("acme") as s:
        order = allocated_order(s)
        allocation = ful.open_allocations(s, order)[0]
        with pytest.raises(InvalidInput) as err:
            ful.create_shipment(s, order, allocation.warehouse_id, {allocation.id: allocation.quantity + 1})
        assert err.value.field == f"qty_{allocation.id}"
        ful.create_shipment(s, order, allocation.warehouse_id, {allocation.id: allocation.quantity})
        with pytest.raises(InvalidInput):  # already packed in an open shipment
            ful.create_shipment(s, order, allocation.warehouse_id, {allocation.id: 1})
        with pytest.raises(InvalidInput) as err:
            ful.create_shipment(s, order, allocation.warehouse_id, {})
        assert err.value.field == "form"


def test_a_shipment_needs_carrier_and_tracking_and_ships_once(as_tenant, acme):
    with as_tenant("acme") as s:
        order = allocated_order(s)
        allocation = ful.open_allocations(s, order)[0]
        shipment = ful.create_shipment(s, order, allocation.warehouse_id, {allocation.id: allocation.quantity})
        with pytest.raises(InvalidInput) as err:
            ful.ship_shipment(s, shipment)
        assert err.value.field == "carrier"
        ful.ship_shipment(s, shipment, carrier="EMS", tracking_no="E1")
        with pytest.raises(InvalidInput):
            ful.ship_shipment(s, shipment)


def test_cold_chain_follows_the_storage_conditions():
    assert ful.needs_cold_chain(["常温", "2～8℃冷藏，避免冻融"])
    assert ful.needs_cold_chain(["Store at 2-8 °C"])
    assert not ful.needs_cold_chain(["常温，防潮防震", None])


def test_packing_list_pdf_is_stored_and_linked_to_the_shipment(as_tenant, acme, run_worker):
    with as_tenant("acme") as s:
        order = allocated_order(s)
        shipment_id = _pack_all(s, order, acme).id
    run_worker()
    with as_tenant("acme") as s:
        shipment = s.get(Shipment, shipment_id)
        job = s.scalar(select(Job).where(Job.kind == "orders.packing_list", Job.entity_id == str(shipment_id)))
        assert job.status == "done", job.error if hasattr(job, "error") else job.status
        document = s.get(Document, shipment.packing_list_document_id)
        assert document.kind == "pdf" and document.filename == f"{shipment.number}.pdf"
        assert document.dealer_id == shipment.dealer_id


def _shipped(s, acme, ship_direct=True):
    order = allocated_order(s)
    shipment = _pack_all(s, order, acme, ship_direct=ship_direct)
    ful.ship_shipment(s, shipment)
    return order, shipment


def test_hospital_signs_for_a_direct_shipment_and_the_order_is_delivered(as_tenant, acme):
    with as_tenant("acme") as s:
        order, shipment = _shipped(s, acme)
        # the order had one warehouse's units at most; ship whatever is left too
        while ful.open_allocations(s, order):
            rest = _pack_all(s, order, acme, ship_direct=True)
            ful.ship_shipment(s, rest)
        hospital_user = _user(s, acme, "hospital1")
        for sh in s.scalars(select(Shipment).where(Shipment.order_id == order.id)):
            assert ful.confirm_delivery(s, sh, hospital_user, "", {}) == []
        shipment = s.get(Shipment, shipment.id)
        assert shipment.status == "delivered" and shipment.signed_by_name == hospital_user.name
        assert all(line.received_quantity == line.quantity for line in shipment.lines)
        assert order.status == "delivered"
        assert s.scalar(select(OrderEvent.kind).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc()).limit(1)) == "delivered"


def test_only_the_addressee_may_sign(as_tenant, acme):
    with as_tenant("acme") as s:
        _order, shipment = _shipped(s, acme, ship_direct=True)
        for local in ("dealer1", "hospital2", "dealer2"):
            with pytest.raises(InvalidInput):
                ful.confirm_delivery(s, shipment, _user(s, acme, local), "x", {})
        _order, to_dealer = _shipped(s, acme, ship_direct=False)
        with pytest.raises(InvalidInput):
            ful.confirm_delivery(s, to_dealer, _user(s, acme, "hospital1"), "x", {})
        ful.confirm_delivery(s, to_dealer, _user(s, acme, "dealer1"), "陈志强", {})
        assert to_dealer.status == "delivered"


def test_a_discrepancy_at_delivery_opens_a_return_for_it(as_tenant, acme):
    with as_tenant("acme") as s:
        order, shipment = _shipped(s, acme)
        line = shipment.lines[0]
        with pytest.raises(InvalidInput) as err:  # fewer units without saying why
            ful.confirm_delivery(s, shipment, _user(s, acme, "hospital1"), "张医工", {line.id: {"received": line.quantity - 1}})
        assert err.value.field == f"received_{line.id}"
        opened = ful.confirm_delivery(s, shipment, _user(s, acme, "hospital1"), "张医工", {
            line.id: {"received": line.quantity - 1, "discrepancy": "short", "note": "外箱破损少一盒"}})
        assert len(opened) == 1
        claim = opened[0]
        assert claim.reason == "short" and claim.dealer_id == order.dealer_id and claim.shipment_id == shipment.id
        assert [(rl.shipment_line_id, rl.quantity) for rl in claim.lines] == [(line.id, 1)]
        assert claim.approval_request_id is not None
        assert claim.status in ("requested", "approved")  # approved at once when no chain applies
        assert line.received_quantity == line.quantity - 1 and line.discrepancy == "short"
        kinds = list(s.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order.id)))
        assert "discrepancy" in kinds and "return_requested" in kinds
        # a short claim has nothing to receive; it is credited straight away once approved
        if claim.status == "approved":
            with pytest.raises(InvalidInput):
                ful.receive_return(s, claim, shipment.warehouse_id)
            ful.credit_return(s, claim)
            assert claim.status == "credited" and claim.credit_amount == s.get(OrderLine, line.order_line_id).unit_price


def test_damaged_units_are_received_and_go_back_through_the_return(as_tenant, acme):
    with as_tenant("acme") as s:
        _order, shipment = _shipped(s, acme)
        line = shipment.lines[0]
        opened = ful.confirm_delivery(s, shipment, _user(s, acme, "hospital1"), None, {
            line.id: {"received": line.quantity, "discrepancy": "damaged", "affected": 1, "note": "包装破损"}})
        assert [r.reason for r in opened] == ["damaged"]
        assert line.received_quantity == line.quantity and opened[0].lines[0].quantity == 1
        assert s.scalar(select(func.count()).select_from(ReturnRequest).where(ReturnRequest.shipment_id == shipment.id)) == 1


def test_tenant_data_stays_in_its_tenant(as_tenant, acme):
    with as_tenant("acme") as s:
        _order, shipment = _shipped(s, acme)
        number = shipment.number
    with as_tenant("globex") as s:
        assert s.scalar(select(Shipment).where(Shipment.number == number)) is None


# --- pages -----------------------------------------------------------------------------------

def _allocated(as_tenant):
    with as_tenant("acme") as s:
        order = allocated_order(s)
        allocations = ful.open_allocations(s, order)
        return order.id, order.number, allocations[0].warehouse_id, [(a.id, a.quantity) for a in allocations
                                                                     if a.warehouse_id == allocations[0].warehouse_id]


def test_manufacturer_packs_and_ships_an_order_from_its_pages(as_tenant, signed_in):
    order_id, number, warehouse_id, allocations = _allocated(as_tenant)
    channel = signed_in("acme", "channel")
    assert number in channel.get("/manufacturer/shipments").get_data(as_text=True)
    page = channel.get(f"/manufacturer/orders/{order_id}/ship")
    assert page.status_code == 200 and f"qty_{allocations[0][0]}" in page.get_data(as_text=True)
    form = {"warehouse_id": str(warehouse_id), "carrier": "顺丰速运", "tracking_no": "SF998", "eta": "2026-13-01",
            **{f"qty_{a}": str(q) for a, q in allocations}, "action": "ship"}
    assert channel.post(f"/manufacturer/orders/{order_id}/ship", form).status_code == 400  # bad date
    form["eta"] = ""
    too_many = dict(form, **{f"qty_{allocations[0][0]}": str(allocations[0][1] + 5)})
    response = channel.post(f"/manufacturer/orders/{order_id}/ship", too_many)
    assert response.status_code == 400 and 'class="error"' in response.get_data(as_text=True)
    response = channel.post(f"/manufacturer/orders/{order_id}/ship", form)
    assert response.status_code == 303
    detail = channel.get(response.headers["Location"])
    text = detail.get_data(as_text=True)
    assert detail.status_code == 200 and "SF998" in text
    shipment_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with as_tenant("acme") as s:
        assert s.get(Shipment, shipment_id).status == "shipped"
    again = channel.post(f"/manufacturer/shipments/{shipment_id}/packing-list", {"request_id": "again-1"},
                         token_from=f"/manufacturer/shipments/{shipment_id}")
    assert again.status_code == 303 and "/jobs/" in again.headers["Location"]
    assert channel.get("/manufacturer/shipments?status=shipped").status_code == 200
    fragment = channel.get("/manufacturer/shipments?status=shipped", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "SF998" in fragment
    assert channel.get("/manufacturer/shipments?after=%%%").status_code == 200


def test_who_may_ship_and_who_may_only_look(as_tenant, signed_in):
    order_id, _number, warehouse_id, allocations = _allocated(as_tenant)
    finance = signed_in("acme", "finance")
    assert finance.get("/manufacturer/shipments").status_code == 200
    assert finance.get(f"/manufacturer/orders/{order_id}/ship").status_code == 403
    # D-SH-001 is in 华东: the south's regional manager does not reach it, the east's does
    assert signed_in("acme", "sales.south").get(f"/manufacturer/orders/{order_id}/ship").status_code == 404
    east = signed_in("acme", "sales.east")
    response = east.post(f"/manufacturer/orders/{order_id}/ship", {
        "warehouse_id": str(warehouse_id), "action": "pack", **{f"qty_{a}": str(q) for a, q in allocations}})
    assert response.status_code == 303
    shipment_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert signed_in("acme", "sales.south").get(f"/manufacturer/shipments/{shipment_id}").status_code == 404
    assert finance.post(f"/manufacturer/shipments/{shipment_id}/ship", {"carrier": "x", "tracking_no": "y"},
                        token_from="/manufacturer/shipments").status_code == 403
    assert east.post(f"/manufacturer/shipments/{shipment_id}/ship", {"carrier": "", "tracking_no": ""}).status_code == 400
    assert signed_in("globex", "admin").get(f"/manufacturer/orders/{order_id}/ship").status_code == 404
    assert signed_in("acme", "dealer1").get(f"/manufacturer/orders/{order_id}/ship").status_code == 403
    assert east.post(f"/manufacturer/shipments/{shipment_id}/cancel", {}).status_code == 303
    with as_tenant("acme") as s:
        assert s.get(Shipment, shipment_id).status == "cancelled"
        assert ful.open_allocations(s, s.get(Order, order_id))  # the units are allocated again


def test_dealer_signs_with_a_discrepancy_in_the_portal_and_a_return_opens(as_tenant, acme, signed_in):
    with as_tenant("acme") as s:
        _order, shipment = _shipped(s, acme, ship_direct=False)
        shipment_id, number, line = shipment.id, shipment.number, shipment.lines[0]
        line_id, quantity = line.id, line.quantity
    dealer = signed_in("acme", "dealer1")
    assert number in dealer.get("/dealer/deliveries").get_data(as_text=True)
    response = dealer.post(f"/dealer/deliveries/{shipment_id}/sign", {
        "signer_name": "陈志强", f"received_{line_id}": str(quantity), f"discrepancy_{line_id}": "wrong_lot",
        f"affected_{line_id}": "1", f"note_{line_id}": "批号与装箱单不符"}, token_from=f"/dealer/deliveries/{shipment_id}")
    assert response.status_code == 303
    with as_tenant("acme") as s:
        ret = s.scalar(select(ReturnRequest).where(ReturnRequest.shipment_id == shipment_id))
        assert ret.reason == "wrong_lot" and ret.lines[0].quantity == 1 and "批号与装箱单不符" in ret.note
        return_number = ret.number
    assert return_number in dealer.get("/dealer/returns").get_data(as_text=True)
    assert signed_in("acme", "dealer1.sales").get(f"/dealer/deliveries/{shipment_id}").status_code == 200


def test_every_fulfilment_write_is_in_the_audit_trail(as_tenant, acme):
    from app.compliance.models import AuditEvent

    with as_tenant("acme") as s:
        _order, shipment = _shipped(s, acme)
        ful.confirm_delivery(s, shipment, _user(s, acme, "hospital1"), "张医工", {})
        shipment_id = shipment.id
    with as_tenant("acme") as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "shipments",
                                                                 AuditEvent.entity_id == str(shipment_id))))
        assert "create" in actions and actions.count("update") >= 2
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_type == "stock_movements")) > 0


def test_the_same_shipment_shipped_twice_at_once_moves_stock_once(as_tenant, acme):
    import threading

    with as_tenant("acme") as s:
        order = allocated_order(s)
        allocation = ful.open_allocations(s, order)[0]
        shipment_id = ful.create_shipment(s, order, allocation.warehouse_id, {allocation.id: allocation.quantity},
                                          carrier="顺丰速运", tracking_no="SF-RACE").id
    barrier, outcomes = threading.Barrier(2), []

    def ship():
        try:
            with as_tenant("acme") as s:
                shipment = s.get(Shipment, shipment_id)
                barrier.wait(5)
                ful.ship_shipment(s, shipment)
            outcomes.append("shipped")
        except InvalidInput:
            outcomes.append("refused")

    threads = [threading.Thread(target=ship) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["refused", "shipped"]
    with as_tenant("acme") as s:
        assert s.scalar(select(func.count()).select_from(StockMovement).where(
            StockMovement.ref_type == "shipments", StockMovement.ref_id == shipment_id)) == 1
        assert ledger_mismatches(s) == []


def test_the_packing_list_is_for_the_manufacturer_the_dealer_and_the_hospital_only(as_tenant, acme, run_worker, signed_in):
    with as_tenant("acme") as s:
        order = allocated_order(s)
        shipment_id = _pack_all(s, order, acme, ship_direct=True).id
    run_worker()
    with as_tenant("acme") as s:
        document_id = s.get(Shipment, shipment_id).packing_list_document_id
    assert document_id
    for local in ("channel", "dealer1", "hospital1"):
        response = signed_in("acme", local).get(f"/documents/{document_id}")
        assert response.status_code == 200 and response.data.startswith(b"%PDF"), local
    for local in ("dealer2", "hospital2"):
        assert signed_in("acme", local).get(f"/documents/{document_id}").status_code == 404, local
    assert signed_in("globex", "admin").get(f"/documents/{document_id}").status_code == 404


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_fulfilment_keeps_the_ledger_and_the_order_lines_in_step(as_tenant, acme, seed):
    import random

    from tests.order_world import stocked_skus

    rnd = random.Random(seed)
    with as_tenant("acme") as s:
        order = allocated_order(s, lines=[(sku_id, 5) for sku_id in stocked_skus(s, acme["D-SH-001"], at_least=10, limit=3)])
        channel, hospital1 = _user(s, acme, "channel"), _user(s, acme, "hospital1")
        for _step in range(6):
            allocations = ful.open_allocations(s, order)
            if not allocations:
                break
            warehouse_id = rnd.choice(allocations).warehouse_id
            picks = {a.id: rnd.randint(0, a.quantity) for a in allocations if a.warehouse_id == warehouse_id}
            if not any(picks.values()):
                continue
            shipment = ful.create_shipment(s, order, warehouse_id, picks, channel, carrier="EMS", tracking_no=f"E{seed}",
                                           ship_direct=True)
            if rnd.random() < 0.2:
                ful.cancel_shipment(s, shipment)
                continue
            ful.ship_shipment(s, shipment)
            if rnd.random() < 0.7:
                line = rnd.choice(shipment.lines)
                given = {line.id: {"received": line.quantity - 1, "discrepancy": "short"}} if rnd.random() < 0.3 else {}
                for opened in ful.confirm_delivery(s, shipment, hospital1, None, given):
                    if opened.status == "approved":
                        ful.credit_return(s, opened)
        for line in s.scalars(select(OrderLine).where(OrderLine.order_id == order.id)):
            allocated = s.scalar(select(func.coalesce(func.sum(Allocation.quantity), 0)).where(
                Allocation.order_line_id == line.id, Allocation.status == "allocated"))
            shipped = s.scalar(select(func.coalesce(func.sum(ShipmentLine.quantity), 0)).join(Shipment).where(
                ShipmentLine.order_line_id == line.id, Shipment.status.in_(("shipped", "delivered"))))
            delivered = s.scalar(select(func.coalesce(func.sum(ShipmentLine.quantity), 0)).join(Shipment).where(
                ShipmentLine.order_line_id == line.id, Shipment.status == "delivered"))
            assert (line.allocated_quantity, line.shipped_quantity, line.delivered_quantity) == (allocated, shipped, delivered)
            assert line.allocated_quantity + line.shipped_quantity == line.quantity
        assert ledger_mismatches(s) == []


# --- reviewer findings ------------------------------------------------------------------------

def test_a_shipment_from_an_unknown_warehouse_is_refused_with_a_message(as_tenant, acme, signed_in):
    with as_tenant("acme") as s:
        order = allocated_order(s)
        allocation = ful.open_allocations(s, order)[0]
        with pytest.raises(InvalidInput) as err:
            ful.create_shipment(s, order, 987654321, {allocation.id: allocation.quantity})
        assert err.value.field == "warehouse_id"
        order_id, allocation_id, quantity = order.id, allocation.id, allocation.quantity
    response = signed_in("acme", "channel").post(
        f"/manufacturer/orders/{order_id}/ship", {"warehouse_id": "987654321", f"qty_{allocation_id}": str(quantity),
                                                  "carrier": "顺丰速运", "tracking_no": "SF1"},
        token_from=f"/manufacturer/orders/{order_id}/ship")
    assert response.status_code == 400


def test_a_lot_that_expired_while_packed_does_not_ship(as_tenant, acme, monkeypatch):
    from datetime import date

    with as_tenant("acme") as s:
        order = allocated_order(s)
        shipment = _pack_all(s, order, acme)
        monkeypatch.setattr(ful, "shanghai_today", lambda: date(2099, 12, 31))
        with pytest.raises(InvalidInput) as err:
            ful.ship_shipment(s, shipment)
        assert "请取消本发货单" in str(err.value.message)
        assert shipment.status == "packed"
        assert s.scalar(select(func.count()).select_from(StockMovement).where(
            StockMovement.ref_type == "shipments", StockMovement.ref_id == shipment.id)) == 0


def test_the_hospital_delivery_page_shows_no_purchase_amount(as_tenant, acme, signed_in):
    from app.core.templating import money
    from app.orders.events import add_event

    with as_tenant("acme") as s:
        order = allocated_order(s)  # for hospital H-SH-001; submitted as place_order tells it
        add_event(s, order, "submitted", acme["dealer1"], lines=len(order.lines), amount=str(order.total_amount))
        shipment = _pack_all(s, order, acme, ship_direct=True)
        ful.ship_shipment(s, shipment)
        shipment_id, total = shipment.id, money(order.total_amount)
    page = signed_in("acme", "hospital1").get(f"/hospital/deliveries/{shipment_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-kind="shipped"' in html
    assert total not in html and 'data-kind="submitted"' not in html


def test_cancelling_an_order_cancels_its_packed_shipment_and_releases_the_units(as_tenant, acme):
    from app.orders import operations as ops

    with as_tenant("acme") as s:
        order = allocated_order(s)
        shipment = _pack_all(s, order, acme)
        ops.cancel_order(s, order, _user(s, acme, "channel"), "医院取消")
        assert shipment.status == "cancelled" and order.status == "cancelled"
        assert {a.status for a in s.scalars(select(Allocation).join(OrderLine).where(OrderLine.order_id == order.id))} == {"released"}
        assert all(line.allocated_quantity == 0 for line in order.lines)
        with pytest.raises(InvalidInput):
            ful.ship_shipment(s, shipment)
        assert ledger_mismatches(s) == []


def test_cancelling_and_shipping_at_once_never_both_happen(as_tenant, acme):
    import threading

    from app.orders import operations as ops

    with as_tenant("acme") as s:
        order = allocated_order(s)
        shipment_id, order_id = _pack_all(s, order, acme).id, order.id
    barrier, outcomes, errors = threading.Barrier(2), [], []

    def act(what):
        try:
            with as_tenant("acme") as s:
                order, shipment = s.get(Order, order_id), s.get(Shipment, shipment_id)
                list(order.lines), list(shipment.lines)  # loaded before the other one acts
                barrier.wait(5)
                if what == "ship":
                    ful.ship_shipment(s, shipment)
                else:
                    ops.cancel_order(s, order, None, "撤单")
            outcomes.append(what)
        except InvalidInput:
            outcomes.append("refused")
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=act, args=(w,)) for w in ("ship", "cancel")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(outcomes) in (["refused", "ship"], ["cancel", "refused"])
    with as_tenant("acme") as s:
        order = s.get(Order, order_id)
        assert (order.status == "cancelled") == ("cancel" in outcomes)
        assert ledger_mismatches(s) == []
