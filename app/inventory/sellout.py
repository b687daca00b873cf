"""Dealers' sell-out reports (流向) and the channel stock they imply.

Sell-in of a dealer (what it received) is the delivered shipment lines of its orders
(``received_quantity``, else ``quantity``) minus the lines of its returns that came back
(``received``/``credited``), plus what other dealers reported selling to it (分销流向: a
sell-out line naming a buyer dealer instead of a hospital, received on its sale day). Channel stock per dealer × SKU × lot is sell-in minus
sell-out; days of cover divide it by the average daily sell-out of the last 90 days.

A sell-out line is checked against that position: the lot must be one the dealer
received, of the SKU named, sold no earlier than it arrived, and never more than it
still holds. Two reports of one dealer are serialized by a transaction-scoped advisory
lock (per tenant schema and dealer), so two at once cannot both sell the last units.

Everything here reads or aggregates in SQL (one statement per figure), never row by row.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import Date, case, cast, false, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital, Region
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.pagination import Page, keyset_page
from app.inventory.models import Lot, SellOutLine
from app.orders.models import Order, ReturnLine, ReturnRequest, Shipment, ShipmentLine
from app.orders.queries import may_sell_to
from app.service.installed import unit_from_sell_out

COVER_WINDOW_DAYS = 90
SOURCES = ("form", "import", "api")
RETURNED_STATUSES = ("received", "credited")
LATE_LOOKBACK_MONTHS = 6
#: manufacturer roles that see sell-out, channel stock and late reporters
SELL_OUT_VIEWERS = ("admin", "channel_manager", "regional_manager", "finance")


# --- pure rules --------------------------------------------------------------------------------

def days_of_cover(stock: int, sold_in_window: int, window: int = COVER_WINDOW_DAYS) -> int | None:
    """How many days ``stock`` lasts at the average daily sell-out of the window; None
    when nothing was sold (no rate to divide by). Rounded half up to whole days."""
    if sold_in_window <= 0:
        return None
    days = Decimal(max(stock, 0) * window) / Decimal(sold_in_window)
    return int(days.quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def due_on(month: date, due_day: int) -> date:
    """The day a month's sell-out is due: ``due_day`` of the next month (the last day
    when the month is shorter)."""
    year, mon = (month.year + 1, 1) if month.month == 12 else (month.year, month.month + 1)
    return date(year, mon, min(max(due_day, 1), calendar.monthrange(year, mon)[1]))


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def parse_month(value: str | None) -> date | None:
    """"2026-11" → date(2026, 11, 1); blank → None; anything else, or a year outside
    2000–2100 (the list adds a month to it), → InvalidInput."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        year, mon = value.split("-")
        if not (year.isascii() and year.isdigit() and 2000 <= int(year) <= 2100):
            raise ValueError(year)
        return date(int(year), int(mon), 1)
    except ValueError:
        raise InvalidInput("month", _("Enter a month as YYYY-MM.")) from None


# --- the dealer's position per lot ---------------------------------------------------------

def _shanghai_day(column):
    return cast(func.timezone("Asia/Shanghai", column), Date)


def _received_day():
    return _shanghai_day(func.coalesce(Shipment.delivered_at, Shipment.shipped_at, Shipment.created_at))


