"""Fulfilment writes: shipments (发货), delivery confirmation (签收) and returns (退货)
with their credit notes. Functions validate, change, flush and never commit; input a
user can fix is refused with ``InvalidInput(field, message)``.

Life of a shipment: ``create_shipment`` packs allocated units of one warehouse (status
``packed``; an allocation packed in part is split so that each allocation belongs to at
most one open shipment) and asks for the packing list PDF; ``ship_shipment`` takes the
units out of the warehouse (movement ``shipment`` allocated → out), moves the order's
line counters and issues the shipment's invoice (``app.finance.invoices``);
``confirm_delivery`` records the signature, what arrived and any discrepancy; a
discrepancy opens a return (a claim) at once.

Quantities at delivery: ``ShipmentLine.received_quantity`` is what physically arrived
(damaged or wrong-lot units included: they are there and go back through the return);
a *short* line received fewer. ``OrderLine.delivered_quantity`` counts units *signed
for* (the whole shipment line), so an order with a short delivery still reaches
``delivered``; the missing units are settled by the short claim's credit note.

A short claim has nothing to send back: it goes requested → approved → credited without
a receipt, and since ``received_quantity`` already leaves the missing units out, sell-in
must not subtract it again (returns with reason ``short``). Dealers cannot request a
return for reason ``short`` by hand: it only comes from a signed delivery.
"""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from app.channel.queries import ChannelScope
from app.compliance import approvals
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.money import fen
from app.core.i18n import shanghai_today
from app.core.jobs import request_job
from app.core.numbering import assign_number
from app.finance.invoices import credit_note_for_return, invoice_shipment
from app.inventory.models import Warehouse
from app.inventory.operations import move
from app.orders.jobs import PACKING_LIST_JOB  # importing it registers the packing list job
from app.orders.events import add_event
from app.orders.models import (
    DISCREPANCIES,
    RETURN_REASONS,
    Allocation,
    Order,
    OrderLine,
    ReturnLine,
    ReturnRequest,
    Shipment,
    ShipmentLine,
)

from app.orders.operations import refresh_status
from app.service.installed import units_from_delivery

#: manufacturer roles that pack and ship (regional managers within their regions)
SHIPPERS = ("admin", "channel_manager", "regional_manager")
#: manufacturer roles that take returned goods back in (into inspection)
RETURN_RECEIVERS = ("admin", "channel_manager", "regional_manager", "qa_ra")
#: manufacturer roles that issue the credit note
CREDITORS = ("admin", "channel_manager", "finance")
#: reasons a dealer may give by hand (``short`` comes only from a signed delivery)
DEALER_RETURN_REASONS = tuple(r for r in RETURN_REASONS if r != "short")

_COLD = re.compile(r"2\s*[-~～–—至]\s*8|冷")


def needs_cold_chain(storage_texts) -> bool:
    """Whether any of these storage conditions asks for 2–8 ℃ (冷藏/冷链)."""
    return any(text and _COLD.search(text) for text in storage_texts)


def _lock(session: Session, model, row_id: int):
    """Row-lock a record and give it back fresh (two clerks acting on the same shipment
    or return are served one after the other)."""
    session.execute(select(model.id).where(model.id == row_id).with_for_update())
    return session.get(model, row_id, populate_existing=True)


# --- shipments -------------------------------------------------------------------------------

def open_allocations(session: Session, order: Order) -> list[Allocation]:
    """The order's allocated units not yet in an open (packed) shipment, by warehouse and
    expiry: what can be packed now."""
    packed = select(ShipmentLine.allocation_id).join(Shipment, Shipment.id == ShipmentLine.shipment_id).where(
        Shipment.order_id == order.id, Shipment.status == "packed", ShipmentLine.allocation_id.is_not(None))
    return list(session.scalars(
        select(Allocation).join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .where(OrderLine.order_id == order.id, Allocation.status == "allocated", Allocation.id.not_in(packed))
        .order_by(Allocation.warehouse_id, OrderLine.line_no, Allocation.id)))


