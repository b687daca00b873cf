"""Consignment locations (寄售点) and their counts (盘点).

A consignment location is a warehouse of kind ``consignment`` at a hospital or held by
a dealer; its stock stays the manufacturer's until a confirmed surgery report
(app.orders.surgery) consumes it. Replenishment is a transfer into the location
(app.inventory.transfers). A count snapshots the expected quantities (available per
lot), takes the counted ones line by line, and on closing posts every variance as an
``adjustment`` movement with its reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.channel.models import Dealer, Hospital
from app.channel.queries import ChannelScope
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.inventory.models import ConsignmentCount, ConsignmentCountLine, Lot, StockBalance, Warehouse
from app.inventory.operations import move
from app.inventory.transfers import warehouse_clause

CONSIGNMENT_VIEWERS = ("admin", "channel_manager", "regional_manager", "finance", "qa_ra")
CONSIGNMENT_EDITORS = ("admin", "channel_manager")


@dataclass
class Location:
    warehouse: Warehouse
    units: int
    value: Decimal
    unpriced_units: int
    last_counted_on: date | None
    open_count_id: int | None
    pending_reports: int


def locations(session: Session, scope: ChannelScope, day: date | None = None) -> list[Location]:
    """Every consignment location in reach with its available units, their value at
    the price the holder would be charged on use, and its last closed count."""
    from app.orders.models import SurgeryReport
    from app.pricing.queries import resolve_price

    day = day or shanghai_today()
    stmt = select(Warehouse).where(Warehouse.kind == "consignment").order_by(Warehouse.code)
    clause = warehouse_clause(scope)
    if clause is not None:
        stmt = stmt.where(clause)
    found = list(session.scalars(stmt))
    ids = [w.id for w in found]
    if not ids:
        return []
    per_sku: dict[int, list] = {}
    for wid, sku_id, q in session.execute(
            select(StockBalance.warehouse_id, StockBalance.sku_id, func.sum(StockBalance.quantity))
            .where(StockBalance.warehouse_id.in_(ids), StockBalance.state == "available", StockBalance.quantity > 0)
            .group_by(StockBalance.warehouse_id, StockBalance.sku_id)):
        per_sku.setdefault(wid, []).append((sku_id, int(q)))
    counted = dict(session.execute(select(ConsignmentCount.warehouse_id, func.max(ConsignmentCount.counted_on))
                                   .where(ConsignmentCount.warehouse_id.in_(ids), ConsignmentCount.status == "closed")
                                   .group_by(ConsignmentCount.warehouse_id)).all())
    open_counts = dict(session.execute(select(ConsignmentCount.warehouse_id, func.max(ConsignmentCount.id))
                                       .where(ConsignmentCount.warehouse_id.in_(ids), ConsignmentCount.status == "open")
                                       .group_by(ConsignmentCount.warehouse_id)).all())
    pending = dict(session.execute(select(SurgeryReport.warehouse_id, func.count())
                                   .where(SurgeryReport.warehouse_id.in_(ids), SurgeryReport.status == "reported")
                                   .group_by(SurgeryReport.warehouse_id)).all())
    out = []
    for w in found:
        dealer_id, hospital_id = holder_of(session, w)
        units, value, unpriced = 0, Decimal("0.00"), 0
        for sku_id, q in per_sku.get(w.id, []):
            units += q
            price = resolve_price(session, dealer_id, hospital_id, sku_id, day).price if dealer_id else None
            if price is None:
                unpriced += q
            else:
                value += price * q
        out.append(Location(w, units, value, unpriced, counted.get(w.id), open_counts.get(w.id), pending.get(w.id, 0)))
    return out


def holder_of(session: Session, warehouse: Warehouse) -> tuple[int | None, int | None]:
    """(dealer_id, hospital_id) a use at this location is sold through / to: the dealer
    holding it, or the hospital's serving dealer for a location at a hospital."""
    if warehouse.dealer_id:
        return warehouse.dealer_id, warehouse.hospital_id
    hospital = session.get(Hospital, warehouse.hospital_id) if warehouse.hospital_id else None
    return (hospital.serving_dealer_id if hospital else None), warehouse.hospital_id


def location_for(session: Session, scope: ChannelScope, warehouse_id: int) -> Warehouse | None:
    stmt = select(Warehouse).where(Warehouse.id == warehouse_id, Warehouse.kind == "consignment")
    clause = warehouse_clause(scope)
    if clause is not None:
        stmt = stmt.where(clause)
    return session.scalar(stmt)


@dataclass(frozen=True)
class LotStock:
    lot: Lot
    quantity: int


def available_lots(session: Session, warehouse_id: int) -> list[LotStock]:
    """What the location holds available, lot by lot, soonest expiry first."""
    rows = session.execute(select(Lot, StockBalance.quantity).join(StockBalance, StockBalance.lot_id == Lot.id)
                           .where(StockBalance.warehouse_id == warehouse_id, StockBalance.state == "available",
                                  StockBalance.quantity > 0)
                           .order_by(StockBalance.expires_on.nulls_last(), Lot.id))
    return [LotStock(lot, int(q)) for lot, q in rows]


def counts_of(session: Session, warehouse_id: int, limit: int = 50) -> list[ConsignmentCount]:
    return list(session.scalars(select(ConsignmentCount).where(ConsignmentCount.warehouse_id == warehouse_id)
                                .order_by(ConsignmentCount.id.desc()).limit(limit)))


def count_for(session: Session, scope: ChannelScope, count_id: int) -> ConsignmentCount | None:
    count = session.get(ConsignmentCount, count_id)
    if count is None or location_for(session, scope, count.warehouse_id) is None:
        return None
    return count