def _positions(dealer_ids, day: date | None, window_start: date, lot_id: int | None = None):
    """A subquery: per dealer × lot, units delivered, returned, sold (all to ``day``,
    None: everything recorded), sold since ``window_start``, and the first delivery day."""
    zero, no_day = literal(0), literal(None, Date)
    received_day = _received_day()
    delivered = (select(Order.dealer_id.label("dealer_id"), ShipmentLine.lot_id.label("lot_id"),
                        func.coalesce(ShipmentLine.received_quantity, ShipmentLine.quantity).label("delivered"),
                        zero.label("returned"), zero.label("sold"), zero.label("sold_90"),
                        received_day.label("first_day"))
                 .select_from(ShipmentLine).join(Shipment, Shipment.id == ShipmentLine.shipment_id)
                 .join(Order, Order.id == Shipment.order_id).where(Shipment.status == "delivered"))
    returned = (select(ReturnRequest.dealer_id, ReturnLine.lot_id, zero, ReturnLine.quantity, zero, zero, no_day)
                .select_from(ReturnLine).join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
                .where(ReturnRequest.status.in_(RETURNED_STATUSES)))
    sold = select(SellOutLine.dealer_id, SellOutLine.lot_id, zero, zero, SellOutLine.quantity,
                  case((SellOutLine.sold_on >= window_start, SellOutLine.quantity), else_=0), no_day)
    # what another dealer reported selling to this one arrived on the sale day
    bought = (select(SellOutLine.buyer_dealer_id, SellOutLine.lot_id, SellOutLine.quantity, zero, zero, zero,
                     SellOutLine.sold_on).where(SellOutLine.buyer_dealer_id.is_not(None)))
    if dealer_ids is not None:
        delivered = delivered.where(Order.dealer_id.in_(dealer_ids))
        returned = returned.where(ReturnRequest.dealer_id.in_(dealer_ids))
        sold = sold.where(SellOutLine.dealer_id.in_(dealer_ids))
        bought = bought.where(SellOutLine.buyer_dealer_id.in_(dealer_ids))
    if lot_id is not None:
        delivered = delivered.where(ShipmentLine.lot_id == lot_id)
        returned = returned.where(ReturnLine.lot_id == lot_id)
        sold = sold.where(SellOutLine.lot_id == lot_id)
        bought = bought.where(SellOutLine.lot_id == lot_id)
    if day is not None:
        delivered = delivered.where(received_day <= day)
        returned = returned.where(or_(ReturnRequest.received_at.is_(None), _shanghai_day(ReturnRequest.received_at) <= day))
        sold = sold.where(SellOutLine.sold_on <= day)
        bought = bought.where(SellOutLine.sold_on <= day)
    moves = union_all(delivered, returned, sold, bought).subquery()
    return (select(moves.c.dealer_id, moves.c.lot_id, func.sum(moves.c.delivered).label("delivered"),
                   func.sum(moves.c.returned).label("returned"), func.sum(moves.c.sold).label("sold"),
                   func.sum(moves.c.sold_90).label("sold_90"), func.min(moves.c.first_day).label("first_day"))
            .group_by(moves.c.dealer_id, moves.c.lot_id)).subquery()


def direct_units(dealer_id, lot_id, day):
    """SQL: units of the lot the dealer had received *from the manufacturer* by ``day``
    (delivered shipment lines of its orders, minus its returns received back). The
    arguments may be columns of an outer query (two-invoice checks correlate on them)."""
    received_day = _received_day()
    delivered = (select(func.coalesce(func.sum(func.coalesce(ShipmentLine.received_quantity, ShipmentLine.quantity)), 0))
                 .select_from(ShipmentLine).join(Shipment, Shipment.id == ShipmentLine.shipment_id)
                 .join(Order, Order.id == Shipment.order_id)
                 .where(Shipment.status == "delivered", Order.dealer_id == dealer_id, ShipmentLine.lot_id == lot_id,
                        received_day <= day).scalar_subquery())
    returned = (select(func.coalesce(func.sum(ReturnLine.quantity), 0))
                .select_from(ReturnLine).join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
                .where(ReturnRequest.dealer_id == dealer_id, ReturnLine.lot_id == lot_id,
                       ReturnRequest.status.in_(RETURNED_STATUSES),
                       or_(ReturnRequest.received_at.is_(None), _shanghai_day(ReturnRequest.received_at) <= day))
                .scalar_subquery())
    return delivered - returned


@dataclass(frozen=True)
class LotPosition:
    lot_id: int
    received: int      # delivered minus returned
    sold: int
    first_received_on: date | None

    @property
    def available(self) -> int:
        return self.received - self.sold


def lot_position(session: Session, dealer_id: int, lot_id: int) -> LotPosition | None:
    """What the dealer received of the lot (net of returns), sold of it, and when it
    first arrived; None when it never received the lot."""
    pos = _positions([dealer_id], None, shanghai_today(), lot_id)
    row = session.execute(select(pos.c.delivered, pos.c.returned, pos.c.sold, pos.c.first_day)).first()
    if row is None or not row.delivered:
        return None
    return LotPosition(lot_id, int(row.delivered) - int(row.returned), int(row.sold), row.first_day)


def received_lots(session: Session, dealer_id: int, sku_id: int | None = None) -> list:
    """The lots the dealer received (for the form's choice), with what it still holds:
    rows of lot_id, sku_id, sku_code, lot_no, serial_no, expires_on, available."""
    return [r for r in channel_stock(session, [dealer_id], None, sku_id=sku_id)]