def create_shipment(session: Session, order: Order, warehouse_id: int, quantities: dict[int, int], actor=None,
                    carrier: str | None = None, tracking_no: str | None = None, eta: date | None = None,
                    cold_chain: bool | None = None, ship_direct: bool = False, note: str | None = None) -> Shipment:
    """Pack allocated units of one warehouse: ``quantities`` maps allocation id → units
    (0 or missing: not in this shipment). ``cold_chain`` None takes the default from the
    SKUs' storage conditions; ``ship_direct`` sends it to the hospital the order names.
    Requests the packing list PDF."""
    order = _lock(session, Order, order.id)
    if order.status in ("pending_approval", "rejected", "cancelled", "closed"):
        raise InvalidInput("form", _("Order %(number)s cannot be shipped in its current status.", number=order.number))
    warehouse = session.get(Warehouse, warehouse_id) if isinstance(warehouse_id, int) and not isinstance(warehouse_id, bool) else None
    if warehouse is None:
        raise InvalidInput("warehouse_id", _("Choose the warehouse the units leave from."))
    available = {a.id: a for a in open_allocations(session, order)}
    chosen = []
    for allocation_id, quantity in quantities.items():
        if not quantity:
            continue
        allocation = available.get(allocation_id)
        if allocation is None:
            raise InvalidInput(f"qty_{allocation_id}", _("These units are not allocated to this order any more."))
        if allocation.warehouse_id != warehouse_id:
            raise InvalidInput(f"qty_{allocation_id}", _("A shipment leaves from one warehouse: pick units of %(warehouse)s only.",
                                                         warehouse=warehouse.name))
        if quantity < 0 or quantity > allocation.quantity:
            raise InvalidInput(f"qty_{allocation_id}", _("Ship from 0 to %(n)d units: that is what is allocated.",
                                                         n=allocation.quantity))
        chosen.append((allocation, quantity))
    if not chosen:
        raise InvalidInput("form", _("Choose at least one allocated unit to ship."))
    if ship_direct and order.hospital_id is None:
        raise InvalidInput("ship_direct", _("The order names no hospital: ship to the dealer."))
    if cold_chain is None:
        cold_chain = needs_cold_chain(a.lot.sku.storage for a, _q in chosen)

    shipment = Shipment(order_id=order.id, dealer_id=order.dealer_id, hospital_id=order.hospital_id,
                        ship_to="hospital" if ship_direct else "dealer", warehouse_id=warehouse_id, status="packed", carrier=carrier, tracking_no=tracking_no, eta=eta,
                        cold_chain=cold_chain, delivery_note=note)
    assign_number(session, shipment, "SH")
    session.add(shipment)
    session.flush()
    for allocation, quantity in chosen:
        if quantity < allocation.quantity:  # packed in part: the rest stays allocated on its own row
            allocation.quantity -= quantity
            allocation = Allocation(order_line_id=allocation.order_line_id, warehouse_id=allocation.warehouse_id,
                                    lot_id=allocation.lot_id, quantity=quantity, status="allocated")
            session.add(allocation)
            session.flush()
        line = session.get(OrderLine, allocation.order_line_id)
        session.add(ShipmentLine(shipment_id=shipment.id, order_line_id=line.id, allocation_id=allocation.id,
                                 sku_id=line.sku_id, lot_id=allocation.lot_id, quantity=quantity))
    session.flush()
    add_event(session, order, "packed", getattr(actor, "id", None), shipment=shipment.number,
              units=sum(q for _a, q in chosen))
    request_packing_list(session, shipment, actor)
    return shipment


def request_packing_list(session: Session, shipment: Shipment, requested_by=None, request_id: str | None = None):
    """Ask for the packing list (装箱单) PDF; the dealer and the hospital the order names
    may download it too."""
    job = request_job(session, PACKING_LIST_JOB, {"shipment_id": shipment.id},
                      request_id or f"packing-list-{shipment.id}", requested_by=requested_by,
                      entity=("shipments", str(shipment.id)))
    job.dealer_id = shipment.dealer_id
    job.hospital_id = shipment.hospital_id
    session.flush()
    return job


