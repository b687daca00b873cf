"""Reads about fulfilment: shipments, returns, the order timeline, and the hospital's
views (its deliveries, available-to-promise stock, the lots it received). Every read
takes the acting user (or the hospital id) and applies the scope inside: a dealer sees
its own orders' shipments, a hospital those of orders naming it, a regional manager
those of dealers in its regions."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.channel.queries import ChannelScope
from app.core.pagination import Page, keyset_page
from app.inventory.models import Lot, StockBalance, Warehouse
from app.inventory.operations import serving_warehouse_ids
from app.orders.models import (
    Allocation,
    Order,
    OrderEvent,
    OrderLine,
    ReturnRequest,
    Shipment,
    ShipmentLine,
)

SHIPMENT_STATUS_LABELS = {"packed": _l("Packed"), "shipped": _l("Shipped"), "delivered": _l("Delivered"),
                          "cancelled": _l("Cancelled")}
RETURN_STATUS_LABELS = {"requested": _l("Requested"), "approved": _l("Approved"), "rejected": _l("Rejected"),
                        "received": _l("Received"), "credited": _l("Credited")}
RETURN_REASON_LABELS = {"short": _l("Short delivery"), "damaged": _l("Damaged"), "wrong_lot": _l("Wrong lot"),
                        "near_expiry": _l("Near expiry"), "quality": _l("Quality problem"), "overstock": _l("Overstock"),
                        "other": _l("Other")}
DISCREPANCY_LABELS = {k: RETURN_REASON_LABELS[k] for k in ("short", "damaged", "wrong_lot")}
EVENT_LABELS = {
    "submitted": _l("Order submitted"), "gate_refused": _l("Refused by a check"),
    "approval_requested": _l("Sent for approval"), "approved": _l("Approved"), "rejected": _l("Rejected"),
    "allocated": _l("Stock allocated"), "backordered": _l("Back-ordered"), "packed": _l("Packed"),
    "shipped": _l("Shipped"), "shipment_cancelled": _l("Shipment cancelled"), "delivered": _l("Delivered and signed for"),
    "discrepancy": _l("Signed for with a discrepancy"), "return_requested": _l("Return requested"),
    "return_approved": _l("Return approved"), "return_rejected": _l("Return rejected"),
    "returned": _l("Returned goods received"), "credited": _l("Credit note issued"), "cancelled": _l("Cancelled"),
    "closed": _l("Closed"),
}
STATUS_BADGES = {"packed": "wait", "shipped": "wait", "delivered": "on", "cancelled": "off", "requested": "wait",
                 "approved": "on", "rejected": "off", "received": "on", "credited": "on"}


def labels() -> dict:
    """The label sets fulfilment pages use."""
    return {"shipment_statuses": SHIPMENT_STATUS_LABELS, "return_statuses": RETURN_STATUS_LABELS,
            "return_reasons": RETURN_REASON_LABELS, "discrepancies": DISCREPANCY_LABELS, "event_labels": EVENT_LABELS,
            "badges": STATUS_BADGES}


# --- scope -----------------------------------------------------------------------------------

def _scope_orders(stmt, user):
    """Limit a statement joined to ``Order`` (and ``Dealer``) to the user's reach."""
    scope = ChannelScope.of(user)
    if scope.dealer_id is not None:
        return stmt.where(Order.dealer_id == scope.dealer_id)
    if scope.hospital_id is not None:
        return stmt.where(Order.hospital_id == scope.hospital_id)
    clause = scope.regions_clause(Dealer.region_id)
    return stmt if clause is None else stmt.where(clause)


def _scope_shipments(stmt, user):
    """Like ``_scope_orders`` for a statement on shipments, through the shipment's own
    ``dealer_id`` / ``hospital_id`` (their indexes walk newest first)."""
    scope = ChannelScope.of(user)
    if scope.dealer_id is not None:
        return stmt.where(Shipment.dealer_id == scope.dealer_id)
    if scope.hospital_id is not None:
        return stmt.where(Shipment.hospital_id == scope.hospital_id)
    return _scope_orders(stmt, user)


