"""两票制 (two-invoice rule): for sales into public hospitals at most one dealer may stand
between the manufacturer and the hospital — one invoice from the manufacturer to the
dealer, one from the dealer to the hospital.

The check reads the records the channel already keeps: the manufacturer's shipments
(and, once invoicing runs, the invoice of each shipment) give what a dealer received
*from the manufacturer*; sell-out lines naming a buyer dealer (分销流向) give what it
received *from another dealer*; sell-out lines naming a hospital are the sales checked.

Units of a lot are interchangeable inside a dealer, so which units a sale used is a
matter of attribution. The rule here gives the dealer the benefit of the doubt: its
sales of a lot are taken first from what the manufacturer delivered to it by the sale
day (net of its returns), and only what cannot be explained that way came through
another dealer. A hospital sale is a violation when some of its units did
(``via_dealers`` > 0) and the hospital is public. Only dealer × lot pairs that ever
received the lot from another dealer are examined, so the check stays cheap however
large the sell-out table grows.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.core.pagination import Page, keyset_page
from app.inventory.models import Lot, SellOutLine
from app.inventory.sellout import add_months, direct_units
from app.orders.models import Order, Shipment, ShipmentLine

#: manufacturer roles that see the violations (a regional manager: dealers of its regions)
VIEWERS = ("admin", "channel_manager", "regional_manager", "qa_ra", "finance")


def violations_stmt(pair: tuple[int, int] | None = None):
    """A subquery: one row per hospital sale into a public hospital whose units cannot
    all have reached the selling dealer from the manufacturer — id, dealer_id,
    hospital_id, sku_id, lot_id, sold_on, quantity, unit_price, invoice_no, sold_before
    (the dealer's earlier sales of the lot), direct (what it had received of the lot from
    the manufacturer by the sale day) and via_dealers (units that came through another
    dealer). ``pair`` (dealer id, lot id) limits it to one dealer's sales of one lot."""
    s = SellOutLine
    pairs = select(s.buyer_dealer_id.label("dealer_id"), s.lot_id.label("lot_id")).where(s.buyer_dealer_id.is_not(None))
    if pair is not None:
        pairs = pairs.where(s.buyer_dealer_id == pair[0], s.lot_id == pair[1])
    pairs = pairs.distinct().subquery()
    before = func.coalesce(func.sum(s.quantity).over(partition_by=(s.dealer_id, s.lot_id), order_by=(s.sold_on, s.id),
                                                     rows=(None, -1)), 0)
    sales = (select(s.id, s.dealer_id, s.hospital_id, s.sku_id, s.lot_id, s.sold_on, s.quantity, s.unit_price,
                    s.invoice_no, before.label("sold_before"))
             .join(pairs, and_(pairs.c.dealer_id == s.dealer_id, pairs.c.lot_id == s.lot_id)).subquery())
    direct = direct_units(sales.c.dealer_id, sales.c.lot_id, sales.c.sold_on)
    checked = (select(sales, direct.label("direct"))
               .join(Hospital, Hospital.id == sales.c.hospital_id).where(Hospital.ownership == "public")).subquery()
    via = func.greatest(0, func.least(checked.c.quantity, checked.c.sold_before + checked.c.quantity - checked.c.direct))
    found = select(checked, via.label("via_dealers")).subquery()
    return select(found).where(found.c.via_dealers > 0).subquery()


def _scoped(stmt, scope):
    """The selling dealer within the scope: a regional manager's regions; a dealer or a
    hospital sees none of this page."""
    if scope.dealer_id is not None or scope.hospital_id is not None:
        return stmt.where(false())
    clause = scope.regions_clause(Dealer.region_id)
    return stmt if clause is None else stmt.where(clause)


@dataclass(frozen=True)
class ViolationFilter:
    month: date | None = None
    #: the selling dealer's name or code
    dealer: str = ""
    hospital_id: int | None = None

    def as_params(self) -> dict:
        return {"month": self.month.strftime("%Y-%m") if self.month else "", "dealer": self.dealer,
                "hospital_id": self.hospital_id or ""}