def ship_shipment(session: Session, shipment: Shipment, actor=None, carrier: str | None = None,
                  tracking_no: str | None = None, eta: date | None = None, day: date | None = None) -> Shipment:
    """The packed units leave the warehouse: one ``shipment`` movement per line
    (allocated → out), allocations shipped, order lines moved on, the timeline told, and
    the shipment invoiced (dated ``day``, the Shanghai business day, by default today)."""
    shipment = _lock(session, Shipment, shipment.id)
    if shipment.status != "packed":
        raise InvalidInput("form", _("Shipment %(number)s is not waiting to ship.", number=shipment.number))
    carrier, tracking_no = carrier or shipment.carrier, tracking_no or shipment.tracking_no
    if not carrier:
        raise InvalidInput("carrier", _("Name the carrier."))
    if not tracking_no:
        raise InvalidInput("tracking_no", _("Give the tracking number."))
    shipment.carrier, shipment.tracking_no, shipment.eta = carrier, tracking_no, eta or shipment.eta
    today = day or shanghai_today()
    for line in shipment.lines:
        if line.lot.expires_on is not None and line.lot.expires_on < today:
            raise InvalidInput("form", _("Lot %(lot)s of %(sku)s expired on %(day)s and may not ship: cancel this shipment and "
                                         "allocate the order again.", lot=line.lot.lot_no or line.lot.serial_no,
                                         sku=line.sku.code, day=line.lot.expires_on.isoformat()))
    order = _lock(session, Order, shipment.order_id)
    actor_id = getattr(actor, "id", None)
    for line in shipment.lines:
        allocation = _lock(session, Allocation, line.allocation_id) if line.allocation_id else None
        if allocation is None or allocation.status != "allocated" or allocation.quantity != line.quantity:
            raise InvalidInput("form", _("The units packed for line %(sku)s are no longer allocated.", sku=line.sku.code))
        move(session, "shipment", shipment.warehouse_id, line.lot_id, line.quantity, "allocated", None,
             ref=("shipments", shipment.id), actor_id=actor_id)
        allocation.status = "shipped"
        order_line = session.get(OrderLine, line.order_line_id)
        order_line.allocated_quantity -= line.quantity
        order_line.shipped_quantity += line.quantity
    shipment.status = "shipped"
    shipment.shipped_at = session.scalar(select(func.now()))
    session.flush()
    add_event(session, order, "shipped", actor_id, shipment=shipment.number, carrier=shipment.carrier,
              tracking_no=shipment.tracking_no, eta=shipment.eta.isoformat() if shipment.eta else None)
    refresh_status(session, order)
    invoice_shipment(session, shipment, actor, day=today)
    return shipment


def cancel_shipment(session: Session, shipment: Shipment, actor=None) -> Shipment:
    """Unpack a shipment not yet shipped: its units stay allocated to the order."""
    shipment = _lock(session, Shipment, shipment.id)
    if shipment.status != "packed":
        raise InvalidInput("form", _("Only a packed shipment can be cancelled."))
    shipment.status = "cancelled"
    session.flush()
    add_event(session, shipment.order, "shipment_cancelled", getattr(actor, "id", None), shipment=shipment.number)
    return shipment


# --- delivery confirmation (签收) --------------------------------------------------------------

def may_sign(user, shipment: Shipment) -> bool:
    """The dealer signs for shipments to it, the hospital for shipments to it."""
    if shipment.status != "shipped":
        return False
    if user.portal == "dealer":
        return shipment.ship_to == "dealer" and shipment.dealer_id == user.dealer_id
    if user.portal == "hospital":
        return shipment.ship_to == "hospital" and shipment.hospital_id == user.hospital_id
    return False


def delivery_lines(form, shipment: Shipment) -> dict[int, dict]:
    """The sign-off form's fields (received_<line id>, discrepancy_<id>, affected_<id>,
    note_<id>) as ``confirm_delivery`` takes them."""
    return {line.id: {"received": form.get(f"received_{line.id}"), "discrepancy": form.get(f"discrepancy_{line.id}"),
                      "affected": form.get(f"affected_{line.id}"), "note": form.get(f"note_{line.id}")}
            for line in shipment.lines}


