"""Returns (退货): requested from a delivery, decided through the approval engine,
received back into inspection, credited with an exact credit note; and who may see them."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.compliance import approvals
from app.compliance.models import ApprovalRequest
from app.core.errors import InvalidInput
from app.identity.models import User
from app.inventory.models import StockBalance, StockMovement
from app.orders import fulfilment as ful
from app.orders.models import OrderEvent, ReturnRequest, Shipment
from tests.order_world import allocated_order, ids, ledger_mismatches


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return ids(s)


def _delivered_to_dealer(s, acme, price=Decimal("1234.56"), quantity=3):
    from tests.order_world import stocked_skus

    dealer_id = acme["D-SH-001"]
    sku_id = stocked_skus(s, dealer_id, at_least=quantity, limit=1)[0]
    order = allocated_order(s, lines=[(sku_id, quantity)], price=price)
    shipment = None
    while ful.open_allocations(s, order):
        allocations = ful.open_allocations(s, order)
        warehouse_id = allocations[0].warehouse_id
        sh = ful.create_shipment(s, order, warehouse_id, {a.id: a.quantity for a in allocations if a.warehouse_id == warehouse_id},
                                 carrier="顺丰速运", tracking_no="SF1")
        ful.ship_shipment(s, sh)
        ful.confirm_delivery(s, sh, s.get(User, acme["dealer1"]), "陈志强", {})
        shipment = shipment or sh
    return order, shipment


def test_return_lifecycle_receipt_into_inspection_and_exact_credit(as_tenant, acme):
    with as_tenant("acme") as s:
        order, shipment = _delivered_to_dealer(s, acme, price=Decimal("333.33"))
        line = shipment.lines[0]
        dealer1 = s.get(User, acme["dealer1"])
        ret = ful.request_return(s, dealer1, shipment, {line.id: line.quantity}, "near_expiry", "效期不足六个月")
        assert ret.number.startswith("RT-") and ret.approval_request_id
        request = s.get(ApprovalRequest, ret.approval_request_id)
        assert request.kind == "return_request" and Decimal(request.facts["amount"]) == Decimal("333.33") * line.quantity
        if ret.status == "requested":  # a chain applies: decide it like an approver would
            request.status = "approved"
            ful.return_decided(s, request)
        assert ret.status == "approved"
        assert "return_approved" in list(s.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order.id)))
        with pytest.raises(InvalidInput):  # not received yet
            ful.credit_return(s, ret)
        before = s.scalar(select(StockBalance.quantity).where(
            StockBalance.warehouse_id == shipment.warehouse_id, StockBalance.lot_id == line.lot_id,
            StockBalance.state == "inspection")) or 0
        ful.receive_return(s, ret, shipment.warehouse_id)
        assert ret.status == "received" and ret.warehouse_id == shipment.warehouse_id
        movement = s.scalar(select(StockMovement).where(StockMovement.ref_type == "returns", StockMovement.ref_id == ret.id))
        assert (movement.kind, movement.from_state, movement.to_state, movement.quantity) == ("return", None, "inspection", line.quantity)
        after = s.scalar(select(StockBalance.quantity).where(
            StockBalance.warehouse_id == shipment.warehouse_id, StockBalance.lot_id == line.lot_id,
            StockBalance.state == "inspection"))
        assert after == before + line.quantity
        ful.credit_return(s, ret)
        assert ret.status == "credited"
        assert ret.credit_amount == Decimal("333.33") * line.quantity
        assert isinstance(ret.credit_amount, Decimal) and ret.credit_amount.as_tuple().exponent == -2
        assert ret.credit_note_no.startswith("CN-") and ret.credit_note_no.endswith(f"{ret.id:06d}")
        assert ledger_mismatches(s) == []


def test_a_return_cannot_take_more_than_was_received_and_not_yet_returned(as_tenant, acme):
    with as_tenant("acme") as s:
        _order, shipment = _delivered_to_dealer(s, acme)
        line = shipment.lines[0]
        dealer1 = s.get(User, acme["dealer1"])
        with pytest.raises(InvalidInput) as err:
            ful.request_return(s, dealer1, shipment, {line.id: line.quantity + 1}, "overstock")
        assert err.value.field == f"qty_{line.id}"
        ful.request_return(s, dealer1, shipment, {line.id: 1}, "overstock")
        assert ful.returnable(s, [line.id])[line.id] == line.quantity - 1
        with pytest.raises(InvalidInput):
            ful.request_return(s, dealer1, shipment, {line.id: line.quantity}, "overstock")
        with pytest.raises(InvalidInput) as err:  # short only comes from a signed delivery
            ful.request_return(s, dealer1, shipment, {line.id: 1}, "short")
        assert err.value.field == "reason"
        with pytest.raises(InvalidInput):  # another dealer's shipment
            ful.request_return(s, s.get(User, acme["dealer2"]), shipment, {line.id: 1}, "overstock")


def test_a_rejected_return_goes_no_further(as_tenant, acme):
    with as_tenant("acme") as s:
        _order, shipment = _delivered_to_dealer(s, acme)
        line = shipment.lines[0]
        ret = ful.request_return(s, s.get(User, acme["dealer1"]), shipment, {line.id: 1}, "quality", "导丝打折")
        request = s.get(ApprovalRequest, ret.approval_request_id)
        ret.status = "requested"  # as if a chain held it
        request.status = "rejected"
        ful.return_decided(s, request)
        assert ret.status == "rejected"
        with pytest.raises(InvalidInput):
            ful.receive_return(s, ret, shipment.warehouse_id)
        assert ful.returnable(s, [line.id])[line.id] == line.quantity  # a rejected return takes nothing


def test_return_requests_go_through_a_chain_when_one_applies(as_tenant, acme):
    with as_tenant("acme") as s:
        from app.compliance.approvals import StepSpec

        chain = approvals.chain_for(s, "return_request")
        had_steps = bool(chain.steps)
        if not had_steps:
            approvals.add_step(s, "return_request", StepSpec(name="渠道经理审核", role="channel_manager"))
    try:
        with as_tenant("acme") as s:
            _order, shipment = _delivered_to_dealer(s, acme)
            line = shipment.lines[0]
            ret = ful.request_return(s, s.get(User, acme["dealer1"]), shipment, {line.id: 1}, "damaged", "外包装破损")
            assert ret.status == "requested"
            request = s.get(ApprovalRequest, ret.approval_request_id)
            assert request.status == "in_review" and request.entity_type == "returns"
    finally:
        if not had_steps:
            with as_tenant("acme") as s:
                for step in list(approvals.chain_for(s, "return_request").steps):
                    approvals.remove_step(s, step)


# --- pages -----------------------------------------------------------------------------------

def _world(as_tenant, acme):
    with as_tenant("acme") as s:
        _order, shipment = _delivered_to_dealer(s, acme)
        line = shipment.lines[0]
        ret = ful.request_return(s, s.get(User, acme["dealer1"]), shipment, {line.id: 1}, "overstock")
        return shipment.id, line.id, ret.id, ret.number


def test_dealer_requests_a_return_from_a_delivery_page(as_tenant, acme, signed_in):
    with as_tenant("acme") as s:
        _order, shipment = _delivered_to_dealer(s, acme)
        shipment_id, line_id = shipment.id, shipment.lines[0].id
    dealer = signed_in("acme", "dealer1")
    page = dealer.get(f"/dealer/deliveries/{shipment_id}")
    assert page.status_code == 200 and "/return" in page.get_data(as_text=True)
    bad = dealer.post(f"/dealer/deliveries/{shipment_id}/return", {f"qty_{line_id}": "999", "reason": "overstock"})
    assert bad.status_code == 400
    bad = dealer.post(f"/dealer/deliveries/{shipment_id}/return", {f"qty_{line_id}": "abc", "reason": "overstock"})
    assert bad.status_code == 400
    done = dealer.post(f"/dealer/deliveries/{shipment_id}/return", {f"qty_{line_id}": "1", "reason": "overstock"})
    assert done.status_code == 303
    detail = dealer.get(done.headers["Location"])
    assert detail.status_code == 200 and "RT-" in detail.get_data(as_text=True)
    assert "RT-" in dealer.get("/dealer/returns").get_data(as_text=True)


def test_manufacturer_receives_and_credits_a_return_on_its_page(as_tenant, acme, signed_in):
    _shipment_id, _line_id, return_id, number = _world(as_tenant, acme)
    with as_tenant("acme") as s:
        ret = s.get(ReturnRequest, return_id)
        if ret.status == "requested":
            ret.status = "approved"
        warehouse_id = s.get(Shipment, ret.shipment_id).warehouse_id
    admin = signed_in("acme", "channel")
    assert number in admin.get("/manufacturer/returns").get_data(as_text=True)
    assert admin.get(f"/manufacturer/returns/{return_id}").status_code == 200
    assert admin.post(f"/manufacturer/returns/{return_id}/receive", {"warehouse_id": "x"}).status_code == 400
    assert admin.post(f"/manufacturer/returns/{return_id}/receive", {"warehouse_id": str(warehouse_id)}).status_code == 303
    assert signed_in("acme", "qa").post(f"/manufacturer/returns/{return_id}/credit", {},
                                        token_from=f"/manufacturer/returns/{return_id}").status_code == 403
    assert admin.post(f"/manufacturer/returns/{return_id}/credit", {}).status_code == 303
    with as_tenant("acme") as s:
        assert s.get(ReturnRequest, return_id).status == "credited"


def test_returns_are_scoped_to_their_dealer_and_tenant(as_tenant, acme, signed_in):
    shipment_id, _line_id, return_id, number = _world(as_tenant, acme)
    dealer2 = signed_in("acme", "dealer2")
    assert dealer2.get(f"/dealer/returns/{return_id}").status_code == 404
    assert number not in dealer2.get("/dealer/returns").get_data(as_text=True)
    assert dealer2.get(f"/dealer/deliveries/{shipment_id}/return").status_code == 404
    assert signed_in("acme", "sales.south").get(f"/manufacturer/returns/{return_id}").status_code == 404
    assert signed_in("acme", "sales.east").get(f"/manufacturer/returns/{return_id}").status_code == 200
    assert signed_in("globex", "admin").get(f"/manufacturer/returns/{return_id}").status_code == 404
    assert signed_in("globex", "dealer1").get(f"/dealer/returns/{return_id}").status_code == 404
    assert signed_in("acme", "dealer1").get("/manufacturer/returns").status_code == 403
    assert signed_in("acme", "hospital1").get("/dealer/returns").status_code == 403


# --- reviewer findings ------------------------------------------------------------------------

def test_returned_goods_come_back_only_to_a_warehouse_of_ours_in_reach(as_tenant, acme):
    from app.inventory.models import Warehouse

    with as_tenant("acme") as s:
        _order, shipment = _delivered_to_dealer(s, acme)
        line = shipment.lines[0]
        ret = ful.request_return(s, s.get(User, acme["dealer1"]), shipment, {line.id: 1}, "overstock")
        if ret.status == "requested":
            ret.status = "approved"
        by_code = dict(s.execute(select(Warehouse.code, Warehouse.id)).all())
        channel = s.get(User, acme["channel"])
        for code in ("CS-H-SH-001", "CS-D-SH-001"):  # consignment stock is not a returns dock
            with pytest.raises(InvalidInput) as err:
                ful.receive_return(s, ret, by_code[code], channel)
            assert err.value.field == "warehouse_id"
        with pytest.raises(InvalidInput):  # 华南's manager cannot take goods into 北京
            ful.receive_return(s, ret, by_code["WH-BJ"], s.get(User, acme["sales.south"]))
        assert ret.status == "approved"
        ful.receive_return(s, ret, shipment.warehouse_id, channel)
        assert ret.status == "received"


def test_two_returns_of_the_same_units_at_once_take_them_once(as_tenant, acme):
    import threading

    with as_tenant("acme") as s:
        _order, shipment = _delivered_to_dealer(s, acme)
        shipment_id, line_id, quantity = shipment.id, shipment.lines[0].id, shipment.lines[0].quantity
    barrier, outcomes, errors = threading.Barrier(2), [], []

    def ask():
        try:
            with as_tenant("acme") as s:
                shipment = s.get(Shipment, shipment_id)
                list(shipment.lines)
                barrier.wait(10)
                ful.request_return(s, s.get(User, acme["dealer1"]), shipment, {line_id: quantity}, "overstock")
            outcomes.append("requested")
        except InvalidInput:
            outcomes.append("refused")
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(outcomes) == ["refused", "requested"]
    with as_tenant("acme") as s:
        assert ful.returnable(s, [line_id]) == {line_id: 0}
