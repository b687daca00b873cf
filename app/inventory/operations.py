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
from sqlalchemy import func, select
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
    transactions never wait on each other in a circle). Lots under a recall are never
    offered: whatever is available of them may not be allocated or sent anywhere."""
    from app.service.recall_queries import blocked_lot_ids

    stmt = (select(StockBalance)
            .where(StockBalance.sku_id == sku_id, StockBalance.state == state,
                   StockBalance.warehouse_id.in_(warehouse_ids), StockBalance.quantity > 0)
            .order_by(StockBalance.warehouse_id, StockBalance.lot_id))
    if state == "available":
        stmt = stmt.where(StockBalance.lot_id.not_in(blocked_lot_ids(sku_id)))
    return list(session.scalars(stmt.with_for_update()))


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


# --- warehouses ---------------------------------------------------------------------------------

WAREHOUSE_FIELDS = ("code", "name", "kind", "region_id", "address", "contact_name", "contact_phone", "hospital_id",
                    "dealer_id", "status")


def save_warehouse(session: Session, values: dict, warehouse: Warehouse | None = None) -> Warehouse:
    """Create a warehouse or change one; ``values`` holds the form's fields (absent
    ones keep their value)."""
    from app.channel.models import Dealer, Hospital, Region
    from app.core import coerce
    from app.core.db import ensure_unique
    from app.inventory.models import WAREHOUSE_KINDS

    current = {f: getattr(warehouse, f) for f in WAREHOUSE_FIELDS} if warehouse else {"kind": "regional", "status": "active"}
    merged = {**current, **values}
    code = coerce.text(merged, "code", required=True, max_length=30)
    name = coerce.text(merged, "name", required=True, max_length=200)
    kind = coerce.choice(merged, "kind", WAREHOUSE_KINDS, default="regional")
    status = coerce.choice(merged, "status", ("active", "inactive"), default="active")
    region_id = coerce.ident(merged, "region_id", required=True)
    if session.get(Region, region_id) is None:
        raise InvalidInput("region_id", _("Choose a valid option."))
    hospital_id = coerce.ident(merged, "hospital_id") if kind == "consignment" else None
    dealer_id = coerce.ident(merged, "dealer_id") if kind == "consignment" else None
    if hospital_id and session.get(Hospital, hospital_id) is None:
        raise InvalidInput("hospital_id", _("Choose a valid option."))
    if dealer_id and session.get(Dealer, dealer_id) is None:
        raise InvalidInput("dealer_id", _("Choose a valid option."))
    if kind == "consignment" and not (hospital_id or dealer_id):
        raise InvalidInput("hospital_id", _("A consignment location is at a hospital or with a dealer: choose one."))
    ensure_unique(session, Warehouse, Warehouse.code, code, warehouse.id if warehouse else None, "code",
                  _("Another warehouse has the code %(code)s.", code=code))
    target = warehouse or Warehouse()
    for name_, value in dict(code=code, name=name, kind=kind, status=status, region_id=region_id,
                             address=coerce.text(merged, "address", max_length=300),
                             contact_name=coerce.text(merged, "contact_name", max_length=100),
                             contact_phone=coerce.text(merged, "contact_phone", max_length=40),
                             hospital_id=hospital_id, dealer_id=dealer_id).items():
        if getattr(target, name_) != value:
            setattr(target, name_, value)
    if warehouse is None:
        session.add(target)
    session.flush()
    return target


def link_dealer(session: Session, warehouse: Warehouse, dealer_id: int) -> DealerWarehouse:
    """Let ``warehouse`` serve the dealer's orders (FEFO looks across all its warehouses)."""
    from app.channel.models import Dealer

    if session.get(Dealer, dealer_id) is None:
        raise InvalidInput("dealer_id", _("Choose a valid option."))
    existing = session.scalar(select(DealerWarehouse).where(DealerWarehouse.dealer_id == dealer_id,
                                                           DealerWarehouse.warehouse_id == warehouse.id))
    if existing is not None:
        raise InvalidInput("dealer_id", _("This warehouse already serves that dealer."))
    link = DealerWarehouse(dealer_id=dealer_id, warehouse_id=warehouse.id)
    session.add(link)
    session.flush()
    return link


