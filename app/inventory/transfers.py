"""Transfers between warehouses (调拨) and transfer suggestions.

The lifecycle, each step one audited change plus its ledger rows:

    requested ──(approval engine, kind "transfer")──▶ approved ──ship──▶ shipped ──receive──▶ received
        │                                   └──▶ rejected                                   │
        └──cancel (before shipping)──▶ cancelled            completed ◀──inspect (QC at the destination)

- ship: the source's available units leave FEFO (``transfer_out``, available → out) and
  arrive in transit at the destination (``transfer_in``, → in_transit); a requested line
  becomes one line per lot picked.
- receive: in transit → inspection at the destination (``transfer_receipt``); a shortfall
  needs a reason and leaves in transit as an ``adjustment`` (in_transit → out).
- inspect: QC at the destination releases what it accepts (``qc_release``, inspection →
  available) and quarantines the rest (``qc_reject``); the transfer is then completed.

A regional manager works only with warehouses in its regions; admins and channel
managers with all. Consignment replenishment is a transfer into a consignment location.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.queries import ChannelScope
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.numbering import assign_number
from app.core.pagination import Page, keyset_page
from app.core.settings import setting
from app.inventory.models import TRANSFER_STATUSES, StockBalance, StockThreshold, Transfer, TransferLine, Warehouse
from app.inventory.operations import locked_balances, move, take_fefo

#: who may request, ship, receive and cancel transfers
TRANSFER_ROLES = ("admin", "channel_manager", "regional_manager")
#: who may see them (QA inspects what arrives)
TRANSFER_VIEWERS = TRANSFER_ROLES + ("qa_ra",)
#: who may inspect (QC-release) what arrived
TRANSFER_INSPECTORS = ("admin", "channel_manager", "regional_manager", "qa_ra")
#: transfers whose goods are still to arrive (expected arrival)
OPEN_STATUSES = ("approved", "shipped")
MAX_LINES = 50


# --- scope --------------------------------------------------------------------------------

def warehouse_clause(scope: ChannelScope, column=Warehouse.region_id):
    """The warehouses a manufacturer user reaches: all, or those in its regions."""
    return scope.regions_clause(column)


def warehouses_in_scope(session: Session, scope: ChannelScope, kinds=None) -> list[Warehouse]:
    stmt = select(Warehouse).where(Warehouse.status == "active").order_by(Warehouse.kind, Warehouse.code)
    clause = warehouse_clause(scope)
    if clause is not None:
        stmt = stmt.where(clause)
    if kinds:
        stmt = stmt.where(Warehouse.kind.in_(kinds))
    return list(session.scalars(stmt))


def warehouse_in_scope(session: Session, scope: ChannelScope, warehouse_id: int | None) -> Warehouse | None:
    if warehouse_id is None:
        return None
    stmt = select(Warehouse).where(Warehouse.id == warehouse_id)
    clause = warehouse_clause(scope)
    if clause is not None:
        stmt = stmt.where(clause)
    return session.scalar(stmt)


def _transfer_scope(stmt, scope: ChannelScope):
    """A transfer is in reach when either of its warehouses is."""
    clause = warehouse_clause(scope, Warehouse.region_id)
    if clause is None:
        return stmt
    reachable = select(Warehouse.id).where(clause)
    return stmt.where(or_(Transfer.from_warehouse_id.in_(reachable), Transfer.to_warehouse_id.in_(reachable)))


# --- reads ----------------------------------------------------------------------------------

def transfers_page(session: Session, scope: ChannelScope, cursor: str | None, status: str = "",
                   warehouse_id: int | None = None) -> Page:
    """Newest first, as plain rows with both warehouses' codes and the line count."""
    src, dst = Warehouse.__table__.alias("src"), Warehouse.__table__.alias("dst")
    units = (select(func.coalesce(func.sum(TransferLine.quantity), 0)).where(TransferLine.transfer_id == Transfer.id)
             .scalar_subquery())
    stmt = (select(Transfer.id, Transfer.number, Transfer.status, Transfer.created_at, Transfer.eta, Transfer.cold_chain,
                   Transfer.reason, src.c.code.label("from_code"), src.c.name.label("from_name"),
                   dst.c.code.label("to_code"), dst.c.name.label("to_name"), units.label("units"))
            .join(src, src.c.id == Transfer.from_warehouse_id).join(dst, dst.c.id == Transfer.to_warehouse_id))
    stmt = _transfer_scope(stmt, scope)
    if status in TRANSFER_STATUSES:
        stmt = stmt.where(Transfer.status == status)
    if warehouse_id:
        stmt = stmt.where(or_(Transfer.from_warehouse_id == warehouse_id, Transfer.to_warehouse_id == warehouse_id))
    return keyset_page(session, stmt, (Transfer.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def transfer_for(session: Session, scope: ChannelScope, transfer_id: int) -> Transfer | None:
    return session.scalar(_transfer_scope(select(Transfer).where(Transfer.id == transfer_id), scope))


def transfer_movements(session: Session, transfer: Transfer) -> list:
    """The ledger rows the transfer caused (its stock timeline)."""
    from app.inventory.models import StockMovement

    return list(session.scalars(select(StockMovement).where(StockMovement.ref_type == "transfers",
                                                            StockMovement.ref_id == transfer.id)
                                .order_by(StockMovement.id)))


class Arrival(NamedTuple):
    sku_id: int
    quantity: int
    eta: date | None


def open_transfers_into(session: Session, warehouse_ids, sku_ids) -> list[Arrival]:
    """Units on their way into these warehouses, per SKU and expected date: approved
    transfers (not shipped yet: ``eta`` None) and shipped ones (their ETA), less what a
    shipped line has already been received of (nothing, until received)."""
    warehouse_ids, sku_ids = list(warehouse_ids or []), list(sku_ids or [])
    if not warehouse_ids or not sku_ids:
        return []
    rows = session.execute(
        select(TransferLine.sku_id, func.sum(TransferLine.quantity), Transfer.eta)
        .join(Transfer, Transfer.id == TransferLine.transfer_id)
        .where(Transfer.status.in_(OPEN_STATUSES), Transfer.to_warehouse_id.in_(warehouse_ids),
               TransferLine.sku_id.in_(sku_ids))
        .group_by(TransferLine.sku_id, Transfer.eta)
        .order_by(TransferLine.sku_id, Transfer.eta.nulls_last()))
    return [Arrival(sku_id, int(quantity), eta) for sku_id, quantity, eta in rows]


def available_by_sku(session: Session, warehouse_id: int, sku_ids) -> dict[int, int]:
    rows = session.execute(select(StockBalance.sku_id, func.sum(StockBalance.quantity))
                           .where(StockBalance.warehouse_id == warehouse_id, StockBalance.state == "available",
                                  StockBalance.sku_id.in_(list(sku_ids)))
                           .group_by(StockBalance.sku_id))
    return {sku_id: int(q) for sku_id, q in rows}


def sku_choices(session: Session) -> list[Sku]:
    return list(session.scalars(select(Sku).where(Sku.status == "active").order_by(Sku.code)))


# --- writes ---------------------------------------------------------------------------------

def _lines(values: dict) -> list[tuple[int, int]]:
    """[(sku_id, quantity)] from ``values["lines"]`` (dicts), merged by SKU."""
    raw = values.get("lines") or []
    merged: dict[int, int] = {}
    for index, line in enumerate(raw):
        sku_raw, qty_raw = line.get("sku_id"), line.get("quantity")
        if coerce._blank(sku_raw) and coerce._blank(qty_raw):
            continue
        field = f"lines-{index}"
        try:
            sku_id = coerce.ident({field: sku_raw}, field, required=True)
            quantity = coerce.whole({field: qty_raw}, field, 1, 1_000_000, required=True)
        except InvalidInput as err:
            raise InvalidInput(field, err.message) from None
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    if not merged:
        raise InvalidInput("lines", _("Add at least one product and quantity."))
    if len(merged) > MAX_LINES:
        raise InvalidInput("lines", _("At most %(n)d products per transfer.", n=MAX_LINES))
    return list(merged.items())


def request_transfer(session: Session, user, values: dict) -> Transfer:
    """Ask for stock to move from one warehouse to another; the request goes to the
    approval engine (approved at once when no chain applies)."""
    from app.compliance import approvals

    scope = ChannelScope.of(user)
    from_id = coerce.ident(values, "from_warehouse_id", required=True)
    to_id = coerce.ident(values, "to_warehouse_id", required=True)
    source = warehouse_in_scope(session, scope, from_id)
    if source is None or source.status != "active":
        raise InvalidInput("from_warehouse_id", _("Choose a warehouse in your regions."))
    target = warehouse_in_scope(session, scope, to_id)
    if target is None or target.status != "active":
        raise InvalidInput("to_warehouse_id", _("Choose a warehouse in your regions."))
    if source.id == target.id:
        raise InvalidInput("to_warehouse_id", _("A transfer needs two different warehouses."))
    if source.kind == "consignment":
        raise InvalidInput("from_warehouse_id",
                           _("Consignment stock leaves its location through surgery reports or a count, not a transfer."))
    why = coerce.text(values, "reason", required=True, max_length=500)
    lines = _lines(values)
    skus = {s.id: s for s in session.scalars(select(Sku).where(Sku.id.in_([s for s, _q in lines])))}
    for index, (sku_id, _q) in enumerate(lines):
        if sku_id not in skus:
            raise InvalidInput(f"lines-{index}", _("Choose a product from the list."))
    transfer = Transfer(from_warehouse_id=source.id, to_warehouse_id=target.id, reason=why, requested_by_id=user.id,
                        status="requested", cold_chain=coerce.flag(values, "cold_chain"))
    assign_number(session, transfer, "TR")
    transfer.lines = [TransferLine(sku_id=sku_id, quantity=q) for sku_id, q in lines]
    session.add(transfer)
    session.flush()
    title = _("Transfer %(number)s: %(source)s → %(target)s", number=transfer.number, source=source.code,
              target=target.code)
    request = approvals.submit(session, "transfer", title, user, {"quantity": sum(q for _s, q in lines)},
                               entity=("transfers", transfer.id), region_id=target.region_id or source.region_id)
    transfer.approval_request_id = request.id
    session.flush()
    return transfer


def transfer_decided(session: Session, request) -> None:
    """The engine decided a transfer request: approved → ready to ship; rejected →
    closed. A transfer cancelled meanwhile stays cancelled."""
    if request.entity_type != "transfers" or request.entity_id is None:
        return
    transfer = session.scalar(select(Transfer).where(Transfer.id == int(request.entity_id))
                              .with_for_update(of=Transfer).execution_options(populate_existing=True))
    if transfer is None or transfer.status != "requested":
        return
    if request.status in ("approved", "rejected"):
        transfer.status = request.status
        session.flush()


#: which end of a transfer each step is done at: the sender ships and cancels, the
#: receiver receives and inspects (reading needs either end in reach)
STEP_ENDS = {"ship": "source", "cancel": "source", "receive": "destination", "inspect": "destination"}


def may_act(session: Session, user, transfer: Transfer, step: str) -> bool:
    """Whether ``user`` reaches the warehouse at the end of the transfer where ``step``
    happens (a regional manager of the receiving region cannot ship from elsewhere)."""
    end = STEP_ENDS[step]
    warehouse_id = transfer.from_warehouse_id if end == "source" else transfer.to_warehouse_id
    return warehouse_in_scope(session, ChannelScope.of(user), warehouse_id) is not None


def _require_end(session: Session, transfer: Transfer, user, step: str) -> None:
    if not may_act(session, user, transfer, step):
        if STEP_ENDS[step] == "source":
            raise InvalidInput("form", _("Only a user responsible for the sending warehouse can do this step."))
        raise InvalidInput("form", _("Only a user responsible for the receiving warehouse can do this step."))


def _lock(session: Session, transfer: Transfer) -> Transfer:
    """Lock the transfer row (a second submit of the same step waits for the first) and
    reread it and its lines, so the status checked next is the committed one."""
    session.scalar(select(Transfer).where(Transfer.id == transfer.id).with_for_update(of=Transfer)
                    .execution_options(populate_existing=True))
    session.scalars(select(TransferLine).where(TransferLine.transfer_id == transfer.id)
                    .execution_options(populate_existing=True)).all()
    session.expire(transfer, ["lines"])
    return transfer


def _require(transfer: Transfer, *statuses: str) -> None:
    if transfer.status not in statuses:
        raise InvalidInput("form", _("This transfer is %(status)s; that step is not possible now.",
                                     status=status_label(transfer.status)))


def ship_transfer(session: Session, transfer: Transfer, user, values: dict, day: date | None = None) -> Transfer:
    """Pick lots FEFO at the source and put them in transit to the destination, with
    carrier, tracking number, ETA and the cold-chain flag. All or nothing: a line the
    source cannot cover refuses the whole shipment. Done by someone reaching the source."""
    _require_end(session, transfer, user, "ship")
    _lock(session, transfer)
    _require(transfer, "approved")
    day = day or shanghai_today()
    carrier = coerce.text(values, "carrier", required=True, max_length=100)
    tracking_no = coerce.text(values, "tracking_no", max_length=60)
    eta = coerce.day(values, "eta", required=True)
    if eta < day:
        raise InvalidInput("eta", _("The expected arrival cannot be before today."))
    ref = ("transfers", transfer.id)
    requested = [line for line in transfer.lines if line.lot_id is None]
    # check every line under lock before moving anything
    for line in requested:
        have = sum(b.quantity for b in locked_balances(session, line.sku_id, [transfer.from_warehouse_id]))
        if have < line.quantity:
            raise InvalidInput("form", _("%(sku)s: %(source)s has %(have)d available, the transfer asks for %(want)d.",
                                         sku=line.sku.code, source=transfer.from_warehouse.code, have=have,
                                         want=line.quantity))
    for line in requested:
        taken = take_fefo(session, line.sku_id, [transfer.from_warehouse_id], line.quantity, None, "transfer_out", ref,
                          day=day, actor_id=user.id, reason=transfer.reason)
        if taken.short:
            raise InvalidInput("form", _("%(sku)s: not enough available stock at %(source)s.", sku=line.sku.code,
                                         source=transfer.from_warehouse.code))
        for n, pick in enumerate(taken.picks):
            target = line if n == 0 else TransferLine(transfer_id=transfer.id, sku_id=line.sku_id, quantity=pick.quantity)
            target.lot_id, target.quantity = pick.lot_id, pick.quantity
            if n:
                transfer.lines.append(target)
            move(session, "transfer_in", transfer.to_warehouse_id, pick.lot_id, pick.quantity, None, "in_transit",
                 transfer.reason, ref, user.id)
    transfer.carrier, transfer.tracking_no, transfer.eta = carrier, tracking_no, eta
    transfer.cold_chain = coerce.flag(values, "cold_chain") or transfer.cold_chain
    transfer.shipped_at = session.scalar(select(func.now()))
    transfer.status = "shipped"
    session.flush()
    for line in transfer.lines:
        session.expire(line, ["lot"])  # lot_id was set: load the lot it names
    return transfer


def receive_transfer(session: Session, transfer: Transfer, user, received: dict, why: str | None = None) -> Transfer:
    """Goods arrived: per line the units received go from in transit into inspection at
    the destination; a shortfall needs a reason and is written off from in transit.
    Done by someone reaching the destination."""
    _require_end(session, transfer, user, "receive")
    _lock(session, transfer)
    _require(transfer, "shipped")
    why = (why or "").strip() or None
    ref = ("transfers", transfer.id)
    counts = {}
    for line in transfer.lines:
        field = f"received-{line.id}"
        quantity = coerce.whole({field: received.get(line.id, received.get(str(line.id)))}, field, 0, 10_000_000,
                                default=line.quantity)
        if quantity > line.quantity:
            raise InvalidInput(field, _("At most %(n)d were shipped on this line.", n=line.quantity))
        counts[line.id] = quantity
    if any(counts[line.id] < line.quantity for line in transfer.lines) and not why:
        raise InvalidInput("reason", _("Say why fewer units arrived than were shipped."))
    with reason(session, why, action="receive"):
        for line in transfer.lines:
            quantity = counts[line.id]
            if quantity:
                move(session, "transfer_receipt", transfer.to_warehouse_id, line.lot_id, quantity, "in_transit",
                     "inspection", why, ref, user.id)
            if quantity < line.quantity:
                move(session, "adjustment", transfer.to_warehouse_id, line.lot_id, line.quantity - quantity,
                     "in_transit", None, why, ref, user.id)
            line.received_quantity = quantity
        transfer.received_at = session.scalar(select(func.now()))
        transfer.status = "received"
        session.flush()
    return transfer


def inspect_transfer(session: Session, transfer: Transfer, user, accepted: dict, why: str | None = None) -> Transfer:
    """QC at the destination: accepted units become available, the rest is quarantined
    (with a reason); the transfer is completed. Done by someone reaching the destination."""
    _require_end(session, transfer, user, "inspect")
    _lock(session, transfer)
    _require(transfer, "received")
    why = (why or "").strip() or None
    ref = ("transfers", transfer.id)
    counts = {}
    for line in transfer.lines:
        got = line.received_quantity or 0
        field = f"accepted-{line.id}"
        quantity = coerce.whole({field: accepted.get(line.id, accepted.get(str(line.id)))}, field, 0, 10_000_000,
                                default=got)
        if quantity > got:
            raise InvalidInput(field, _("At most %(n)d were received on this line.", n=got))
        counts[line.id] = quantity
    if any(counts[line.id] < (line.received_quantity or 0) for line in transfer.lines) and not why:
        raise InvalidInput("reason", _("Say why units failed inspection."))
    with reason(session, why, action="inspect"):
        for line in transfer.lines:
            got, ok = line.received_quantity or 0, counts[line.id]
            if ok:
                move(session, "qc_release", transfer.to_warehouse_id, line.lot_id, ok, "inspection", "available",
                     why, ref, user.id)
            if got - ok:
                move(session, "qc_reject", transfer.to_warehouse_id, line.lot_id, got - ok, "inspection", "quarantined",
                     why, ref, user.id)
        transfer.status = "completed"
        session.flush()
    return transfer


def cancel_transfer(session: Session, transfer: Transfer, user, why: str) -> Transfer:
    """Called off before it ships; an approval still open is withdrawn when the
    requester cancels (otherwise its decision will find the transfer cancelled).
    Done by someone reaching the source."""
    from app.compliance import approvals
    from app.compliance.models import ApprovalRequest

    _require_end(session, transfer, user, "cancel")
    _lock(session, transfer)
    _require(transfer, "requested", "approved")
    why = (why or "").strip()
    if not why:
        raise InvalidInput("reason", _("Say why the transfer is cancelled."))
    with reason(session, why, action="cancel"):
        transfer.status = "cancelled"
        session.flush()
        request = session.get(ApprovalRequest, transfer.approval_request_id) if transfer.approval_request_id else None
        if request is not None and request.status in ("in_review", "returned") and request.requester_id == user.id:
            approvals.withdraw(session, request, user, why)
    return transfer


def status_label(status: str) -> str:
    return str(status_labels().get(status, status))


def status_labels() -> dict:
    return {"requested": _("Requested"), "approved": _("Approved"), "rejected": _("Rejected"),
            "shipped": _("In transit"), "received": _("Received, in inspection"), "completed": _("Completed"),
            "cancelled": _("Cancelled")}


def movement_labels() -> dict:
    """What each ledger row kind and stock state is called on a page."""
    return {"transfer_out": _("Sent"), "transfer_in": _("Put in transit"), "transfer_receipt": _("Received"),
            "qc_release": _("Released by QC"), "qc_reject": _("Rejected by QC"), "adjustment": _("Adjustment"),
            "consumption": _("Used in surgery"), "receipt": _("Goods in"),
            "service_use": _("Used in service"), "quarantine": _("Quarantined"), "release": _("Released")}


def state_labels() -> dict:
    return {"inspection": _("In inspection"), "available": _("Available"), "allocated": _("Allocated"),
            "quarantined": _("Quarantined"), "in_transit": _("In transit"), "expired": _("Expired")}


# --- suggestions ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestion:
    sku_id: int
    sku_code: str
    sku_name: str
    to_warehouse: Warehouse
    from_warehouse: Warehouse
    #: units to send
    quantity: int
    #: how far the destination is below its safety stock (after what is already on its way)
    short_by: int
    #: of what the source could give, units expiring within the near-expiry window
    near_expiry: int
    #: units the source holds above its own safety stock
    excess: int


def transfer_suggestions(session: Session, scope: ChannelScope, day: date | None = None, limit: int = 100) -> list[Suggestion]:
    """Where a warehouse is below safety stock for a SKU and another one has excess
    (available above its own safety stock) or near-expiry units, suggest moving them:
    sources with near-expiry stock first (it sells sooner where stock is short), then
    the largest excess. Transfers already approved or on their way count as arriving."""
    day = day or shanghai_today()
    horizon = day + timedelta(days=setting(session, "near_expiry_days"))
    available = (select(StockBalance.warehouse_id, StockBalance.sku_id, func.sum(StockBalance.quantity).label("q"))
                 .where(StockBalance.state == "available")
                 .group_by(StockBalance.warehouse_id, StockBalance.sku_id).subquery())
    shorts_stmt = (select(StockThreshold.warehouse_id, StockThreshold.sku_id, StockThreshold.safety_quantity,
                          func.coalesce(available.c.q, 0).label("have"))
                   .join(Warehouse, Warehouse.id == StockThreshold.warehouse_id)
                   .outerjoin(available, and_(available.c.warehouse_id == StockThreshold.warehouse_id,
                                              available.c.sku_id == StockThreshold.sku_id))
                   .where(Warehouse.status == "active",
                          func.coalesce(available.c.q, 0) < StockThreshold.safety_quantity))
    clause = warehouse_clause(scope)
    if clause is not None:
        shorts_stmt = shorts_stmt.where(clause)
    shorts = list(session.execute(shorts_stmt))
    if not shorts:
        return []
    sku_ids = sorted({r.sku_id for r in shorts})
    arriving: dict[tuple[int, int], int] = defaultdict(int)
    for wid, sku_id, q in session.execute(
            select(Transfer.to_warehouse_id, TransferLine.sku_id, func.sum(TransferLine.quantity))
            .join(Transfer, Transfer.id == TransferLine.transfer_id)
            .where(Transfer.status.in_(("requested",) + OPEN_STATUSES), TransferLine.sku_id.in_(sku_ids))
            .group_by(Transfer.to_warehouse_id, TransferLine.sku_id)):
        arriving[(wid, sku_id)] += int(q)
    stock: dict[int, list] = defaultdict(list)  # sku → [(warehouse_id, available, near_expiry)]
    for wid, sku_id, q, near in session.execute(
            select(StockBalance.warehouse_id, StockBalance.sku_id, func.sum(StockBalance.quantity),
                   func.sum(StockBalance.quantity).filter(StockBalance.expires_on > day,
                                                          StockBalance.expires_on <= horizon))
            .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
            .where(StockBalance.state == "available", StockBalance.sku_id.in_(sku_ids), Warehouse.status == "active",
                   Warehouse.kind != "consignment", or_(StockBalance.expires_on.is_(None), StockBalance.expires_on > day))
            .group_by(StockBalance.warehouse_id, StockBalance.sku_id)):
        stock[sku_id].append((wid, int(q), int(near or 0)))
    safety = {(w, s): q for w, s, q in session.execute(
        select(StockThreshold.warehouse_id, StockThreshold.sku_id, StockThreshold.safety_quantity)
        .where(StockThreshold.sku_id.in_(sku_ids)))}
    warehouses = {w.id: w for w in session.scalars(select(Warehouse))}
    skus = {s.id: s for s in session.scalars(select(Sku).where(Sku.id.in_(sku_ids)))}
    given: dict[tuple[int, int], int] = defaultdict(int)  # what earlier suggestions already took from a source
    out: list[Suggestion] = []
    for short in sorted(shorts, key=lambda r: (r.have - r.safety_quantity, r.warehouse_id, r.sku_id)):
        need = short.safety_quantity - short.have - arriving[(short.warehouse_id, short.sku_id)]
        if need <= 0:
            continue
        offers = []
        for wid, have, near in stock[short.sku_id]:
            if wid == short.warehouse_id:
                continue
            left = have - given[(wid, short.sku_id)]
            excess = max(0, left - safety.get((wid, short.sku_id), 0))
            near_left = min(near, left)
            spare = max(excess, near_left)
            if spare > 0:
                offers.append((wid, spare, near_left, excess))
        offers.sort(key=lambda o: (-o[2], -o[3], o[0]))
        for wid, spare, near_left, excess in offers:
            if need <= 0:
                break
            quantity = min(need, spare)
            need -= quantity
            given[(wid, short.sku_id)] += quantity
            sku = skus[short.sku_id]
            out.append(Suggestion(sku.id, sku.code, sku.name, warehouses[short.warehouse_id], warehouses[wid], quantity,
                                  short.safety_quantity - short.have, near_left, excess))
        if len(out) >= limit:
            break
    return out[:limit]