def _listing(scope, f: ViolationFilter, pair: tuple[int, int] | None = None):
    v = violations_stmt(pair)
    seller = aliased(Dealer)
    upstream = (select(func.string_agg(func.distinct(seller.name), "、"))
                .select_from(SellOutLine).join(seller, seller.id == SellOutLine.dealer_id)
                .where(SellOutLine.buyer_dealer_id == v.c.dealer_id, SellOutLine.lot_id == v.c.lot_id,
                       SellOutLine.sold_on <= v.c.sold_on).scalar_subquery())
    stmt = (select(v.c.id, v.c.sold_on, v.c.quantity, v.c.via_dealers, v.c.direct, v.c.unit_price, v.c.invoice_no,
                   v.c.dealer_id, Dealer.code.label("dealer_code"), Dealer.name.label("dealer_name"),
                   Hospital.code.label("hospital_code"), Hospital.name.label("hospital_name"),
                   Sku.code.label("sku_code"), Sku.name.label("sku_name"), Lot.lot_no, Lot.serial_no,
                   upstream.label("upstream"))
            .select_from(v).join(Dealer, Dealer.id == v.c.dealer_id).join(Hospital, Hospital.id == v.c.hospital_id)
            .join(Sku, Sku.id == v.c.sku_id).join(Lot, Lot.id == v.c.lot_id))
    stmt = _scoped(stmt, scope)
    if f.month:
        stmt = stmt.where(v.c.sold_on >= f.month, v.c.sold_on < add_months(f.month, 1))
    if dealer := f.dealer.strip()[:60]:
        stmt = stmt.where(or_(Dealer.name.ilike(f"%{dealer}%"), Dealer.code.ilike(f"%{dealer}%")))
    if f.hospital_id:
        stmt = stmt.where(v.c.hospital_id == f.hospital_id)
    return stmt, v