def unlink_dealer(session: Session, warehouse: Warehouse, dealer_id: int) -> None:
    link = session.scalar(select(DealerWarehouse).where(DealerWarehouse.dealer_id == dealer_id,
                                                       DealerWarehouse.warehouse_id == warehouse.id))
    if link is None:
        raise InvalidInput("dealer_id", _("This warehouse does not serve that dealer."))
    session.delete(link)
    session.flush()


def set_safety_stock(session: Session, warehouse: Warehouse, sku_id: int, values: dict):
    """Set (or with an empty value, remove) the SKU's safety stock in the warehouse."""
    from app.core import coerce
    from app.inventory.models import StockThreshold

    if session.get(Sku, sku_id) is None:
        raise InvalidInput("safety_quantity", _("Choose a valid option."))
    quantity = coerce.whole(values, "safety_quantity", 0, 10_000_000)
    row = session.scalar(select(StockThreshold).where(StockThreshold.warehouse_id == warehouse.id,
                                                      StockThreshold.sku_id == sku_id))
    if quantity is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(StockThreshold(warehouse_id=warehouse.id, sku_id=sku_id, safety_quantity=quantity))
    elif row.safety_quantity != quantity:
        row.safety_quantity = quantity
    session.flush()


INVENTORY_SETTINGS = {"near_expiry_days": (1, 730), "slow_moving_days": (1, 1095), "default_min_shelf_days": (0, 1095)}


def save_inventory_settings(session: Session, values: dict) -> dict[str, int]:
    from app.core import coerce
    from app.core.settings import put_setting

    parsed = {name: coerce.whole(values, name, low, high, required=True) for name, (low, high) in INVENTORY_SETTINGS.items()}
    for name, value in parsed.items():
        put_setting(session, name, value)
    return parsed


# --- goods receipt and changes of state -------------------------------------------------------

def _reason(value, required: bool = True) -> str | None:
    text_ = (value or "").strip() if isinstance(value, str) else value
    if not text_:
        if required:
            raise InvalidInput("reason", _("Give the reason: it goes into the stock ledger and the audit trail."))
        return None
    if len(text_) > 500:
        raise InvalidInput("reason", _("Use at most %(n)d characters.", n=500))
    return text_


def _quantity(value) -> int:
    from app.core import coerce

    return coerce.whole({"quantity": value}, "quantity", 1, 10_000_000, required=True)


def receive_goods(session: Session, warehouse: Warehouse, values: dict, actor_id: int | None = None) -> StockMovement:
    """Goods receipt (入库) into inspection: the lot from a scanned UDI string, or from
    the SKU, lot or serial number and dates typed in."""
    from app.core import coerce
    from app.inventory.rules import UdiError, parse_udi

    if warehouse.status != "active":
        raise InvalidInput("warehouse_id", _("This warehouse is inactive."))
    quantity = _quantity(values.get("quantity"))
    why = _reason(values.get("reason"), required=False) or _("Goods receipt")
    udi_text = (values.get("udi") or "").strip()
    if udi_text:
        try:
            udi = parse_udi(udi_text.replace("<GS>", "\x1d"))
        except UdiError as err:
            raise InvalidInput("udi", str(err)) from None
        try:
            lot = lot_from_udi(session, udi)
        except InvalidInput as err:  # the UDI names a lot the product refuses: say so by the UDI field
            raise InvalidInput("udi", err.message) from None
    else:
        sku_id = coerce.ident(values, "sku_id", required=True)
        sku = session.get(Sku, sku_id)
        if sku is None:
            raise InvalidInput("sku_id", _("Choose a valid option."))
        lot_no = coerce.text(values, "lot_no", max_length=20)
        serial_no = coerce.text(values, "serial_no", max_length=20)
        if not lot_no and not serial_no:
            raise InvalidInput("lot_no", _("Give the lot number or the serial number."))
        made, expires = coerce.day(values, "manufactured_on"), coerce.day(values, "expires_on")
        if made and expires and expires <= made:
            raise InvalidInput("expires_on", _("The expiry date must come after the manufacture date."))
        lot = lot_for(session, sku, lot_no, serial_no, made, expires)
    if lot.serial_no and session.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0))
                                        .where(StockBalance.lot_id == lot.id)):
        raise InvalidInput("udi" if udi_text else "serial_no",
                           _("Serial number %(serial)s is already in stock.", serial=lot.serial_no))
    from app.compliance.operations import reason

    with reason(session, why):
        return receive(session, warehouse, lot, quantity, why, actor_id=actor_id)