def order_for(session: Session, user, order_id: int) -> Order | None:
    return session.scalar(_scope_orders(select(Order).join(Dealer, Dealer.id == Order.dealer_id), user)
                          .where(Order.id == order_id))


# --- shipments -------------------------------------------------------------------------------

def _shipment_rows():
    destination = aliased(Hospital)
    return (select(Shipment.id, Shipment.number, Shipment.status, Shipment.carrier, Shipment.tracking_no, Shipment.eta,
                   Shipment.shipped_at, Shipment.delivered_at, Shipment.cold_chain, Shipment.hospital_id, Shipment.ship_to,
                   Shipment.created_at, Order.number.label("order_number"), Order.id.label("order_id"),
                   Dealer.name.label("dealer_name"), Warehouse.name.label("warehouse_name"),
                   destination.name.label("hospital_name"))
            .join(Order, Order.id == Shipment.order_id).join(Dealer, Dealer.id == Shipment.dealer_id)
            .join(Warehouse, Warehouse.id == Shipment.warehouse_id)
            .outerjoin(destination, destination.id == Shipment.hospital_id))


def shipments_page(session: Session, user, cursor: str | None, status: str = "") -> Page:
    """Shipments in the user's reach, newest first. A hospital's list is every shipment
    for it, sent straight to it or to its dealer (``hospital_id`` is the order's
    hospital either way), walked on ``ix_shipments_hospital_id_desc``."""
    stmt = _scope_shipments(_shipment_rows(), user)
    if status:
        stmt = stmt.where(Shipment.status == status)
    return keyset_page(session, stmt, (Shipment.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def shipment_for(session: Session, user, shipment_id: int) -> Shipment | None:
    """The shipment if the user's reach covers it, else None (404)."""
    stmt = select(Shipment).join(Order, Order.id == Shipment.order_id).join(Dealer, Dealer.id == Shipment.dealer_id)
    return session.scalar(_scope_shipments(stmt, user).where(Shipment.id == shipment_id))


#: what a hospital is shown of an order's timeline: its progress, not the manufacturer's
#: and dealer's money matters (approvals, returns and credit notes between them)
HOSPITAL_EVENT_KINDS = ("allocated", "backordered", "packed", "shipped", "shipment_cancelled", "delivered",
                        "discrepancy", "cancelled", "closed")


def timeline(session: Session, order_id: int, kinds: tuple[str, ...] | None = None) -> list[OrderEvent]:
    """The order's events, oldest first (only ``kinds`` when given)."""
    stmt = select(OrderEvent).where(OrderEvent.order_id == order_id)
    if kinds is not None:
        stmt = stmt.where(OrderEvent.kind.in_(kinds))
    return list(session.scalars(stmt.order_by(OrderEvent.id)))


def orders_to_ship(session: Session, user, limit: int = 20) -> list:
    """Orders in reach holding allocated units that no open shipment has packed yet."""
    packed = select(ShipmentLine.allocation_id).join(Shipment, Shipment.id == ShipmentLine.shipment_id).where(
        Shipment.status == "packed", ShipmentLine.allocation_id.is_not(None))
    waiting = (select(OrderLine.order_id, func.sum(Allocation.quantity).label("units"))
               .join(Allocation, Allocation.order_line_id == OrderLine.id)
               .where(Allocation.status == "allocated", Allocation.id.not_in(packed))
               .group_by(OrderLine.order_id).subquery())
    stmt = (select(Order.id, Order.number, Order.status, Dealer.name.label("dealer_name"),
                   Hospital.name.label("hospital_name"), waiting.c.units)
            .join(waiting, waiting.c.order_id == Order.id).join(Dealer, Dealer.id == Order.dealer_id)
            .outerjoin(Hospital, Hospital.id == Order.hospital_id)
            .where(Order.status.not_in(("pending_approval", "rejected", "cancelled", "closed"))))
    return list(session.execute(_scope_orders(stmt, user).order_by(Order.id.desc()).limit(limit)))


def shipping_warehouses(session: Session, user=None) -> list[Warehouse]:
    """Where returned goods may come back to: active warehouses (not consignment ones) in
    the user's reach, central first."""
    stmt = select(Warehouse).where(Warehouse.status == "active", Warehouse.kind != "consignment")
    if user is not None:
        scope = ChannelScope.of(user)
        if scope.dealer_id is not None or scope.hospital_id is not None:
            stmt = stmt.where(false())
        else:
            clause = scope.regions_clause(Warehouse.region_id)
            stmt = stmt if clause is None else stmt.where(clause)
    return list(session.scalars(stmt.order_by(Warehouse.kind, Warehouse.code)))


# --- returns ---------------------------------------------------------------------------------

def returns_page(session: Session, user, cursor: str | None, status: str = "") -> Page:
    stmt = (select(ReturnRequest.id, ReturnRequest.number, ReturnRequest.status, ReturnRequest.reason,
                   ReturnRequest.created_at, ReturnRequest.credit_note_no, ReturnRequest.credit_amount,
                   Dealer.name.label("dealer_name"), Order.number.label("order_number"))
            .join(Dealer, Dealer.id == ReturnRequest.dealer_id).join(Order, Order.id == ReturnRequest.order_id))
    scope = ChannelScope.of(user)
    if scope.hospital_id is not None:
        stmt = stmt.where(false())
    elif scope.dealer_id is not None:
        stmt = stmt.where(ReturnRequest.dealer_id == scope.dealer_id)
    else:
        stmt = _scope_orders(stmt, user)
    if status:
        stmt = stmt.where(ReturnRequest.status == status)
    return keyset_page(session, stmt, (ReturnRequest.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def return_for(session: Session, user, return_id: int) -> ReturnRequest | None:
    scope = ChannelScope.of(user)
    if scope.hospital_id is not None:
        return None
    stmt = select(ReturnRequest).join(Dealer, Dealer.id == ReturnRequest.dealer_id).where(ReturnRequest.id == return_id)
    if scope.dealer_id is not None:
        return session.scalar(stmt.where(ReturnRequest.dealer_id == scope.dealer_id))
    clause = scope.regions_clause(Dealer.region_id)
    return session.scalar(stmt if clause is None else stmt.where(clause))


# --- the hospital's views ----------------------------------------------------------------------

def hospital_lots_page(session: Session, hospital_id: int, cursor: str | None, sku: str = "", lot: str = "") -> Page:
    """Lots and serials delivered for the hospital (straight to it, or to its dealer for
    its order), newest first: the data a recall needs."""
    stmt = (select(ShipmentLine.id, Sku.code.label("sku_code"), Sku.name.label("sku_name"), Sku.specification,
                   Lot.lot_no, Lot.serial_no, Lot.expires_on, Shipment.delivered_at, Shipment.number.label("shipment_number"),
                   Shipment.id.label("shipment_id"),
                   func.coalesce(ShipmentLine.received_quantity, ShipmentLine.quantity).label("quantity"))
            .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
            .join(Sku, Sku.id == ShipmentLine.sku_id).join(Lot, Lot.id == ShipmentLine.lot_id)
            .where(Shipment.hospital_id == hospital_id, Shipment.status == "delivered"))
    if sku.strip():
        like = f"%{sku.strip()}%"
        stmt = stmt.where(or_(Sku.code.ilike(like), Sku.name.ilike(like)))
    if lot.strip():
        like = f"%{lot.strip()}%"
        stmt = stmt.where(or_(Lot.lot_no.ilike(like), Lot.serial_no.ilike(like)))
    return keyset_page(session, stmt, (ShipmentLine.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


OPEN_ORDER_STATUSES = ("pending_approval", "approved", "allocated", "partially_shipped")


@dataclass
class PromiseRow:
    """Available to promise for one product, through the hospital's dealer(s)."""
    sku: Sku
    dealers: list
    available: int = 0
    incoming: int = 0            # in transit to / in inspection at those warehouses
    backordered: int = 0         # on this hospital's open orders, not yet allocated
    backorder_expected_on: date | None = None
    on_the_way: int = 0          # shipped to it (or its dealer for it), not yet signed for
    eta: date | None = None
    warehouses: list = field(default_factory=list)


def hospital_stock(session: Session, hospital_id: int, day: date) -> list[PromiseRow]:
    """For each product the hospital may buy today: units available in its dealer's
    serving warehouses (with enough shelf life left for it), what is coming into those
    warehouses, its back-ordered units with their expected date, and what is on the way."""
    from app.pricing.queries import hospital_products

    hospital = session.get(Hospital, hospital_id)
    products = hospital_products(session, hospital_id, day)
    if hospital is None or not products:
        return []
    warehouses_of: dict[int, list[int]] = {}
    rows = []
    for product in products:
        serving = [d for d in product.dealers if d.id == hospital.serving_dealer_id] or product.dealers
        ids: list[int] = []
        for dealer in serving:
            if dealer.id not in warehouses_of:
                warehouses_of[dealer.id] = serving_warehouse_ids(session, dealer.id)
            ids += [w for w in warehouses_of[dealer.id] if w not in ids]
        rows.append(PromiseRow(product.sku, serving, warehouses=ids))
    sku_ids = [r.sku.id for r in rows]
    all_warehouses = sorted({w for r in rows for w in r.warehouses})
    fresh_until = day + timedelta(days=hospital.min_shelf_days or 0)
    stock: dict[tuple[int, int, str], int] = {}
    if all_warehouses:
        for sku_id, warehouse_id, state, quantity in session.execute(
                select(StockBalance.sku_id, StockBalance.warehouse_id, StockBalance.state, func.sum(StockBalance.quantity))
                .where(StockBalance.sku_id.in_(sku_ids), StockBalance.warehouse_id.in_(all_warehouses),
                       StockBalance.state.in_(("available", "in_transit", "inspection")), StockBalance.quantity > 0,
                       or_(StockBalance.expires_on.is_(None), StockBalance.expires_on > fresh_until))
                .group_by(StockBalance.sku_id, StockBalance.warehouse_id, StockBalance.state)):
            stock[(sku_id, warehouse_id, state)] = int(quantity)
    backorders = {sku_id: (int(units or 0), expected) for sku_id, units, expected in session.execute(
        select(OrderLine.sku_id,
               func.sum(OrderLine.quantity - OrderLine.allocated_quantity - OrderLine.shipped_quantity),
               func.min(OrderLine.backorder_expected_on))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.hospital_id == hospital_id, Order.status.in_(OPEN_ORDER_STATUSES), OrderLine.sku_id.in_(sku_ids),
               OrderLine.quantity > OrderLine.allocated_quantity + OrderLine.shipped_quantity)
        .group_by(OrderLine.sku_id))}
    on_the_way = {sku_id: (int(units), eta) for sku_id, units, eta in session.execute(
        select(ShipmentLine.sku_id, func.sum(ShipmentLine.quantity), func.min(Shipment.eta))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.hospital_id == hospital_id, Shipment.status.in_(("packed", "shipped")), ShipmentLine.sku_id.in_(sku_ids))
        .group_by(ShipmentLine.sku_id))}
    for row in rows:
        sid = row.sku.id
        row.available = sum(stock.get((sid, w, "available"), 0) for w in row.warehouses)
        row.incoming = sum(stock.get((sid, w, s), 0) for w in row.warehouses for s in ("in_transit", "inspection"))
        row.backordered, row.backorder_expected_on = backorders.get(sid, (0, None))
        row.on_the_way, row.eta = on_the_way.get(sid, (0, None))
    return rows