def confirm_delivery(session: Session, shipment: Shipment, user, signer_name: str | None,
                     lines: dict[int, dict], note: str | None = None) -> list[ReturnRequest]:
    """Sign for a shipment. ``lines`` maps shipment line id → {"received": int,
    "discrepancy": None|short|damaged|wrong_lot, "affected": int (damaged/wrong lot units),
    "note": str} (numbers may be form text); a line not given arrived complete. Opens one return per kind of
    discrepancy and returns them."""
    shipment = _lock(session, Shipment, shipment.id)
    if not may_sign(user, shipment):
        raise InvalidInput("form", _("This shipment is not waiting for your signature."))
    signer_name = (signer_name or "").strip() or user.name
    if len(signer_name) > 100:
        raise InvalidInput("signer_name", _("Use at most %(n)d characters.", n=100))
    problems: dict[str, list[tuple[ShipmentLine, int]]] = defaultdict(list)
    notes: dict[str, list[str]] = defaultdict(list)
    for line in shipment.lines:
        given = lines.get(line.id) or {}
        field = f"received_{line.id}"
        received = coerce.whole({field: given.get("received")}, field, 0, line.quantity, default=line.quantity)
        discrepancy = given.get("discrepancy") or None
        if discrepancy is not None and discrepancy not in DISCREPANCIES:
            raise InvalidInput(f"discrepancy_{line.id}", _("Choose one of: %(choices)s.", choices=", ".join(DISCREPANCIES)))
        line_note = (given.get("note") or "").strip() or None
        if discrepancy is None and received < line.quantity:
            raise InvalidInput(field, _("Fewer units than shipped: mark the line as short."))
        if discrepancy == "short":
            if received == line.quantity:
                raise InvalidInput(field, _("A short line received fewer units than were shipped."))
            affected = line.quantity - received
        elif discrepancy is not None:
            if received == 0:
                raise InvalidInput(field, _("Damaged or wrong-lot units arrived: count them as received."))
            affected_field = f"affected_{line.id}"
            affected = coerce.whole({affected_field: given.get("affected")}, affected_field, 1, received, default=received)
        line.received_quantity, line.discrepancy = received, discrepancy
        line.discrepancy_note = line_note[:2000] if line_note else None
        if discrepancy:
            problems[discrepancy].append((line, affected))
            if line_note:
                notes[discrepancy].append(f"{line.sku.code} {line.lot.lot_no or line.lot.serial_no}: {line_note}")
        order_line = session.get(OrderLine, line.order_line_id)
        order_line.delivered_quantity += line.quantity
    order = _lock(session, Order, shipment.order_id)
    shipment.status = "delivered"
    shipment.delivered_at = session.scalar(select(func.now()))
    shipment.signed_by_name, shipment.signed_by_id = signer_name, user.id
    shipment.delivery_note = (note or "").strip()[:2000] or shipment.delivery_note
    session.flush()
    units_from_delivery(session, shipment, user.id)
    add_event(session, order, "discrepancy" if problems else "delivered", user.id, shipment=shipment.number,
              signer=signer_name, discrepancies=sorted(problems))
    opened = [_open_return(session, order, shipment, user, reason, picked, "\n".join(notes[reason]) or None)
              for reason, picked in problems.items()]
    refresh_status(session, order)
    return opened


# --- returns (退货) ----------------------------------------------------------------------------

def returnable(session: Session, shipment_line_ids: list[int]) -> dict[int, int]:
    """Units of each delivered shipment line that may still go back: received minus
    what open or settled returns already take (short claims take nothing received)."""
    if not shipment_line_ids:
        return {}
    taken = dict(session.execute(
        select(ReturnLine.shipment_line_id, func.sum(ReturnLine.quantity))
        .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
        .where(ReturnLine.shipment_line_id.in_(shipment_line_ids), ReturnRequest.status != "rejected",
               ReturnRequest.reason != "short")
        .group_by(ReturnLine.shipment_line_id)).all())
    rows = session.execute(select(ShipmentLine.id, ShipmentLine.received_quantity, ShipmentLine.quantity)
                           .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
                           .where(ShipmentLine.id.in_(shipment_line_ids), Shipment.status == "delivered"))
    return {i: max(0, (received if received is not None else quantity) - int(taken.get(i, 0)))
            for i, received, quantity in rows}


def _open_return(session: Session, order: Order, shipment: Shipment | None, user, reason: str,
                 picked: list[tuple[ShipmentLine, int]], note: str | None) -> ReturnRequest:
    ret = ReturnRequest(dealer_id=order.dealer_id, order_id=order.id, shipment_id=shipment.id if shipment else None,
                        reason=reason, note=note, status="requested", requested_by_id=user.id)
    assign_number(session, ret, "RT")
    session.add(ret)
    session.flush()
    for line, quantity in picked:
        price = session.get(OrderLine, line.order_line_id).unit_price
        session.add(ReturnLine(return_id=ret.id, shipment_line_id=line.id, sku_id=line.sku_id, lot_id=line.lot_id,
                               quantity=quantity, unit_price=price))
    session.flush()
    session.refresh(ret)
    amount = return_amount(ret)
    add_event(session, order, "return_requested", user.id, number=ret.number, reason=reason, amount=str(amount))
    request = approvals.submit(session, "return_request", _("Return %(number)s", number=ret.number), user,
                               {"amount": amount}, entity=("returns", ret.id), region_id=order.dealer.region_id)
    ret.approval_request_id = request.id
    session.flush()
    return ret


