"""Writes to stock. Everything goes through ``move``: one audited ledger row per change
of state; the balances follow by trigger. Functions validate, change, flush and never
commit; input a user can fix is refused with ``InvalidInput(field, message)``.

Concurrency: whoever takes units out of a balance first locks the balance rows it reads
(``SELECT … FOR UPDATE`` in a fixed order), so two orders racing for the last units are
served one after the other and the second sees what the first left.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.inventory.models import DealerWarehouse, Lot, StockBalance, StockMovement, Warehouse
from app.inventory.rules import Candidate, Pick, Udi, fefo_pick


def move(session: Session, kind: str, warehouse_id: int, lot: Lot | int, quantity: int, from_state: str | None,
         to_state: str | None, reason: str | None = None, ref: tuple[str, int] | None = None,
         actor_id: int | None = None) -> StockMovement:
    """Record one ledger row. The balance it draws on must hold the units (the trigger
    refuses otherwise, and the caller should have checked under lock)."""
    lot_row = lot if isinstance(lot, Lot) else session.get(Lot, lot)
    movement = StockMovement(kind=kind, warehouse_id=warehouse_id, lot_id=lot_row.id, sku_id=lot_row.sku_id,
                             from_state=from_state, to_state=to_state, quantity=quantity, reason=reason,
                             ref_type=ref[0] if ref else None, ref_id=ref[1] if ref else None, actor_id=actor_id)
    session.add(movement)
    session.flush()
    return movement


def lot_for(session: Session, sku: Sku, lot_no: str | None, serial_no: str | None = None,
            manufactured_on: date | None = None, expires_on: date | None = None) -> Lot:
    """The lot (or serial unit) of a SKU, created on first sight. A known lot keeps its
    dates: a receipt that states different ones is refused rather than silently merged."""
    if sku.tracking == "serial" and not serial_no:
        raise InvalidInput("serial_no", _("%(sku)s is serial-controlled: give each unit's serial number.", sku=sku.code))
    if sku.tracking == "lot" and not lot_no:
        raise InvalidInput("lot_no", _("Give the lot number."))
    existing = session.scalar(select(Lot).where(Lot.sku_id == sku.id, Lot.lot_no.is_not_distinct_from(lot_no),
                                                Lot.serial_no.is_not_distinct_from(serial_no)))
    if existing is not None:
        if expires_on and existing.expires_on and expires_on != existing.expires_on:
            raise InvalidInput("expires_on", _("Lot %(lot)s is already recorded as expiring on %(day)s.",
                                               lot=lot_no or serial_no, day=existing.expires_on.isoformat()))
        return existing
    if sku.shelf_life_months and expires_on is None:
        raise InvalidInput("expires_on", _("Give the expiry date: %(sku)s has a limited shelf life.", sku=sku.code))
    lot = Lot(sku_id=sku.id, lot_no=lot_no, serial_no=serial_no, manufactured_on=manufactured_on, expires_on=expires_on)
    session.add(lot)
    session.flush()
    return lot


def lot_from_udi(session: Session, udi: Udi) -> Lot:
    sku = session.scalar(select(Sku).where(Sku.udi_di == udi.gtin))
    if sku is None:
        raise InvalidInput("udi", _("No product has the device identifier %(gtin)s.", gtin=udi.gtin))
    return lot_for(session, sku, udi.lot, udi.serial, udi.manufactured_on, udi.expires_on)


def receive(session: Session, warehouse: Warehouse, lot: Lot, quantity: int, reason: str | None = None,
            ref: tuple[str, int] | None = None, actor_id: int | None = None) -> StockMovement:
    """Goods in: they wait in inspection (在检) until QC releases them."""
    if quantity <= 0:
        raise InvalidInput("quantity", _("The quantity must be at least 1."))
    if lot.serial_no and quantity != 1:
        raise InvalidInput("quantity", _("A serial number is one unit."))
    return move(session, "receipt", warehouse.id, lot, quantity, None, "inspection", reason, ref, actor_id)


def locked_balances(session: Session, sku_id: int, warehouse_ids: list[int], state: str = "available") -> list[StockBalance]:
    """The SKU's balances in these warehouses, row-locked in a fixed order (so two
    transactions never wait on each other in a circle)."""
    return list(session.scalars(
        select(StockBalance)
        .where(StockBalance.sku_id == sku_id, StockBalance.state == state, StockBalance.warehouse_id.in_(warehouse_ids),
               StockBalance.quantity > 0)
        .order_by(StockBalance.warehouse_id, StockBalance.lot_id)
        .with_for_update()))


def serving_warehouse_ids(session: Session, dealer_id: int) -> list[int]:
    """The dealer's serving warehouses, or every active central warehouse."""
    ids = list(session.scalars(
        select(DealerWarehouse.warehouse_id).join(Warehouse, Warehouse.id == DealerWarehouse.warehouse_id)
        .where(DealerWarehouse.dealer_id == dealer_id, Warehouse.status == "active")))
    if ids:
        return ids
    return list(session.scalars(select(Warehouse.id).where(Warehouse.kind == "central", Warehouse.status == "active")))


@dataclass(frozen=True)
class Taken:
    picks: list[Pick]
    short: int


def take_fefo(session: Session, sku_id: int, warehouse_ids: list[int], quantity: int, to_state: str | None, kind: str,
              ref: tuple[str, int] | None = None, min_shelf_days: int = 0, day: date | None = None,
              actor_id: int | None = None, reason: str | None = None) -> Taken:
    """Move up to ``quantity`` available units of a SKU, first expiry first out across
    the warehouses, into ``to_state`` (``allocated`` for an order, None when they leave).
    Returns the picks and how many units could not be found (to back-order)."""
    balances = locked_balances(session, sku_id, warehouse_ids)
    candidates = [Candidate(b.warehouse_id, b.lot_id, b.expires_on, b.quantity) for b in balances]
    picks = fefo_pick(candidates, quantity, day or shanghai_today(), min_shelf_days)
    for pick in picks:
        move(session, kind, pick.warehouse_id, pick.lot_id, pick.quantity, "available", to_state, reason, ref, actor_id)
    return Taken(picks, quantity - sum(p.quantity for p in picks))