def dealer_and_hospital_names(session: Session, warehouse: Warehouse) -> tuple[str | None, str | None]:
    dealer = session.get(Dealer, warehouse.dealer_id) if warehouse.dealer_id else None
    hospital = session.get(Hospital, warehouse.hospital_id) if warehouse.hospital_id else None
    return (dealer.name if dealer else None), (hospital.name if hospital else None)


# --- counts -----------------------------------------------------------------------------------

def open_count(session: Session, warehouse: Warehouse, user, day: date | None = None, note: str | None = None) -> ConsignmentCount:
    """Start a count: one line per lot available at the location, expected = on hand now."""
    if warehouse.kind != "consignment":
        raise InvalidInput("form", _("Counts are for consignment locations."))
    if session.scalar(select(ConsignmentCount.id).where(ConsignmentCount.warehouse_id == warehouse.id,
                                                        ConsignmentCount.status == "open")):
        raise InvalidInput("form", _("This location already has an open count; close it first."))
    count = ConsignmentCount(warehouse_id=warehouse.id, counted_on=day or shanghai_today(), status="open",
                             counted_by_id=user.id, note=(note or "").strip() or None)
    count.lines = [ConsignmentCountLine(lot_id=s.lot.id, expected_quantity=s.quantity)
                   for s in available_lots(session, warehouse.id)]
    session.add(count)
    session.flush()
    return count


def add_count_lot(session: Session, count: ConsignmentCount, lot: Lot, counted: int) -> ConsignmentCountLine:
    """A lot found on the shelf that the books do not show at the location."""
    if count.status != "open":
        raise InvalidInput("form", _("This count is closed."))
    if any(line.lot_id == lot.id for line in count.lines):
        raise InvalidInput("lot", _("This lot is already on the count."))
    line = ConsignmentCountLine(count_id=count.id, lot_id=lot.id, expected_quantity=0, counted_quantity=counted)
    count.lines.append(line)
    session.flush()
    return line


def set_counted(session: Session, count: ConsignmentCount, line: ConsignmentCountLine, values: dict) -> ConsignmentCountLine:
    """Record what was found for one line (and why it differs, when it does)."""
    if count.status != "open":
        raise InvalidInput("form", _("This count is closed."))
    line.counted_quantity = coerce.whole(values, "counted_quantity", 0, 1_000_000, required=True)
    line.variance_reason = coerce.text(values, "variance_reason", max_length=300)
    session.flush()
    return line


def variance(line: ConsignmentCountLine) -> int:
    return 0 if line.counted_quantity is None else line.counted_quantity - line.expected_quantity


def close_count(session: Session, count: ConsignmentCount, user, why: str | None = None) -> list:
    """Close the count: every line must be counted; the books are then set to what was
    counted. What was counted is the truth at closing time, so each line's adjustment
    is ``counted − available now`` (the balance locked at closing), not against the
    snapshot taken when the count opened: units consumed by a surgery report or
    replenished since are already on the books and are not posted a second time. Each
    remaining difference needs a reason (the line's own, or ``why`` for all) and becomes
    an adjustment at the location (+ found, − missing). Lots not on the count are left
    alone. A line's book quantity is updated to that balance, so the closed count's
    variances are the adjustments posted. The count row is locked first, so a double
    close posts nothing twice."""
    session.scalar(select(ConsignmentCount).where(ConsignmentCount.id == count.id).with_for_update(of=ConsignmentCount)
                    .execution_options(populate_existing=True))
    session.scalars(select(ConsignmentCountLine).where(ConsignmentCountLine.count_id == count.id)
                    .execution_options(populate_existing=True)).all()
    session.expire(count, ["lines"])
    if count.status != "open":
        raise InvalidInput("form", _("This count is closed."))
    why = (why or "").strip() or None
    missing = [line for line in count.lines if line.counted_quantity is None]
    if missing:
        raise InvalidInput("form", _("%(n)d lines are not counted yet.", n=len(missing)))
    lines = sorted(count.lines, key=lambda ln: ln.lot_id)  # lock balances in a fixed order
    on_books = {lot_id: int(q) for lot_id, q in session.execute(
        select(StockBalance.lot_id, StockBalance.quantity)
        .where(StockBalance.warehouse_id == count.warehouse_id, StockBalance.state == "available",
               StockBalance.lot_id.in_([ln.lot_id for ln in lines]))
        .order_by(StockBalance.lot_id).with_for_update())}
    deltas = {line.id: line.counted_quantity - on_books.get(line.lot_id, 0) for line in lines}
    for line in lines:
        if deltas[line.id] and not (line.variance_reason or why):
            raise InvalidInput("reason", _("Give a reason for every difference (lot %(lot)s).",
                                           lot=line.lot.lot_no or line.lot.serial_no))
    movements = []
    ref = ("consignment_counts", count.id)
    with reason(session, why, action="close"):
        for line in lines:
            delta = deltas[line.id]
            if line.expected_quantity != on_books.get(line.lot_id, 0):
                line.expected_quantity = on_books.get(line.lot_id, 0)
            if not delta:
                continue
            text_ = line.variance_reason or why
            if delta > 0:
                movements.append(move(session, "adjustment", count.warehouse_id, line.lot_id, delta, None, "available",
                                      text_, ref, user.id))
            else:
                movements.append(move(session, "adjustment", count.warehouse_id, line.lot_id, -delta, "available", None,
                                      text_, ref, user.id))
        count.status = "closed"
        session.flush()
    return movements