def violations_page(session: Session, scope, cursor: str | None, f: ViolationFilter = ViolationFilter()) -> Page:
    """The violations the scope may see, most recently reported first (plain rows)."""
    stmt, v = _listing(scope, f)
    return keyset_page(session, stmt, (v.c.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def violation_hospitals(session: Session, scope) -> list:
    """The hospitals named by the scope's violations (the filter's choices); rows of id,
    code, name."""
    stmt, v = _listing(scope, ViolationFilter())
    named = stmt.with_only_columns(v.c.hospital_id)
    return list(session.execute(select(Hospital.id, Hospital.code, Hospital.name)
                                .where(Hospital.id.in_(named)).order_by(Hospital.name)))


# --- the evidence chain ------------------------------------------------------------------------

@dataclass(frozen=True)
class Receipt:
    """Units of the lot that reached a dealer from the manufacturer: one shipment line."""

    order_id: int
    order_number: str
    shipment_id: int
    shipment_number: str
    shipped_at: object
    delivered_at: object
    quantity: int
    #: the manufacturer's invoices for the shipment: (id, number) — none until invoiced
    invoices: list


@dataclass(frozen=True)
class DealerSale:
    """A dealer-to-dealer sale (分销流向) of the lot to the selling dealer, with where the
    seller itself had the lot from."""

    line: SellOutLine
    seller_receipts: list[Receipt]
    #: what the seller itself received of the lot from other dealers (a longer chain)
    seller_bought: list[SellOutLine]


@dataclass(frozen=True)
class Chain:
    sale: SellOutLine
    via_dealers: int
    direct: int
    sold_before: int
    #: the selling dealer's own receipts of the lot from the manufacturer (by the sale day)
    own_receipts: list[Receipt]
    #: how the rest reached it: other dealers' sales to it (by the sale day)
    from_dealers: list[DealerSale]


def _receipts(session: Session, dealer_id: int, lot_id: int, day: date) -> list[Receipt]:
    from app.inventory.sellout import _received_day

    rows = list(session.execute(
        select(Order.id, Order.number, Shipment.id, Shipment.number, Shipment.shipped_at, Shipment.delivered_at,
               func.coalesce(ShipmentLine.received_quantity, ShipmentLine.quantity))
        .select_from(ShipmentLine).join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .join(Order, Order.id == Shipment.order_id)
        .where(Shipment.status == "delivered", Order.dealer_id == dealer_id, ShipmentLine.lot_id == lot_id,
               _received_day() <= day)
        .order_by(Shipment.delivered_at, Shipment.id)))
    invoices = _invoices(session, [r[2] for r in rows])
    return [Receipt(*r, invoices=invoices.get(r[2], [])) for r in rows]


def _invoices(session: Session, shipment_ids) -> dict[int, list]:
    """The manufacturer's invoices of these shipments, by shipment (kind invoice, not
    void), as (id, number); none until invoicing runs."""
    from app.finance.models import Invoice

    out: dict[int, list] = {}
    if not shipment_ids:
        return out
    for shipment_id, invoice_id, number in session.execute(
            select(Invoice.shipment_id, Invoice.id, Invoice.number)
            .where(Invoice.shipment_id.in_(shipment_ids), Invoice.kind == "invoice", Invoice.status != "void")
            .order_by(Invoice.id)):
        out.setdefault(shipment_id, []).append((invoice_id, number))
    return out


def _bought(session: Session, dealer_id: int, lot_id: int, day: date) -> list[SellOutLine]:
    return list(session.scalars(select(SellOutLine).where(
        SellOutLine.buyer_dealer_id == dealer_id, SellOutLine.lot_id == lot_id, SellOutLine.sold_on <= day)
        .order_by(SellOutLine.sold_on, SellOutLine.id)))


def evidence_chain(session: Session, scope, line_id: int) -> Chain | None:
    """The evidence of one violation: the sale to the hospital, what the selling dealer
    had from the manufacturer by then, and each dealer-to-dealer sale that brought it the
    rest with the manufacturer's shipments (and invoices) to that dealer. None when the
    line is no violation or outside the scope (the page answers 404)."""
    sale = session.get(SellOutLine, line_id)
    if sale is None or sale.hospital_id is None:
        return None
    stmt, v = _listing(scope, ViolationFilter(), pair=(sale.dealer_id, sale.lot_id))
    row = session.execute(stmt.add_columns(v.c.sold_before).where(v.c.id == line_id)).first()
    if row is None:
        return None
    from_dealers = [DealerSale(bought, _receipts(session, bought.dealer_id, sale.lot_id, bought.sold_on),
                               _bought(session, bought.dealer_id, sale.lot_id, bought.sold_on))
                    for bought in _bought(session, sale.dealer_id, sale.lot_id, sale.sold_on)]
    return Chain(sale, int(row.via_dealers), int(row.direct), int(row.sold_before),
                 _receipts(session, sale.dealer_id, sale.lot_id, sale.sold_on), from_dealers)


# --- export ---------------------------------------------------------------------------------------

def _export_rows(session, user, params):
    from app.channel.queries import ChannelScope
    from app.compliance.exports import id_param, walk_batches
    from app.core.errors import InvalidInput
    from app.inventory.sellout import parse_month

    try:
        month = parse_month(params.get("month"))
    except InvalidInput:
        month = None
    f = ViolationFilter(month=month, dealer=str(params.get("dealer", "")), hospital_id=id_param(params, "hospital_id"))
    scope = ChannelScope.of(user)
    for items in walk_batches(lambda cursor: violations_page(session, scope, cursor, f)):
        for r in items:
            yield [r.sold_on, r.dealer_code, r.dealer_name, r.hospital_code, r.hospital_name, r.sku_code, r.sku_name,
                   r.lot_no, r.serial_no, r.quantity, r.via_dealers, r.upstream, r.invoice_no]


def _register_export():
    from app.compliance.exports import register_export

    register_export("two_invoice", _l("Two-invoice violations"), VIEWERS,
                    (_l("Sale date"), _l("Dealer code"), _l("Dealer"), _l("Hospital code"), _l("Hospital"),
                     _l("SKU code"), _l("Product"), _l("Lot"), _l("Serial number"), _l("Quantity"),
                     _l("Units via another dealer"), _l("Bought from"), _l("Invoice number")),
                    _export_rows, params=("month", "dealer", "hospital_id"))


_register_export()
