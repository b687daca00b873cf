"""Spare parts used on a service ticket or a maintenance visit: taken out of a warehouse's
available stock (one ``service_use`` ledger row per lot, first expiry first out unless the
engineer names the lot) and recorded as ``service_parts`` rows, charged or not.

One call is all or nothing: a line that cannot be served refuses the whole call with the
row and field that caused it, before anything moves.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.catalog.models import Sku
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.money import fen
from app.inventory.models import Lot, Warehouse
from app.inventory.operations import locked_balances, move
from app.inventory.rules import Candidate, Pick, fefo_pick
from app.service.models import ServicePart, ServiceTicket, ServiceVisit


@dataclass(frozen=True)
class PartLine:
    """One part as the engineer enters it: ``lot_id`` None means first expiry first out
    in the warehouse; ``unit_price`` None means free of charge."""
    sku_id: int
    quantity: int
    warehouse_id: int
    lot_id: int | None = None
    unit_price: Decimal | None = None


class PartsRefused(InvalidInput):
    """A line of the parts list cannot be served: ``row`` is its index (0-based)."""

    def __init__(self, row: int, field: str, message: str):
        super().__init__(field, message)
        self.row = row


def use_parts(session: Session, *, ticket: ServiceTicket | None = None, visit: ServiceVisit | None = None,
              lines: list[PartLine], actor_id: int | None, charged: bool = False) -> list[ServicePart]:
    """Take ``lines`` out of stock for ``ticket`` or ``visit`` (exactly one) and record
    them. ``charged``: the owner's warranty standing makes the hospital pay for parts."""
    if (ticket is None) == (visit is None):
        raise ValueError("use_parts needs exactly one of ticket, visit")
    if not lines:
        raise PartsRefused(0, "sku_id", _("Add at least one part."))
    taken: dict[tuple[int, int], int] = {}  # what earlier lines of this call already take
    checked = [_check(session, i, line, taken) for i, line in enumerate(lines)]
    ref = ("service_tickets", ticket.id) if ticket is not None else ("service_visits", visit.id)
    why = (_("Service ticket %(number)s", number=ticket.number) if ticket is not None
           else _("Maintenance visit on %(day)s", day=visit.due_on.isoformat()))
    parts = []
    for line, sku, picks in checked:
        price = fen(line.unit_price) if (charged and line.unit_price is not None) else Decimal("0.00")
        for pick in picks:
            movement = move(session, "service_use", pick.warehouse_id, pick.lot_id, pick.quantity, "available", None,
                            why, ref, actor_id)
            part = ServicePart(ticket_id=ticket.id if ticket is not None else None,
                               visit_id=visit.id if visit is not None else None, sku_id=sku.id, lot_id=pick.lot_id,
                               warehouse_id=pick.warehouse_id, quantity=pick.quantity, movement_id=movement.id,
                               unit_price=price, charged=charged and line.unit_price is not None, used_by_id=actor_id)
            session.add(part)
            parts.append(part)
    session.flush()
    return parts


def _check(session: Session, row: int, line: PartLine, taken: dict[tuple[int, int], int]
           ) -> tuple[PartLine, Sku, list[Pick]]:
    """Refuse a line that cannot be served, and choose its lots, under the balance locks
    the moves will draw on: the named lot, or first expiry first out (never expired)."""
    sku = session.get(Sku, line.sku_id)
    if sku is None:
        raise PartsRefused(row, "sku_id", _("Choose a product."))
    if not isinstance(line.quantity, int) or line.quantity <= 0:
        raise PartsRefused(row, "quantity", _("Give a whole number of units above zero."))
    if line.unit_price is not None and fen(line.unit_price) < 0:
        raise PartsRefused(row, "unit_price", _("A price cannot be negative."))
    warehouse = session.get(Warehouse, line.warehouse_id)
    if warehouse is None or warehouse.status != "active" or warehouse.kind == "consignment":
        raise PartsRefused(row, "warehouse_id", _("Choose one of the manufacturer's active warehouses."))
    candidates = [Candidate(b.warehouse_id, b.lot_id, b.expires_on, b.quantity - taken.get((b.warehouse_id, b.lot_id), 0))
                  for b in locked_balances(session, sku.id, [warehouse.id])]
    if line.lot_id is not None:
        lot = session.get(Lot, line.lot_id)
        if lot is None or lot.sku_id != sku.id:
            raise PartsRefused(row, "lot_id", _("That lot is not one of %(sku)s.", sku=sku.code))
        candidates = [c for c in candidates if c.lot_id == lot.id]
    picks = fefo_pick(candidates, line.quantity, shanghai_today())
    have = sum(p.quantity for p in picks)
    if have < line.quantity:
        raise PartsRefused(row, "quantity", _("Only %(have)d of %(sku)s usable in %(warehouse)s.",
                                              have=have, sku=sku.code, warehouse=warehouse.name))
    for p in picks:
        taken[(p.warehouse_id, p.lot_id)] = taken.get((p.warehouse_id, p.lot_id), 0) + p.quantity
    return line, sku, picks


def parts_of(session: Session, *, ticket_id: int | None = None, visit_id: int | None = None) -> list[ServicePart]:
    """The parts used on a ticket or a visit, in the order they were used, with their
    product and lot (what the ticket page lists) loaded in the same query."""
    stmt = select(ServicePart).options(joinedload(ServicePart.sku), joinedload(ServicePart.lot)).order_by(ServicePart.id)
    stmt = stmt.where(ServicePart.ticket_id == ticket_id) if ticket_id is not None else stmt.where(
        ServicePart.visit_id == visit_id)
    return list(session.scalars(stmt))
