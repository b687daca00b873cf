"""Price protection (价格补差): when the manufacturer lowers a SKU's price (after a
volume-procurement award, say), each dealer's unsold channel stock of it bought at the
old price earns (old − new) a unit, approved through the engine (kind
``price_protection``) and then credited to each dealer's rebate ledger.

**What a dealer held.** Channel stock on the effective day, per dealer × lot, exactly as
the channel-stock pages compute it (``app.inventory.sellout.channel_stock``: delivered
sell-in − returns − sell-out reported up to and including that day).

**Bought at the old price.** A lot may have reached a dealer on several orders at
different prices (a special price, free goods). For each dealer × lot we add up the
units delivered on order lines whose unit price was at or above the old price, and all
units delivered; the units held that count are the held units × that share, rounded
down to whole units. So stock bought at a special price below the old price, or received
as free goods, earns nothing, and a lot bought half at the old price and half below
counts half of what is left of it. The per-lot figures are kept on each line.

Only the manufacturer's admin, channel managers and finance start one; regional
managers see the lines of the dealers in their regions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Region
from app.compliance import approvals
from app.compliance.models import ApprovalRequest
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.money import MAX_AMOUNT, fen
from app.core.numbering import assign_number
from app.core.pagination import Page, keyset_page
from app.rebates import ledger
from app.rebates.models import PriceProtection, PriceProtectionLine

STARTERS = ("admin", "channel_manager", "finance")
STATUS_LABELS = {"in_review": _l("In review"), "returned": _l("Returned for changes"), "approved": _l("Approved"),
                 "rejected": _l("Rejected"), "withdrawn": _l("Withdrawn")}
STATUS_BADGES = {"in_review": "wait", "returned": "late", "approved": "on", "rejected": "off", "withdrawn": "off"}


# --- the rule ---------------------------------------------------------------------------------

def eligible_units(held: int, bought: int, bought_at_old: int) -> int:
    """Units of a lot still held that count as bought at the old price: the held units
    × the share of the lot's deliveries made at or above the old price, rounded down."""
    if held <= 0 or bought <= 0 or bought_at_old <= 0:
        return 0
    return min(held, held * min(bought_at_old, bought) // bought)


@dataclass
class DealerStock:
    dealer_id: int
    quantity: int = 0
    lots: list = field(default_factory=list)

    def amount(self, old_price: Decimal, new_price: Decimal) -> Decimal:
        return fen(self.quantity * (old_price - new_price))


def protected_stock(session: Session, sku_id: int, old_price: Decimal, day: date) -> list[DealerStock]:
    """Per dealer: the units of the SKU held on ``day`` that were bought at or above
    ``old_price`` (see the module), with the lots behind them; dealers with none left out."""
    from app.inventory.sellout import _received_day, channel_stock
    from app.orders.models import Order, OrderLine, Shipment, ShipmentLine

    held = channel_stock(session, None, day, sku_id=sku_id)
    if not held:
        return []
    units = func.coalesce(ShipmentLine.received_quantity, ShipmentLine.quantity)
    at_old = case(((OrderLine.unit_price >= old_price) & OrderLine.free_goods.is_(False), units), else_=0)
    bought = {(d, lot): (int(total), int(old)) for d, lot, total, old in session.execute(
        select(Order.dealer_id, ShipmentLine.lot_id, func.sum(units), func.sum(at_old))
        .select_from(ShipmentLine).join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .join(Order, Order.id == Shipment.order_id).join(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
        .where(ShipmentLine.sku_id == sku_id, Shipment.status == "delivered", _received_day() <= day)
        .group_by(Order.dealer_id, ShipmentLine.lot_id))}
    out: dict[int, DealerStock] = {}
    for row in held:
        total, old = bought.get((row.dealer_id, row.lot_id), (0, 0))
        units_ok = eligible_units(row.stock, total, old)
        if units_ok <= 0:
            continue
        stock = out.setdefault(row.dealer_id, DealerStock(row.dealer_id))
        stock.quantity += units_ok
        stock.lots.append({"lot_id": row.lot_id, "lot_no": row.lot_no or row.serial_no, "held": row.stock,
                           "bought": total, "bought_at_old": old, "eligible": units_ok})
    return sorted(out.values(), key=lambda s: s.dealer_id)


# --- writing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProtectionValues:
    sku: Sku
    old_price: Decimal
    new_price: Decimal
    effective_on: date
    reason: str | None


def _price(values: dict, name: str, allow_zero: bool = False) -> Decimal:
    raw = values.get(name)
    if allow_zero and str(raw or "").strip() in ("0", "0.0", "0.00"):
        return Decimal("0.00")
    amount = coerce.money(values, name, required=True)
    if amount >= MAX_AMOUNT:
        raise InvalidInput(name, _("Enter an amount such as 1280.00."))
    return amount.quantize(Decimal("0.01"))


def _values(session: Session, values: dict, today: date) -> ProtectionValues:
    sku_id = coerce.ident(values, "sku_id", required=True)
    sku = session.get(Sku, sku_id) if sku_id else None
    if sku is None:
        raise InvalidInput("sku_id", _("Choose a product from the list."))
    old_price = _price(values, "old_price")
    new_price = _price(values, "new_price", allow_zero=True)
    if new_price >= old_price:
        raise InvalidInput("new_price", _("The new price must be lower than the old price."))
    effective_on = coerce.day(values, "effective_on", required=True)
    if effective_on > today:
        raise InvalidInput("effective_on", _("Start it on or after the effective day: it is computed from the channel "
                                             "stock dealers held that day."))
    if effective_on.year < 2000:
        raise InvalidInput("effective_on", _("Enter a date as YYYY-MM-DD."))
    why = coerce.text(values, "reason", required=True, max_length=2000)
    return ProtectionValues(sku, old_price, new_price, effective_on, why)


def _fill_lines(session: Session, protection: PriceProtection) -> None:
    stock = protected_stock(session, protection.sku_id, protection.old_price, protection.effective_on)
    if not stock:
        raise InvalidInput("old_price", _(
            "No dealer held %(sku)s bought at %(price)s or more on %(day)s: there is nothing to protect.",
            sku=protection.sku.code, price=ledger.cny(protection.old_price), day=protection.effective_on.isoformat()))
    for line in list(protection.lines):
        protection.lines.remove(line)
    session.flush()
    for s in stock:
        protection.lines.append(PriceProtectionLine(dealer_id=s.dealer_id, quantity=s.quantity, lots=s.lots,
                                                    amount=s.amount(protection.old_price, protection.new_price)))
    protection.total_amount = fen(sum((line.amount for line in protection.lines), Decimal(0)))
    if protection.total_amount >= MAX_AMOUNT:
        raise InvalidInput("old_price", _("Too large an amount: split the price protection."))
    session.flush()


def _title(p: PriceProtection) -> str:
    return _("Price protection %(number)s: %(sku)s from %(old)s to %(new)s on %(day)s", number=p.number,
             sku=p.sku.code, old=ledger.cny(p.old_price), new=ledger.cny(p.new_price),
             day=p.effective_on.isoformat())[:200]


def start_protection(session: Session, user, values: dict, today: date | None = None) -> PriceProtection:
    """Compute each dealer's protected stock and send the whole for approval."""
    v = _values(session, values, today or shanghai_today())
    protection = PriceProtection(sku_id=v.sku.id, old_price=v.old_price, new_price=v.new_price,
                                 effective_on=v.effective_on, reason=v.reason, status="in_review",
                                 requested_by_id=getattr(user, "id", None))
    assign_number(session, protection, "PP")
    protection.sku = v.sku
    session.add(protection)
    session.flush()
    _fill_lines(session, protection)
    request = approvals.submit(session, "price_protection", _title(protection), user,
                               {"amount": protection.total_amount}, entity=("price_protections", protection.id))
    protection.approval_request_id = request.id
    session.flush()
    return protection


def protection_changed(session: Session, request) -> None:
    """Withdrawn from the approval's own page: the protection is withdrawn too (a
    protection returned for changes stays in review until it is submitted again)."""
    protection = session.get(PriceProtection, int(request.entity_id)) if request.entity_id else None
    if protection is not None and protection.status == "in_review" and request.status == "withdrawn":
        protection.status = "withdrawn"
        session.flush()


def protection_decided(session: Session, request) -> None:
    """Approved: a ``price_protection`` credit per dealer line; rejected: closed."""
    protection = session.get(PriceProtection, int(request.entity_id)) if request.entity_id else None
    if protection is None or protection.status != "in_review":
        return
    if request.status == "rejected":
        protection.status = "rejected"
        session.flush()
        return
    if request.status != "approved":
        return
    protection.status = "approved"
    session.flush()
    for line in protection.lines:
        if line.amount <= 0:
            continue
        ledger.add_credit(session, line.dealer_id, "price_protection", line.amount,
                          ref=("price_protections", protection.id),
                          explanation={"sku_code": protection.sku.code, "sku_name": protection.sku.name,
                                       "old_price": str(protection.old_price), "new_price": str(protection.new_price),
                                       "effective_on": protection.effective_on.isoformat(), "units": line.quantity,
                                       "lots": line.lots})


def recompute_and_resubmit(session: Session, protection: PriceProtection, user) -> None:
    """A protection returned for changes is computed again from the channel stock as it
    now stands and goes through its route again."""
    request = session.get(ApprovalRequest, protection.approval_request_id) if protection.approval_request_id else None
    if request is None or request.status != "returned" or protection.status != "in_review":
        raise InvalidInput(None, _("Only a price protection returned for changes can be submitted again."))
    with reason(session, None, action="resubmit"):
        _fill_lines(session, protection)
    requester = user
    if request.requester_id != getattr(user, "id", None):
        from app.identity.models import User

        requester = session.get(User, request.requester_id)
    approvals.resubmit(session, request, requester, facts={"amount": protection.total_amount})


def withdraw_protection(session: Session, protection: PriceProtection, user, why: str | None) -> None:
    request = session.get(ApprovalRequest, protection.approval_request_id) if protection.approval_request_id else None
    if protection.status != "in_review" or (request is not None and request.status not in ("in_review", "returned")):
        raise InvalidInput(None, _("Only a price protection in review can be withdrawn."))
    why = (why or "").strip()[:500] or None
    with reason(session, why, action="withdraw"):
        protection.status = "withdrawn"
        if request is not None:
            request.status = "withdrawn"
            request.decided_at = session.scalar(select(func.now()))
        session.flush()


# --- reading -------------------------------------------------------------------------------------

def effective_status(protection: PriceProtection, request: ApprovalRequest | None) -> str:
    if protection.status == "in_review" and request is not None and request.status in ("returned", "withdrawn"):
        return request.status
    return protection.status


def protections_page(session: Session, cursor: str | None, status: str = "") -> Page:
    """Price protections newest first. A protection is national: every viewer sees the
    list; the lines (dealers) are scoped on the detail page."""
    stmt = (select(PriceProtection.id, PriceProtection.number, PriceProtection.old_price, PriceProtection.new_price,
                   PriceProtection.effective_on, PriceProtection.status, PriceProtection.total_amount,
                   PriceProtection.created_at, Sku.code.label("sku_code"), Sku.name.label("sku_name"),
                   ApprovalRequest.status.label("request_status"))
            .join(Sku, Sku.id == PriceProtection.sku_id)
            .outerjoin(ApprovalRequest, ApprovalRequest.id == PriceProtection.approval_request_id))
    if status == "returned":
        stmt = stmt.where(PriceProtection.status == "in_review", ApprovalRequest.status == "returned")
    elif status in STATUS_LABELS:
        stmt = stmt.where(PriceProtection.status == status)
    return keyset_page(session, stmt, (PriceProtection.id,), lambda r: (r.id,), cursor, entities=False,
                       descending=True)


def row_status(row) -> str:
    if row.status == "in_review" and row.request_status in ("returned", "withdrawn"):
        return row.request_status
    return row.status


def protection_for(session: Session, protection_id: int) -> PriceProtection | None:
    return session.get(PriceProtection, protection_id)


def lines_for(session: Session, scope, protection: PriceProtection) -> list:
    """The protection's dealer lines the scope reaches, by area then dealer, with the
    dealer's region and, once approved, the ledger row credited."""
    from sqlalchemy.orm import aliased

    area = aliased(Region)
    area_id = func.nullif(func.split_part(func.trim(Region.path, "/"), "/", 2), "").cast(Region.id.type)
    stmt = (select(PriceProtectionLine.id, PriceProtectionLine.dealer_id, PriceProtectionLine.quantity,
                   PriceProtectionLine.amount, PriceProtectionLine.lots, Dealer.code.label("dealer_code"),
                   Dealer.name.label("dealer_name"), Region.name.label("region_name"),
                   Region.name_en.label("region_name_en"), area.name.label("area_name"),
                   area.name_en.label("area_name_en"))
            .join(Dealer, Dealer.id == PriceProtectionLine.dealer_id).join(Region, Region.id == Dealer.region_id)
            .outerjoin(area, area.id == area_id)
            .where(PriceProtectionLine.price_protection_id == protection.id)
            .order_by(func.coalesce(area.path, Region.path), Dealer.code))
    clause = scope.regions_clause(Dealer.region_id)
    if clause is not None:
        stmt = stmt.where(clause)
    return list(session.execute(stmt))


__all__ = ["eligible_units", "protected_stock", "start_protection", "protection_decided", "recompute_and_resubmit",
           "withdraw_protection", "protections_page", "protection_for", "lines_for", "effective_status", "row_status",
           "STARTERS", "STATUS_LABELS"]