def request_return(session: Session, user, shipment: Shipment, quantities: dict[int, int], reason: str,
                   note: str | None = None) -> ReturnRequest:
    """A dealer sends back units of a delivered shipment of its own: ``quantities`` maps
    shipment line id → units (at most what was received and not yet returned)."""
    shipment = _lock(session, Shipment, shipment.id)  # two requests at once: the second sees the first's return
    if user.portal != "dealer" or shipment.dealer_id != user.dealer_id or shipment.status != "delivered":
        raise InvalidInput("form", _("Only a delivered shipment of yours can be returned."))
    if reason not in DEALER_RETURN_REASONS:
        raise InvalidInput("reason", _("Choose a reason."))
    note = (note or "").strip() or None
    if reason in ("other", "quality") and not note:
        raise InvalidInput("note", _("Say what is wrong with the goods."))
    left = returnable(session, [line.id for line in shipment.lines])
    picked = []
    for line in shipment.lines:
        quantity = quantities.get(line.id) or 0
        if quantity < 0 or quantity > left.get(line.id, 0):
            raise InvalidInput(f"qty_{line.id}", _("Return from 0 to %(n)d units: that is what was received and not yet returned.",
                                                   n=left.get(line.id, 0)))
        if quantity:
            picked.append((line, quantity))
    if not picked:
        raise InvalidInput("form", _("Choose at least one unit to return."))
    return _open_return(session, shipment.order, shipment, user, reason, picked, note)


def return_amount(ret: ReturnRequest) -> Decimal:
    """Σ quantity × unit price, to the fen (ROUND_HALF_UP)."""
    total = sum((Decimal(line.quantity) * line.unit_price for line in ret.lines), Decimal("0"))
    return fen(total)


def return_decided(session: Session, request) -> None:
    """The approval engine decided a return: approved or rejected, on the order's timeline."""
    if request.entity_type != "returns" or request.entity_id is None:
        return
    ret = session.get(ReturnRequest, int(request.entity_id))
    if ret is None or ret.status != "requested":
        return
    ret.status = "approved" if request.status == "approved" else "rejected"
    session.flush()
    if ret.order_id:
        add_event(session, session.get(Order, ret.order_id), f"return_{ret.status}", None, number=ret.number)


def _warehouse_in_scope(user, warehouse: Warehouse) -> bool:
    """Whether a manufacturer user's reach covers the warehouse (its region in their regions)."""
    from app.channel.models import Region
    scope = ChannelScope.of(user)
    if scope.dealer_id is not None or scope.hospital_id is not None:
        return False
    if scope.region_paths is None:
        return True
    if warehouse.region_id is None:
        return False
    region = object_session(warehouse).get(Region, warehouse.region_id)
    return region is not None and any(region.path.startswith(p) for p in scope.region_paths)


def receive_return(session: Session, ret: ReturnRequest, warehouse_id: int, actor=None) -> ReturnRequest:
    """The goods of an approved return are back: into inspection (在检) at the chosen
    warehouse, one ``return`` movement per line."""
    ret = _lock(session, ReturnRequest, ret.id)
    if ret.status != "approved":
        raise InvalidInput("form", _("Only an approved return can be received."))
    if ret.reason == "short":
        raise InvalidInput("form", _("A short delivery has no goods to receive: credit it."))
    warehouse = session.get(Warehouse, warehouse_id) if warehouse_id else None
    if (warehouse is None or warehouse.status != "active" or warehouse.kind == "consignment"
            or (actor is not None and not _warehouse_in_scope(actor, warehouse))):
        raise InvalidInput("warehouse_id", _("Choose an active warehouse of yours (not a consignment one)."))
    actor_id = getattr(actor, "id", None)
    for line in ret.lines:
        move(session, "return", warehouse.id, line.lot_id, line.quantity, None, "inspection",
             reason=ret.number, ref=("returns", ret.id), actor_id=actor_id)
    ret.status, ret.warehouse_id = "received", warehouse.id
    ret.received_at = session.scalar(select(func.now()))
    session.flush()
    if ret.order_id:
        add_event(session, session.get(Order, ret.order_id), "returned", actor_id, number=ret.number,
                  warehouse=warehouse.code)
    return ret


def credit_return(session: Session, ret: ReturnRequest, actor=None, day: date | None = None) -> ReturnRequest:
    """Issue the credit note (贷项通知): number CN-<day>-<return id> and Σ qty × price."""
    ret = _lock(session, ReturnRequest, ret.id)
    ready = ret.status == "received" or (ret.status == "approved" and ret.reason == "short")
    if not ready:
        raise InvalidInput("form", _("Receive the goods before crediting the return."))
    ret.credit_note_no = f"CN-{(day or shanghai_today()):%Y%m%d}-{ret.id:06d}"
    ret.credit_amount = return_amount(ret)
    ret.status = "credited"
    session.flush()
    if ret.order_id:
        add_event(session, session.get(Order, ret.order_id), "credited", getattr(actor, "id", None), number=ret.number,
                  credit_note=ret.credit_note_no, amount=str(ret.credit_amount))
    credit_note_for_return(session, ret, actor, day=day)
    return ret