#: the changes of state a user makes on a lot: kind → (from states allowed, to state,
#: reason required). None as a from state means "the user picks it".
STATE_CHANGES = {
    "qc_release": (("inspection",), "available", False),
    "qc_reject": (("inspection",), "quarantined", True),
    "quarantine": (("available",), "quarantined", True),
    "release": (("quarantined",), "available", True),
    "adjustment_in": ((None,), "available", True),
    "adjustment_out": (("inspection", "available", "quarantined", "expired"), None, True),
    "scrap": (("quarantined", "expired"), None, True),
}


def change_state(session: Session, kind: str, warehouse_id: int, lot_id: int, quantity, reason_text: str | None,
                 from_state: str | None = None, actor_id: int | None = None, ref: tuple[str, int] | None = None) -> StockMovement:
    """QC release/reject, quarantine/release, adjustment in or out, scrap: one ledger
    row, checked against the balance under a row lock so two users cannot take the same
    units."""
    from app.compliance.operations import reason

    if kind not in STATE_CHANGES:
        raise InvalidInput("kind", _("Choose a valid option."))
    sources, to_state, needs_reason = STATE_CHANGES[kind]
    quantity = _quantity(quantity)
    why = _reason(reason_text, required=needs_reason) or _("QC release")
    if sources == (None,):
        from_state = None
    elif len(sources) == 1:
        from_state = sources[0]
    elif from_state not in sources:
        raise InvalidInput("from_state", _("Choose one of: %(choices)s.", choices=", ".join(sources)))
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise InvalidInput("lot_id", _("Choose a valid option."))
    if to_state == "available" and lot.expires_on is not None and lot.expires_on < shanghai_today():
        raise InvalidInput("form", _("Lot %(lot)s expired on %(day)s: it cannot be made available.",
                                     lot=lot.lot_no or lot.serial_no, day=lot.expires_on.isoformat()))
    if from_state is not None:
        balance = session.scalar(select(StockBalance).where(
            StockBalance.warehouse_id == warehouse_id, StockBalance.lot_id == lot_id, StockBalance.state == from_state)
            .with_for_update())
        held = balance.quantity if balance is not None else 0
        if quantity > held:
            raise InvalidInput("quantity", _("Only %(n)d units are in this state; %(q)d cannot be moved.", n=held, q=quantity))
    if lot.serial_no and from_state is None:
        held = session.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(StockBalance.lot_id == lot.id))
        if quantity != 1 or held:
            raise InvalidInput("quantity", _("A serial number is one unit."))
    movement_kind = "adjustment" if kind.startswith("adjustment") else kind
    with reason(session, why):
        return move(session, movement_kind, warehouse_id, lot, quantity, from_state, to_state, why, ref, actor_id)


def expire_stock(session: Session, day: date, actor_id: int | None = None) -> int:
    """Move every available unit of lots that expired before ``day`` into ``expired``
    (movement kind "expiry"). Safe to run twice: the second run finds nothing."""
    from app.compliance.operations import reason
    from app.inventory.queries import expired_available

    moved = 0
    why = _("Expired")
    with reason(session, why):
        for balance in expired_available(session, day):
            move(session, "expiry", balance.warehouse_id, balance.lot_id, balance.quantity, "available", "expired",
                 why, actor_id=actor_id)
            moved += 1
    return moved