def buyer_choices(session: Session, dealer: Dealer, limit: int = 500) -> list:
    """The dealers the form offers as buyers (分销): active ones of the seller's own area
    (华东, 华南 …), its own sub-dealers first; rows of id, code, name."""
    parts = dealer.region.path.strip("/").split("/")
    area = "/" + "/".join(parts[:2]) + "/" if len(parts) >= 2 else dealer.region.path
    return list(session.execute(
        select(Dealer.id, Dealer.code, Dealer.name).join(Region, Region.id == Dealer.region_id)
        .where(Dealer.status == "active", Dealer.id != dealer.id, Region.path.startswith(area))
        .order_by(case((Dealer.upstream_dealer_id == dealer.id, 0), else_=1), Dealer.code).limit(limit)))


# --- recording a sale --------------------------------------------------------------------

def _lock_dealer(session: Session, dealer_id: int) -> None:
    """Serialize the sell-out of one dealer (per tenant schema) until the transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :what), :dealer)"),
                    {"what": "/sell_out", "dealer": int(dealer_id)})


def _quantity(values: dict) -> int:
    return coerce.whole(values, "quantity", 1, 1_000_000, required=True)


def _unit_price(values: dict) -> Decimal:
    raw = values.get("unit_price")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InvalidInput("unit_price", _("This field is required."))
    try:
        price = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip().replace(",", "").lstrip("¥￥"))
    except InvalidOperation:
        raise InvalidInput("unit_price", _("Enter an amount such as 1280.00.")) from None
    if not price.is_finite() or price < 0 or price.as_tuple().exponent < -2 or price >= Decimal("1e12"):
        raise InvalidInput("unit_price", _("Enter an amount such as 1280.00."))
    return price.quantize(Decimal("0.01"))


def _find_lot(session: Session, sku: Sku, values: dict) -> Lot:
    """The lot named by ``lot_id`` (chosen from the list) or typed (``lot_no`` /
    ``serial_no``), refusing a lot of another SKU."""
    lot_id = coerce.as_id(values.get("lot_id")) if values.get("lot_id") not in (None, "") else None
    lot_no = coerce.text(values, "lot_no", max_length=20)
    serial_no = coerce.text(values, "serial_no", max_length=20)
    field = "lot_no" if lot_no or not serial_no else "serial_no"
    if values.get("lot_id") not in (None, "") and lot_id is None:
        raise InvalidInput("lot_id", _("Choose a lot from the list."))
    if lot_id is not None:
        lot, field = session.get(Lot, lot_id), "lot_id"
        if lot is None:
            raise InvalidInput("lot_id", _("Choose a lot from the list."))
    elif lot_no or serial_no:
        stmt = select(Lot).where(Lot.sku_id == sku.id)
        if lot_no:
            stmt = stmt.where(Lot.lot_no == lot_no)
        if serial_no:
            stmt = stmt.where(Lot.serial_no == serial_no)
        lot = session.scalars(stmt.order_by(Lot.id).limit(1)).first()
        if lot is None:
            other = select(Lot).where(Lot.lot_no == lot_no) if lot_no else select(Lot).where(Lot.serial_no == serial_no)
            lot = session.scalars(other.order_by(Lot.id).limit(1)).first()
            if lot is None:
                raise InvalidInput(field, _("You have not received lot %(lot)s of %(sku)s.", lot=lot_no or serial_no,
                                            sku=sku.code))
    else:
        raise InvalidInput("lot_id", _("Choose the lot or type its lot or serial number."))
    if lot.sku_id != sku.id:
        raise InvalidInput(field, _("Lot %(lot)s is of %(other)s, not of %(sku)s.", lot=lot.lot_no or lot.serial_no,
                                    other=lot.sku.code, sku=sku.code))
    return lot


def _buyer_dealer(session: Session, dealer: Dealer, values: dict) -> Dealer:
    buyer_id = coerce.ident(values, "buyer_dealer_id", required=True)
    buyer = session.get(Dealer, buyer_id) if buyer_id else None
    if buyer is None:
        raise InvalidInput("buyer_dealer_id", _("Choose a dealer from the list."))
    if buyer.id == dealer.id:
        raise InvalidInput("buyer_dealer_id", _("A sale to yourself is no sale: choose another dealer."))
    if buyer.status != "active":
        raise InvalidInput("buyer_dealer_id", _("%(name)s is not an active dealer.", name=buyer.name))
    return buyer


def _check_dealer_sale(session: Session, dealer: Dealer, buyer: Dealer, sku: Sku, sold_on: date) -> None:
    """A sale between dealers (分销): the seller must have been authorized for the
    product on the day, and so must the buyer (it buys to sell on)."""
    from app.channel.authorizations import sellability

    def authorized(d: Dealer) -> bool:
        return not any(b.code == "not_authorized" for b in sellability(session, d.id, sku.id, None, sold_on))

    if not authorized(dealer):
        raise InvalidInput("sku_id", _("On %(day)s you were not authorized to sell %(sku)s.", day=sold_on.isoformat(),
                                       sku=sku.code))
    if not authorized(buyer):
        raise InvalidInput("buyer_dealer_id", _("On %(day)s %(name)s was not authorized for %(sku)s, so it may not "
                                                "buy it to sell on.", day=sold_on.isoformat(), name=buyer.name,
                                                sku=sku.code))


def _given(values: dict, field: str) -> bool:
    value = values.get(field)
    return value is not None and not (isinstance(value, str) and not value.strip())


def record_sell_out(session: Session, dealer: Dealer, user, values: dict, source: str = "form",
                    import_run_id: int | None = None, today: date | None = None) -> SellOutLine:
    """Record one sale of ``dealer`` to a hospital — or to another dealer (分销流向,
    ``buyer_dealer_id`` instead of ``hospital_id``) — checked against what it received.
    ``values``: sold_on, hospital_id or buyer_dealer_id, sku_id, lot_id or
    lot_no/serial_no, quantity, unit_price, invoice_no — typed values or text from a
    form/cell. Flushes, never commits; refuses with ``InvalidInput(field, message)``."""
    if source not in SOURCES:
        raise ValueError(source)
    today = today or shanghai_today()
    sold_on = coerce.day(values, "sold_on", required=True)
    if sold_on > today:
        raise InvalidInput("sold_on", _("The sale date is in the future."))
    hospital = buyer = None
    if _given(values, "buyer_dealer_id"):
        if _given(values, "hospital_id"):
            raise InvalidInput("buyer_dealer_id", _("Name the hospital or the dealer you sold to, not both."))
        buyer = _buyer_dealer(session, dealer, values)
    else:
        hospital_id = coerce.ident(values, "hospital_id", required=True)
        hospital = session.get(Hospital, hospital_id) if hospital_id else None
        if hospital is None:
            raise InvalidInput("hospital_id", _("Choose a hospital from the list."))
        if hospital.status != "active":
            raise InvalidInput("hospital_id", _("%(name)s is not an active hospital.", name=hospital.name))
        if not may_sell_to(session, dealer.id, hospital.id, sold_on):
            raise InvalidInput("hospital_id", _("On %(day)s you were not authorized to sell to %(name)s.",
                                                day=sold_on.isoformat(), name=hospital.name))
    sku_id = coerce.ident(values, "sku_id", required=True)
    sku = session.get(Sku, sku_id) if sku_id else None
    if sku is None:
        raise InvalidInput("sku_id", _("Choose a product from the list."))
    if buyer is not None:
        _check_dealer_sale(session, dealer, buyer, sku, sold_on)
    lot = _find_lot(session, sku, values)
    lot_field = "lot_id" if values.get("lot_id") not in (None, "") else "serial_no" if (
        values.get("serial_no") and not values.get("lot_no")) else "lot_no"
    quantity = _quantity(values)
    if lot.serial_no and quantity != 1:
        raise InvalidInput("quantity", _("A serial number is one unit."))
    unit_price = _unit_price(values)
    invoice_no = coerce.text(values, "invoice_no", required=True, max_length=40)

    _lock_dealer(session, dealer.id)
    position = lot_position(session, dealer.id, lot.id)
    label = lot.lot_no or lot.serial_no
    if position is None:
        raise InvalidInput(lot_field, _("You have not received lot %(lot)s of %(sku)s.", lot=label, sku=sku.code))
    if position.first_received_on and sold_on < position.first_received_on:
        raise InvalidInput("sold_on", _("Lot %(lot)s reached you on %(day)s: a sale cannot be earlier.", lot=label,
                                        day=position.first_received_on.isoformat()))
    if quantity > position.available:
        raise InvalidInput("quantity", _("You hold %(n)d of lot %(lot)s (received %(received)d, already reported sold "
                                         "%(sold)d).", n=max(position.available, 0), lot=label,
                                         received=position.received, sold=position.sold))
    line = SellOutLine(dealer_id=dealer.id, sold_on=sold_on, hospital_id=hospital.id if hospital else None,
                       buyer_dealer_id=buyer.id if buyer else None, sku_id=sku.id, lot_id=lot.id,
                       quantity=quantity, unit_price=unit_price, invoice_no=invoice_no, source=source,
                       import_run_id=import_run_id, reported_by_id=getattr(user, "id", None))
    session.add(line)
    session.flush()
    unit_from_sell_out(session, line, getattr(user, "id", None))
    return line


# --- reading sell-out --------------------------------------------------------------------------

def _dealer_scope(stmt, dealer_column, scope):
    """Restrict to what ``scope`` (a ChannelScope) may see: its own dealer, a region's
    dealers, or everything; a hospital sees none."""
    if scope.hospital_id is not None:
        return stmt.where(false())
    if scope.dealer_id is not None:
        return stmt.where(dealer_column == scope.dealer_id)
    clause = scope.regions_clause(Dealer.region_id)
    return stmt if clause is None else stmt.where(dealer_column.in_(select(Dealer.id).where(clause)))


@dataclass
class SellOutFilter:
    month: date | None = None
    dealer_id: int | None = None
    hospital_id: int | None = None
    sku_id: int | None = None

    def as_params(self) -> dict:
        return {"month": self.month.strftime("%Y-%m") if self.month else "", "dealer_id": self.dealer_id or "",
                "hospital_id": self.hospital_id or "", "sku_id": self.sku_id or ""}


def sell_out_stmt(scope, flt: SellOutFilter):
    from sqlalchemy.orm import aliased

    buyer = aliased(Dealer)
    stmt = (select(SellOutLine.id, SellOutLine.sold_on, SellOutLine.quantity, SellOutLine.unit_price,
                   SellOutLine.invoice_no, SellOutLine.source, SellOutLine.created_at,
                   Hospital.code.label("hospital_code"), Hospital.name.label("hospital_name"),
                   buyer.code.label("buyer_code"), buyer.name.label("buyer_name"),
                   Sku.code.label("sku_code"), Sku.name.label("sku_name"), Lot.lot_no, Lot.serial_no,
                   Dealer.id.label("dealer_id"), Dealer.code.label("dealer_code"), Dealer.name.label("dealer_name"))
            .select_from(SellOutLine)
            .outerjoin(Hospital, Hospital.id == SellOutLine.hospital_id)
            .outerjoin(buyer, buyer.id == SellOutLine.buyer_dealer_id).join(Sku, Sku.id == SellOutLine.sku_id)
            .join(Lot, Lot.id == SellOutLine.lot_id).join(Dealer, Dealer.id == SellOutLine.dealer_id))
    stmt = _dealer_scope(stmt, SellOutLine.dealer_id, scope)
    if flt.month:
        stmt = stmt.where(SellOutLine.sold_on >= flt.month, SellOutLine.sold_on < add_months(flt.month, 1))
    if flt.dealer_id:
        stmt = stmt.where(SellOutLine.dealer_id == flt.dealer_id)
    if flt.hospital_id:
        stmt = stmt.where(SellOutLine.hospital_id == flt.hospital_id)
    if flt.sku_id:
        stmt = stmt.where(SellOutLine.sku_id == flt.sku_id)
    return stmt


def sell_out_page(session: Session, scope, flt: SellOutFilter, cursor: str | None) -> Page:
    """Reported lines, most recently reported first (keyset on the id: the primary key
    walks any depth fast; the month filter narrows by sale date)."""
    return keyset_page(session, sell_out_stmt(scope, flt), (SellOutLine.id,), lambda r: (r.id,), cursor,
                       entities=False, descending=True)


def sell_out_line_for(session: Session, scope, line_id: int) -> SellOutLine | None:
    stmt = _dealer_scope(select(SellOutLine).where(SellOutLine.id == line_id), SellOutLine.dealer_id, scope)
    return session.scalar(stmt)


# --- channel stock --------------------------------------------------------------------------

@dataclass(frozen=True)
class StockRow:
    dealer_id: int
    sku_id: int
    sku_code: str
    sku_name: str
    lot_id: int
    lot_no: str | None
    serial_no: str | None
    expires_on: date | None
    received: int
    sold: int
    sold_90: int
    days_of_cover: int | None

    @property
    def stock(self) -> int:
        return self.received - self.sold

    @property
    def available(self) -> int:
        return self.stock


def channel_stock(session: Session, dealer_ids, day: date | None, sku_id: int | None = None,
                  include_empty: bool = False) -> list[StockRow]:
    """Per dealer × SKU × lot: sell-in − returns − sell-out as of ``day`` (None: all
    recorded), with days of cover from the lot's sell-out of the 90 days to ``day``.
    ``dealer_ids`` None means every dealer (the caller scopes). Lots with nothing left
    are left out unless ``include_empty``."""
    window_start = (day or shanghai_today()) - timedelta(days=COVER_WINDOW_DAYS - 1)
    pos = _positions(dealer_ids, day, window_start)
    stmt = (select(pos.c.dealer_id, Lot.sku_id, Sku.code, Sku.name, Lot.id, Lot.lot_no, Lot.serial_no, Lot.expires_on,
                   pos.c.delivered, pos.c.returned, pos.c.sold, pos.c.sold_90)
            .select_from(pos).join(Lot, Lot.id == pos.c.lot_id).join(Sku, Sku.id == Lot.sku_id)
            .where(pos.c.delivered > 0)
            .order_by(pos.c.dealer_id, Sku.code, Lot.expires_on.nulls_last(), Lot.id))
    if sku_id is not None:
        stmt = stmt.where(Lot.sku_id == sku_id)
    rows = []
    for dealer_id, sku, code, name, lot_id, lot_no, serial_no, expires_on, delivered, returned, sold, sold_90 in \
            session.execute(stmt):
        received = int(delivered) - int(returned)
        row = StockRow(dealer_id, sku, code, name, lot_id, lot_no, serial_no, expires_on, received, int(sold),
                       int(sold_90), days_of_cover(received - int(sold), int(sold_90)))
        if include_empty or row.stock != 0:
            rows.append(row)
    return rows


@dataclass(frozen=True)
class SkuStock:
    sku_id: int
    sku_code: str
    sku_name: str
    stock: int
    sold_90: int
    days_of_cover: int | None
    lots: list


def by_sku(rows: list[StockRow]) -> list[SkuStock]:
    """Lot rows summed per SKU (days of cover from the SKU's own 90-day sell-out)."""
    groups: dict[int, list[StockRow]] = {}
    for row in rows:
        groups.setdefault(row.sku_id, []).append(row)
    out = []
    for sku_id, lots in groups.items():
        stock, sold = sum(r.stock for r in lots), sum(r.sold_90 for r in lots)
        out.append(SkuStock(sku_id, lots[0].sku_code, lots[0].sku_name, stock, sold, days_of_cover(stock, sold), lots))
    return sorted(out, key=lambda s: s.sku_code)


@dataclass(frozen=True)
class DealerStock:
    region_name: str
    region_name_en: str
    dealer_id: int
    dealer_code: str
    dealer_name: str
    stock: int
    sold_90: int
    days_of_cover: int | None


def scoped_dealers(session: Session, scope) -> list:
    """Dealers the scope may see (id, code, name, and the names of the area 华东, 华南 …
    their region belongs to), by area then code."""
    from sqlalchemy.orm import aliased

    area = aliased(Region)
    area_id = func.nullif(func.split_part(func.trim(Region.path, "/"), "/", 2), "").cast(Region.id.type)
    stmt = (select(Dealer.id, Dealer.code, Dealer.name,
                   func.coalesce(area.name, Region.name).label("region_name"),
                   func.coalesce(area.name_en, Region.name_en).label("region_name_en"))
            .join(Region, Region.id == Dealer.region_id).outerjoin(area, area.id == area_id)
            .order_by(func.coalesce(area.path, Region.path), Dealer.code))
    if scope.dealer_id is not None:
        stmt = stmt.where(Dealer.id == scope.dealer_id)
    elif scope.hospital_id is not None:
        stmt = stmt.where(false())
    else:
        clause = scope.regions_clause(Dealer.region_id)
        if clause is not None:
            stmt = stmt.where(clause)
    return list(session.execute(stmt))


def stock_by_dealer(session: Session, scope, day: date) -> list[DealerStock]:
    """Channel stock per dealer the scope sees, ordered by region then dealer (only
    dealers that hold or held something)."""
    dealers = scoped_dealers(session, scope)
    if not dealers:
        return []
    rows = channel_stock(session, [d.id for d in dealers], day)
    totals: dict[int, list[int]] = {}
    for row in rows:
        t = totals.setdefault(row.dealer_id, [0, 0])
        t[0] += row.stock
        t[1] += row.sold_90
    return [DealerStock(d.region_name, d.region_name_en, d.id, d.code, d.name, totals[d.id][0], totals[d.id][1],
                        days_of_cover(*totals[d.id])) for d in dealers if d.id in totals]


# --- late reporters ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LateReport:
    dealer_id: int
    dealer_code: str
    dealer_name: str
    month: date
    due_on: date
    #: when the first line for the month was reported (after the due day), or None
    reported_on: date | None
    days_late: int


def late_reporters(session: Session, scope, day: date | None = None, due_day: int | None = None) -> list[LateReport]:
    """Dealers (in ``scope``) that received goods in a month and had reported no sale
    of that month by its due day (``sell_out_due_day`` of the next month): still
    missing, or reported late — over the last six months, most days late first."""
    from app.core.settings import setting

    day = day or shanghai_today()
    due_day = due_day if due_day is not None else setting(session, "sell_out_due_day")
    since = add_months(month_start(day), -LATE_LOOKBACK_MONTHS)
    month_col = func.date_trunc("month", _received_day()).cast(Date)
    sellin = (select(Order.dealer_id.label("dealer_id"), month_col.label("month"))
              .select_from(Shipment).join(Order, Order.id == Shipment.order_id)
              .where(Shipment.status == "delivered", _received_day() >= since, _received_day() <= day)
              .group_by(Order.dealer_id, month_col))
    sellin = _dealer_scope(sellin, Order.dealer_id, scope).subquery()
    first_report = (select(func.min(_shanghai_day(SellOutLine.created_at)))
                    .where(SellOutLine.dealer_id == sellin.c.dealer_id, SellOutLine.sold_on >= sellin.c.month,
                           SellOutLine.sold_on < sellin.c.month + text("interval '1 month'"))
                    .scalar_subquery())
    stmt = (select(sellin.c.dealer_id, sellin.c.month, first_report, Dealer.code, Dealer.name)
            .join(Dealer, Dealer.id == sellin.c.dealer_id))
    late = []
    for dealer_id, month, reported_on, code, name in session.execute(stmt):
        month = month if isinstance(month, date) else month.date()
        due = due_on(month, due_day)
        if day <= due:
            continue  # not due yet
        if reported_on is not None and reported_on <= due:
            continue
        late.append(LateReport(dealer_id, code, name, month, due, reported_on, ((reported_on or day) - due).days))
    return sorted(late, key=lambda r: (-r.days_late, r.dealer_code, r.month))


# --- export of the manufacturer's sell-out list ---------------------------------------------

def _export_rows(session, user, params):
    from app.channel.queries import ChannelScope
    from app.compliance.exports import id_param, walk_batches

    try:
        month = parse_month(params.get("month"))
    except InvalidInput:
        month = None
    flt = SellOutFilter(month=month, dealer_id=id_param(params, "dealer_id"), hospital_id=id_param(params, "hospital_id"),
                        sku_id=id_param(params, "sku_id"))
    scope = ChannelScope.of(user)
    for items in walk_batches(lambda cursor: sell_out_page(session, scope, flt, cursor)):
        for r in items:
            yield [r.sold_on, r.dealer_code, r.dealer_name, r.hospital_code, r.hospital_name, r.sku_code, r.sku_name,
                   r.lot_no, r.serial_no, r.quantity, r.unit_price, r.invoice_no, r.source, r.buyer_code, r.buyer_name]


def _register_export():
    from flask_babel import lazy_gettext as _l

    from app.compliance.exports import register_export

    register_export("sell_out", _l("Sell-out"), SELL_OUT_VIEWERS,
                    (_l("Sale date"), _l("Dealer code"), _l("Dealer"), _l("Hospital code"), _l("Hospital"), _l("SKU code"),
                     _l("Product"), _l("Lot"), _l("Serial number"), _l("Quantity"), _l("Unit price"), _l("Invoice number"),
                     _l("Source"), _l("Buyer dealer code"), _l("Buyer dealer")),
                    _export_rows, params=("month", "dealer_id", "hospital_id", "sku_id"))


_register_export()
