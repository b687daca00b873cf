"""Reads about orders and quotes, scoped by the acting user's reach: a dealer sees its
own, a regional manager those of dealers in its regions, a hospital none here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Authorization, Dealer, Hospital, Region
from app.channel.queries import ChannelScope
from app.core.pagination import Page, keyset_page
from app.orders.models import ORDER_STATUSES, QUOTE_STATUSES, Allocation, Order, OrderEvent, OrderLine, Quote

STATUS_LABELS = {
    "pending_approval": _l("Waiting for credit approval"), "approved": _l("Approved"), "allocated": _l("Allocated"),
    "partially_shipped": _l("Partially shipped"), "shipped": _l("Shipped"), "delivered": _l("Delivered"),
    "closed": _l("Closed"), "rejected": _l("Rejected"), "cancelled": _l("Cancelled"),
}
STATUS_BADGES = {"pending_approval": "wait", "approved": "wait", "allocated": "on", "partially_shipped": "on",
                 "shipped": "on", "delivered": "on", "closed": "off", "rejected": "off", "cancelled": "off"}
QUOTE_LABELS = {"requested": _l("Requested"), "answered": _l("Answered"), "converted": _l("Ordered"),
                "declined": _l("Declined"), "expired": _l("Expired")}
SHANGHAI = ZoneInfo("Asia/Shanghai")
assert set(STATUS_LABELS) == set(ORDER_STATUSES) and set(QUOTE_LABELS) == set(QUOTE_STATUSES)


def _scoped(stmt, scope: ChannelScope, dealer_col=Order.dealer_id):
    """Rows of the dealers ``scope`` reaches (the statement must join Dealer for regions)."""
    if scope.dealer_id is not None:
        return stmt.where(dealer_col == scope.dealer_id)
    if scope.hospital_id is not None:
        return stmt.where(false())
    clause = scope.regions_clause(Dealer.region_id)
    return stmt if clause is None else stmt.where(clause)


@dataclass(frozen=True)
class OrderFilter:
    status: str = ""
    #: an order number, or its start (SO-20261125)
    search: str = ""
    dealer_id: int | None = None
    since: date | None = None
    until: date | None = None


#: the dates the order filters accept (beyond them the day arithmetic overflows)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def day_in_range(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, SHANGHAI).astimezone(timezone.utc)


def orders_page(session: Session, scope: ChannelScope, cursor: str | None, f: OrderFilter = OrderFilter()) -> Page:
    """Newest first, as plain rows (number, when, dealer, hospital, status, amount, lines);
    keyed by id so that a dealer's list walks ix_orders_dealer_id_desc at any depth."""
    lines = select(func.count()).where(OrderLine.order_id == Order.id).correlate(Order).scalar_subquery()
    stmt = (select(Order.id, Order.number, Order.submitted_at, Order.status, Order.total_amount, Order.dealer_id,
                   Dealer.name.label("dealer_name"), Dealer.code.label("dealer_code"),
                   Hospital.name.label("hospital_name"), lines.label("line_count"))
            .join(Dealer, Dealer.id == Order.dealer_id).outerjoin(Hospital, Hospital.id == Order.hospital_id))
    stmt = _scoped(stmt, scope)
    if f.status in STATUS_LABELS:
        stmt = stmt.where(Order.status == f.status)
    if search := f.search.strip().upper():
        stmt = stmt.where(Order.number.startswith(search) if search.startswith("SO-") else Order.number.contains(search))
    if f.dealer_id:
        stmt = stmt.where(Order.dealer_id == f.dealer_id)
    if f.since:
        stmt = stmt.where(Order.submitted_at >= _day_start(f.since))
    if f.until:
        stmt = stmt.where(Order.submitted_at < _day_start(f.until + timedelta(days=1)))
    return keyset_page(session, stmt, (Order.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def order_for(session: Session, scope: ChannelScope, order_id: int) -> Order | None:
    """One order, or None when missing or outside ``scope`` (the page answers 404)."""
    stmt = _scoped(select(Order).join(Dealer, Dealer.id == Order.dealer_id), scope).where(Order.id == order_id)
    return session.scalars(stmt).unique().one_or_none()


def allocations_of(session: Session, order: Order) -> dict[int, list[Allocation]]:
    """Each line's allocations (lots, warehouses), by line id."""
    out: dict[int, list[Allocation]] = {line.id: [] for line in order.lines}
    rows = session.scalars(select(Allocation).where(Allocation.order_line_id.in_(list(out) or [0]))
                           .order_by(Allocation.id))
    for a in rows:
        out[a.order_line_id].append(a)
    return out


def timeline(session: Session, order: Order) -> list[OrderEvent]:
    return list(session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)))


# --- what a dealer may order -----------------------------------------------------------------

def _dealer_auths(session: Session, dealer_id: int, day: date) -> list[Authorization]:
    return list(session.scalars(select(Authorization).where(
        Authorization.dealer_id == dealer_id, Authorization.status == "active", Authorization.valid_from <= day,
        Authorization.valid_until >= day)))


