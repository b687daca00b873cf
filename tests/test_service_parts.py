"""Spare parts used in service (app.service.parts): first expiry first out from one warehouse,
a named lot when the engineer scans it, never an expired lot, and all or nothing when a line
of the list cannot be served. Every block rolls back: the demo stock stays as it was."""
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app.catalog.models import Sku
from app.channel.models import Hospital
from app.core.i18n import shanghai_today
from app.core.numbering import assign_number
from app.inventory.models import Lot, StockBalance, StockMovement, Warehouse
from app.inventory.operations import move
from app.service.models import ServicePart, ServiceTicket
from app.service.parts import PartLine, PartsRefused, parts_of, use_parts


def _world(session):
    """A fresh warehouse holding one lot-controlled SKU in three lots: 3 units expiring
    soon, 10 later, and 4 already expired (not yet moved to the expired state)."""
    today = shanghai_today()
    sku = session.scalar(select(Sku).where(Sku.tracking == "lot").order_by(Sku.id).limit(1))
    hospital = session.scalar(select(Hospital).order_by(Hospital.id).limit(1))
    warehouse = Warehouse(code="WH-PARTS-T", name="备件库（测试）", kind="regional", region_id=hospital.region_id)
    session.add(warehouse)
    session.flush()
    lots = []
    for lot_no, days, quantity in (("PT-SOON", 40, 3), ("PT-LATE", 400, 10), ("PT-GONE", -5, 4)):
        lot = Lot(sku_id=sku.id, lot_no=lot_no, expires_on=today + timedelta(days=days))
        session.add(lot)
        session.flush()
        move(session, "receipt", warehouse.id, lot, quantity, None, "inspection")
        move(session, "qc_release", warehouse.id, lot, quantity, "inspection", "available")
        lots.append(lot)
    ticket = ServiceTicket(hospital_id=hospital.id, region_id=hospital.region_id, raised_via="manufacturer",
                           title="更换探头", description="探头接触不良")
    assign_number(session, ticket, "TK")
    session.add(ticket)
    session.flush()
    return sku, warehouse, lots, ticket


def _available(session, warehouse_id) -> dict[str, int]:
    return {lot_no: q for lot_no, q in session.execute(
        select(Lot.lot_no, StockBalance.quantity).join(Lot, Lot.id == StockBalance.lot_id)
        .where(StockBalance.warehouse_id == warehouse_id, StockBalance.state == "available"))}


def test_parts_come_first_expiry_first_out_and_leave_stock_as_service_use(as_tenant):
    with as_tenant("acme") as s:
        sku, warehouse, (soon, late, gone), ticket = _world(s)
        parts = use_parts(s, ticket=ticket, lines=[PartLine(sku.id, 5, warehouse.id, unit_price=D("120.005"))],
                          actor_id=None, charged=True)
        assert [(p.lot_id, p.quantity) for p in parts] == [(soon.id, 3), (late.id, 2)]
        assert all(p.charged and p.unit_price == D("120.01") and p.ticket_id == ticket.id for p in parts)
        assert _available(s, warehouse.id) == {"PT-SOON": 0, "PT-LATE": 8, "PT-GONE": 4}
        rows = s.execute(select(StockMovement.kind, StockMovement.ref_type, StockMovement.ref_id, StockMovement.to_state,
                                func.sum(StockMovement.quantity))
                         .where(StockMovement.warehouse_id == warehouse.id, StockMovement.kind == "service_use")
                         .group_by(StockMovement.kind, StockMovement.ref_type, StockMovement.ref_id,
                                   StockMovement.to_state)).all()
        assert rows == [("service_use", "service_tickets", ticket.id, None, 5)]
        assert [p.id for p in parts_of(s, ticket_id=ticket.id)] == [p.id for p in parts]
        s.rollback()


def test_a_named_lot_is_taken_and_free_parts_cost_nothing(as_tenant):
    with as_tenant("acme") as s:
        sku, warehouse, (soon, late, gone), ticket = _world(s)
        [part] = use_parts(s, ticket=ticket, lines=[PartLine(sku.id, 2, warehouse.id, lot_id=late.id,
                                                             unit_price=D("99"))], actor_id=None, charged=False)
        assert (part.lot_id, part.quantity, part.unit_price, part.charged) == (late.id, 2, D("0.00"), False)
        assert _available(s, warehouse.id)["PT-LATE"] == 8
        s.rollback()


@pytest.mark.parametrize("lines, row, field", [
    # the expired lot does not count: 13 usable units, not 17
    (lambda sku, wh, lots: [PartLine(sku, 14, wh)], 0, "quantity"),
    # two lines that each fit but not together
    (lambda sku, wh, lots: [PartLine(sku, 8, wh), PartLine(sku, 6, wh)], 1, "quantity"),
    # an expired lot named by the engineer
    (lambda sku, wh, lots: [PartLine(sku, 1, wh), PartLine(sku, 1, wh, lot_id=lots[2].id)], 1, "quantity"),
    (lambda sku, wh, lots: [PartLine(sku, 0, wh)], 0, "quantity"),
    (lambda sku, wh, lots: [PartLine(sku, 1, wh, unit_price=D("-1"))], 0, "unit_price"),
    (lambda sku, wh, lots: [PartLine(sku, 1, wh), PartLine(sku, 1, -1)], 1, "warehouse_id"),
    (lambda sku, wh, lots: [PartLine(-1, 1, wh)], 0, "sku_id"),
    ([], 0, "sku_id"),
])
def test_a_line_that_cannot_be_served_refuses_the_whole_list(as_tenant, lines, row, field):
    with as_tenant("acme") as s:
        sku, warehouse, lots, ticket = _world(s)
        before = _available(s, warehouse.id)
        wanted = lines(sku.id, warehouse.id, lots) if callable(lines) else lines
        with pytest.raises(PartsRefused) as refused:
            use_parts(s, ticket=ticket, lines=wanted, actor_id=None)
        assert (refused.value.row, refused.value.field) == (row, field) and refused.value.message
        assert _available(s, warehouse.id) == before
        assert s.scalar(select(func.count()).select_from(ServicePart).where(ServicePart.ticket_id == ticket.id)) == 0
        s.rollback()


def test_a_lot_of_another_product_is_refused(as_tenant):
    with as_tenant("acme") as s:
        sku, warehouse, lots, ticket = _world(s)
        other = s.scalar(select(Lot).where(Lot.sku_id != sku.id).limit(1))
        with pytest.raises(PartsRefused) as refused:
            use_parts(s, ticket=ticket, lines=[PartLine(sku.id, 1, warehouse.id, lot_id=other.id)], actor_id=None)
        assert refused.value.field == "lot_id"
        s.rollback()
