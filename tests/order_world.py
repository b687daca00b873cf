"""A small world of orders for the fulfilment tests: an order for a dealer (optionally
naming a hospital), allocated FEFO from the dealer's serving warehouses.

Until ``app.orders.operations.place_order`` lands this builds the rows directly; the
lead may switch ``allocated_order`` to place_order + allocate_order later."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.identity.models import User
from app.inventory.models import StockBalance, StockMovement
from app.inventory.operations import serving_warehouse_ids, take_fefo
from app.core.numbering import assign_number
from app.orders.models import Allocation, Order, OrderLine


def ids(session) -> dict:
    """Dealers, hospitals and SKUs by code; users by e-mail local part."""
    return {
        **{c: i for c, i in session.execute(select(Dealer.code, Dealer.id))},
        **{c: i for c, i in session.execute(select(Hospital.code, Hospital.id))},
        **{c: i for c, i in session.execute(select(Sku.code, Sku.id))},
        **{e.split("@")[0]: i for e, i in session.execute(select(User.email, User.id))},
    }


def stocked_skus(session, dealer_id: int, at_least: int = 4, limit: int = 2) -> list[int]:
    """SKUs with at least ``at_least`` available units in one of the dealer's serving
    warehouses (so that a test can allocate them from a single warehouse)."""
    warehouses = serving_warehouse_ids(session, dealer_id)
    return list(session.scalars(
        select(StockBalance.sku_id).where(StockBalance.warehouse_id.in_(warehouses), StockBalance.state == "available")
        .group_by(StockBalance.sku_id, StockBalance.warehouse_id).having(func.sum(StockBalance.quantity) >= at_least)
        .order_by(StockBalance.sku_id).distinct().limit(limit)))


def allocated_order(session, dealer_code: str = "D-SH-001", hospital_code: str | None = "H-SH-001",
                    lines: list[tuple[int, int]] | None = None, price: Decimal = Decimal("1234.56")) -> Order:
    """An approved order of ``lines`` [(sku_id, quantity)] allocated FEFO from one of the
    dealer's serving warehouses (the first holding enough)."""
    dealer = session.scalar(select(Dealer).where(Dealer.code == dealer_code))
    hospital = session.scalar(select(Hospital).where(Hospital.code == hospital_code)) if hospital_code else None
    if lines is None:
        lines = [(sku_id, 2) for sku_id in stocked_skus(session, dealer.id)]
    order = Order(dealer_id=dealer.id, hospital_id=hospital.id if hospital else None, status="approved",
                  total_amount=Decimal("0"))
    assign_number(session, order, "SO")
    session.add(order)
    session.flush()
    total = Decimal("0")
    for n, (sku_id, quantity) in enumerate(lines, start=1):
        line = OrderLine(order_id=order.id, line_no=n, sku_id=sku_id, quantity=quantity, unit_price=price,
                         amount=price * quantity, tax_rate=Decimal("0.13"))
        session.add(line)
        session.flush()
        total += line.amount
        for warehouse_id in serving_warehouse_ids(session, dealer.id):
            available = session.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
                StockBalance.sku_id == sku_id, StockBalance.warehouse_id == warehouse_id,
                StockBalance.state == "available"))
            if available >= quantity:
                taken = take_fefo(session, sku_id, [warehouse_id], quantity, to_state="allocated", kind="allocation",
                                  ref=("order_lines", line.id))
                break
        else:
            raise AssertionError(f"no serving warehouse holds {quantity} of sku {sku_id}")
        for pick in taken.picks:
            session.add(Allocation(order_line_id=line.id, warehouse_id=pick.warehouse_id, lot_id=pick.lot_id,
                                   quantity=pick.quantity, status="allocated"))
        line.allocated_quantity = quantity
    order.total_amount = total
    order.status = "allocated"
    session.flush()
    return order


def ledger_mismatches(session) -> list:
    """(warehouse, lot, state, ledger, balance) wherever the balances and the ledger disagree."""
    inflow = select(StockMovement.warehouse_id.label("w"), StockMovement.lot_id.label("l"),
                    StockMovement.to_state.label("s"), StockMovement.quantity.label("q")).where(
        StockMovement.to_state.is_not(None))
    outflow = select(StockMovement.warehouse_id, StockMovement.lot_id, StockMovement.from_state,
                     -StockMovement.quantity).where(StockMovement.from_state.is_not(None))
    flows = inflow.union_all(outflow).subquery()
    ledger = select(flows.c.w, flows.c.l, flows.c.s, func.sum(flows.c.q).label("q")).group_by(
        flows.c.w, flows.c.l, flows.c.s).subquery()
    rows = session.execute(
        select(ledger.c.w, ledger.c.l, ledger.c.s, ledger.c.q, StockBalance.quantity)
        .join(StockBalance, (StockBalance.warehouse_id == ledger.c.w) & (StockBalance.lot_id == ledger.c.l)
              & (StockBalance.state == ledger.c.s), full=True)
        .where(func.coalesce(ledger.c.q, 0) != func.coalesce(StockBalance.quantity, 0)))
    return list(rows)