def orderable_skus(session: Session, dealer_id: int, day: date) -> list[Sku]:
    """Active SKUs some active authorization of the dealer covers today."""
    auths = _dealer_auths(session, dealer_id, day)
    lines = {a.product_line_id for a in auths if a.product_line_id}
    skus = {i for a in auths for i in (a.sku_ids or ())}
    if not lines and not skus:
        return []
    return list(session.scalars(select(Sku).where(Sku.status == "active", or_(
        Sku.product_line_id.in_(lines or [0]), Sku.id.in_(skus or [0]))).order_by(Sku.code)))


def _territory(session: Session, dealer_id: int, day: date):
    """The SQL condition on Hospital for the territory of the dealer's authorizations on
    ``day`` (named hospitals, or the subtree of a region); None when it has none."""
    auths = _dealer_auths(session, dealer_id, day)
    named = {i for a in auths for i in (a.hospital_ids or ())}
    paths = [a.region.path for a in auths if a.region_id]
    conds = [Hospital.id.in_(named)] if named else []
    if paths:
        conds.append(Hospital.region_id.in_(select(Region.id).where(or_(*[Region.path.startswith(p) for p in paths]))))
    return or_(*conds) if conds else None


def sellable_hospitals(session: Session, dealer_id: int, day: date, limit: int = 1000) -> list[Hospital]:
    """Active hospitals in the territory of the dealer's authorizations today."""
    territory = _territory(session, dealer_id, day)
    if territory is None:
        return []
    return list(session.scalars(select(Hospital).where(Hospital.status == "active", territory)
                                .order_by(Hospital.name).limit(limit)))


def may_sell_to(session: Session, dealer_id: int, hospital_id: int, day: date) -> bool:
    """Whether the hospital is in the territory of the dealer's authorizations on ``day``
    (the test behind ``sellable_hospitals``, for one hospital, whatever its status)."""
    territory = _territory(session, dealer_id, day)
    return territory is not None and session.scalar(
        select(Hospital.id).where(Hospital.id == hospital_id, territory)) is not None


# --- quotes -------------------------------------------------------------------------------------

def quote_status(quote: Quote, today: date) -> str:
    """The status as shown: an answered quote past its validity is expired."""
    if quote.status == "answered" and quote.valid_until and quote.valid_until < today:
        return "expired"
    return quote.status


def quotes_page(session: Session, scope: ChannelScope, cursor: str | None, status: str = "",
                search: str = "") -> Page:
    stmt = _scoped(select(Quote).join(Dealer, Dealer.id == Quote.dealer_id), scope, Quote.dealer_id)
    if status in QUOTE_LABELS and status != "expired":
        stmt = stmt.where(Quote.status == status)
    if search := search.strip().upper():
        stmt = stmt.where(Quote.number.contains(search))
    return keyset_page(session, stmt, (Quote.id,), lambda q: (q.id,), cursor, descending=True)


def quote_for(session: Session, scope: ChannelScope, quote_id: int) -> Quote | None:
    stmt = _scoped(select(Quote).join(Dealer, Dealer.id == Quote.dealer_id), scope, Quote.dealer_id)
    return session.scalars(stmt.where(Quote.id == quote_id)).unique().one_or_none()


__all__ = ["orders_page", "order_for", "allocations_of", "timeline", "orderable_skus", "sellable_hospitals", "may_sell_to",
           "quotes_page", "quote_for", "quote_status", "OrderFilter", "STATUS_LABELS", "QUOTE_LABELS"]


# --- the list export (Excel), with the page's scope and filters ---------------------------------

def order_filter(params: dict) -> OrderFilter:
    """The filters of the manufacturer's order list, read as the page reads them."""
    from app.core.coerce import as_id

    def day(name):
        try:
            value = date.fromisoformat(str(params.get(name) or "")) if params.get(name) else None
        except ValueError:
            return None
        return value if value is None or day_in_range(value) else None

    status = str(params.get("status") or "")
    return OrderFilter(status=status if status in STATUS_LABELS else "", search=str(params.get("q") or "")[:40],
                       dealer_id=as_id(params.get("dealer")), since=day("since"), until=day("until"))


def _export_rows(session: Session, user, params: dict):
    from app.compliance.exports import walk_batches

    scope, f = ChannelScope.of(user), order_filter(params)
    for items in walk_batches(lambda cursor: orders_page(session, scope, cursor, f)):
        for o in items:
            yield [o.number, o.submitted_at.astimezone(SHANGHAI).replace(tzinfo=None), o.dealer_code, o.dealer_name,
                   o.hospital_name, o.line_count, o.total_amount, str(STATUS_LABELS[o.status])]


def _register_export() -> None:
    from app.channel.queries import CHANNEL_VIEWERS
    from app.compliance.exports import register_export

    register_export("orders", _l("Orders"), CHANNEL_VIEWERS,
                    (_l("Order"), _l("Submitted"), _l("Dealer code"), _l("Dealer"), _l("Hospital"), _l("Lines"),
                     _l("Amount"), _l("Status")),
                    _export_rows, params=("q", "status", "dealer", "since", "until"))


_register_export()
