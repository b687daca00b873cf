"""Reads about warehouses and stock, scoped by the acting user's reach (a regional
manager sees the warehouses of their regions). On-hand figures come from
``stock_balances``; ``reconcile`` proves they still agree with the ledger."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, false, func, or_, select, text
from sqlalchemy.orm import Session

from app.catalog.models import ProductLine, Sku
from app.channel.models import Dealer, Region
from app.channel.queries import ChannelScope
from app.core.pagination import Page, keyset_page
from app.core.settings import setting
from app.inventory.models import (
    STOCK_STATES,
    DealerWarehouse,
    Lot,
    StockBalance,
    StockMovement,
    StockThreshold,
    Warehouse,
)

#: stock states in the order the pages show them
STATES = STOCK_STATES


def _warehouse_scope(stmt, scope: ChannelScope, warehouse_id_column=None):
    """Only warehouses in the scope's regions (everything for a manufacturer-wide user)."""
    if scope.dealer_id is not None or scope.hospital_id is not None:
        return stmt.where(false())
    if warehouse_id_column is None:
        clause = scope.regions_clause(Warehouse.region_id)
        return stmt if clause is None else stmt.where(clause)
    clause = scope.regions_clause(Warehouse.region_id)
    if clause is None:
        return stmt
    return stmt.where(warehouse_id_column.in_(select(Warehouse.id).where(clause)))


# --- warehouses -----------------------------------------------------------------------------

def warehouses_page(session: Session, scope: ChannelScope, cursor: str | None, search: str = "",
                    kind: str = "") -> Page:
    """Warehouses by code with their region, the SKUs and units they hold and the
    dealers they serve (a tenant has tens of warehouses: the counts are cheap)."""
    skus = (select(func.count(func.distinct(StockBalance.sku_id)))
            .where(StockBalance.warehouse_id == Warehouse.id, StockBalance.quantity > 0).scalar_subquery())
    units = (select(func.coalesce(func.sum(StockBalance.quantity), 0))
             .where(StockBalance.warehouse_id == Warehouse.id).scalar_subquery())
    dealers = select(func.count()).where(DealerWarehouse.warehouse_id == Warehouse.id).scalar_subquery()
    stmt = (select(Warehouse.id, Warehouse.code, Warehouse.name, Warehouse.kind, Warehouse.status,
                   Region.name.label("region_name"), Region.name_en.label("region_name_en"),
                   skus.label("sku_count"), units.label("units"), dealers.label("dealer_count"))
            .outerjoin(Region, Region.id == Warehouse.region_id))
    stmt = _warehouse_scope(stmt, scope)
    if search:
        like = f"%{search.strip()}%"
        stmt = stmt.where(or_(Warehouse.code.ilike(like), Warehouse.name.ilike(like)))
    if kind:
        stmt = stmt.where(Warehouse.kind == kind)
    return keyset_page(session, stmt, (Warehouse.code,), lambda r: (r.code,), cursor, entities=False)


def warehouse_detail(session: Session, scope: ChannelScope, warehouse_id: int) -> Warehouse | None:
    """The warehouse if ``scope`` reaches it, else None (the page answers 404)."""
    return session.scalar(_warehouse_scope(select(Warehouse), scope).where(Warehouse.id == warehouse_id))


def warehouse_choices(session: Session, scope: ChannelScope, active_only: bool = True) -> list:
    """(id, code, name) of the warehouses in reach, for a filter or a choice."""
    stmt = select(Warehouse.id, Warehouse.code, Warehouse.name).order_by(Warehouse.code)
    if active_only:
        stmt = stmt.where(Warehouse.status == "active")
    return list(session.execute(_warehouse_scope(stmt, scope)))


def _state_sums():
    return [func.coalesce(func.sum(StockBalance.quantity).filter(StockBalance.state == s), 0).label(s) for s in STATES]


def warehouse_stock(session: Session, warehouse_id: int, limit: int = 500) -> list:
    """A warehouse's stock per SKU and state, with its safety quantity; SKUs that have
    a threshold but no stock are listed too (with zeros)."""
    sums = (select(StockBalance.sku_id, *_state_sums()).where(StockBalance.warehouse_id == warehouse_id)
            .group_by(StockBalance.sku_id).subquery())
    threshold = (select(StockThreshold.sku_id, StockThreshold.safety_quantity)
                 .where(StockThreshold.warehouse_id == warehouse_id).subquery())
    sku_id = func.coalesce(sums.c.sku_id, threshold.c.sku_id)
    stmt = (select(sku_id.label("sku_id"), Sku.code, Sku.name, Sku.unit,
                   *[func.coalesce(sums.c[s], 0).label(s) for s in STATES],
                   threshold.c.safety_quantity)
            .select_from(sums.join(threshold, threshold.c.sku_id == sums.c.sku_id, full=True))
            .join(Sku, Sku.id == sku_id).order_by(Sku.code).limit(limit))
    return list(session.execute(stmt))


def warehouse_sku_row(session: Session, warehouse_id: int, sku_id: int):
    """One row of ``warehouse_stock`` (the inline safety-stock editor's row)."""
    sums = select(*_state_sums()).where(StockBalance.warehouse_id == warehouse_id, StockBalance.sku_id == sku_id).subquery()
    safety = (select(StockThreshold.safety_quantity)
              .where(StockThreshold.warehouse_id == warehouse_id, StockThreshold.sku_id == sku_id).scalar_subquery())
    return session.execute(select(Sku.id.label("sku_id"), Sku.code, Sku.name, Sku.unit,
                                  *[sums.c[s] for s in STATES], safety.label("safety_quantity"))
                           .select_from(Sku).join(sums, text("true")).where(Sku.id == sku_id)).one_or_none()


def serving_dealers(session: Session, warehouse_id: int) -> list[Dealer]:
    return list(session.scalars(select(Dealer).join(DealerWarehouse, DealerWarehouse.dealer_id == Dealer.id)
                                .where(DealerWarehouse.warehouse_id == warehouse_id).order_by(Dealer.code)))


# --- the stock overview -----------------------------------------------------------------------

def stock_page(session: Session, scope: ChannelScope, cursor: str | None, warehouse_id: int | None = None,
               product_line_id: int | None = None, search: str = "", state: str = "") -> Page:
    """One page of stock per SKU × warehouse with a column per state, in (SKU, warehouse)
    order. Grouped straight from ``ix_stock_balances_overview`` (an index-only walk that
    stops after a page of groups), then the page's names are looked up."""
    stmt = select(StockBalance.sku_id, StockBalance.warehouse_id, *_state_sums()).group_by(
        StockBalance.sku_id, StockBalance.warehouse_id).having(func.sum(StockBalance.quantity) > 0)
    stmt = _warehouse_scope(stmt, scope, StockBalance.warehouse_id)
    if warehouse_id:
        stmt = stmt.where(StockBalance.warehouse_id == warehouse_id)
    skus = None
    if product_line_id:
        skus = select(Sku.id).where(Sku.product_line_id == product_line_id)
    if search:
        like = f"%{search.strip()}%"
        found = select(Sku.id).where(or_(Sku.code.ilike(like), Sku.name.ilike(like)))
        skus = found if skus is None else skus.where(Sku.id.in_(found))
    if skus is not None:
        stmt = stmt.where(StockBalance.sku_id.in_(skus))
    if state in STATES:
        stmt = stmt.having(func.sum(StockBalance.quantity).filter(StockBalance.state == state) > 0)
    page = keyset_page(session, stmt, (StockBalance.sku_id, StockBalance.warehouse_id),
                       lambda r: (r.sku_id, r.warehouse_id), cursor, entities=False)
    if page.items:
        sku_names = {r.id: r for r in session.execute(select(Sku.id, Sku.code, Sku.name, Sku.unit)
                                                      .where(Sku.id.in_({r.sku_id for r in page.items})))}
        wh_names = {r.id: r for r in session.execute(select(Warehouse.id, Warehouse.code, Warehouse.name)
                                                     .where(Warehouse.id.in_({r.warehouse_id for r in page.items})))}
        page.items = [StockRow(r.sku_id, r.warehouse_id, sku_names[r.sku_id].code, sku_names[r.sku_id].name,
                               sku_names[r.sku_id].unit, wh_names[r.warehouse_id].code, wh_names[r.warehouse_id].name,
                               {s: getattr(r, s) for s in STATES}) for r in page.items]
    return page


@dataclass
class StockRow:
    sku_id: int
    warehouse_id: int
    sku_code: str
    sku_name: str
    unit: str
    warehouse_code: str
    warehouse_name: str
    states: dict[str, int]


def product_lines(session: Session) -> list:
    """(id, code, name, name_en) of every product line, for the filter."""
    return list(session.execute(select(ProductLine.id, ProductLine.code, ProductLine.name, ProductLine.name_en)
                                .order_by(ProductLine.code)))


def lots_in(session: Session, warehouse_id: int, sku_id: int) -> list:
    """The lots of a SKU in a warehouse with their quantity per state, first expiry first."""
    stmt = (select(Lot.id, Lot.lot_no, Lot.serial_no, Lot.manufactured_on, Lot.expires_on, *_state_sums(),
                   func.max(StockBalance.last_moved_at).label("last_moved_at"))
            .join(StockBalance, StockBalance.lot_id == Lot.id)
            .where(StockBalance.warehouse_id == warehouse_id, StockBalance.sku_id == sku_id)
            .group_by(Lot.id).order_by(Lot.expires_on.asc().nulls_last(), Lot.lot_no, Lot.serial_no))
    return list(session.execute(stmt))


def lot_balances(session: Session, warehouse_id: int, lot_id: int) -> dict[str, int]:
    rows = session.execute(select(StockBalance.state, StockBalance.quantity)
                           .where(StockBalance.warehouse_id == warehouse_id, StockBalance.lot_id == lot_id))
    found = dict(rows.all())
    return {s: found.get(s, 0) for s in STATES}


def lot_ledger_page(session: Session, warehouse_id: int, lot_id: int, cursor: str | None, per_page: int = 50) -> Page:
    """The lot's movements in the warehouse, newest first."""
    from app.identity.models import User

    stmt = (select(StockMovement.id, StockMovement.occurred_at, StockMovement.kind, StockMovement.from_state,
                   StockMovement.to_state, StockMovement.quantity, StockMovement.reason, StockMovement.ref_type,
                   StockMovement.ref_id, User.name.label("actor_name"))
            .outerjoin(User, User.id == StockMovement.actor_id)
            .where(StockMovement.warehouse_id == warehouse_id, StockMovement.lot_id == lot_id))
    return keyset_page(session, stmt, (StockMovement.id,), lambda r: (r.id,), cursor, per_page=per_page,
                       entities=False, descending=True)


def has_stock_history(session: Session, warehouse_id: int, lot_id: int) -> bool:
    return session.scalar(select(StockBalance.lot_id).where(StockBalance.warehouse_id == warehouse_id,
                                                            StockBalance.lot_id == lot_id).limit(1)) is not None


# --- reconciliation ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Mismatch:
    warehouse_id: int
    lot_id: int
    state: str
    ledger: int
    balance: int

    def __str__(self) -> str:
        return (f"warehouse {self.warehouse_id} lot {self.lot_id} {self.state}: "
                f"ledger {self.ledger}, balance {self.balance}")


_RECONCILE = text("""
WITH ledger AS (
    SELECT warehouse_id, lot_id, to_state AS state, quantity AS q FROM stock_movements WHERE to_state IS NOT NULL
    UNION ALL
    SELECT warehouse_id, lot_id, from_state, -quantity FROM stock_movements WHERE from_state IS NOT NULL
), sums AS (
    SELECT warehouse_id, lot_id, state, sum(q) AS q FROM ledger GROUP BY warehouse_id, lot_id, state
)
SELECT coalesce(s.warehouse_id, b.warehouse_id) AS warehouse_id, coalesce(s.lot_id, b.lot_id) AS lot_id,
       coalesce(s.state, b.state) AS state, coalesce(s.q, 0) AS ledger, coalesce(b.quantity, 0) AS balance
FROM sums s FULL JOIN stock_balances b
  ON b.warehouse_id = s.warehouse_id AND b.lot_id = s.lot_id AND b.state = s.state
WHERE coalesce(s.q, 0) <> coalesce(b.quantity, 0)
ORDER BY 1, 2, 3
""")


def reconcile(session: Session) -> list[Mismatch]:
    """Every warehouse × lot × state whose balance differs from the sum of its ledger
    rows (units in minus units out); empty when the two agree."""
    return [Mismatch(r.warehouse_id, r.lot_id, r.state, int(r.ledger), int(r.balance))
            for r in session.execute(_RECONCILE)]


def balance_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StockBalance))


# --- alerts -----------------------------------------------------------------------------------

ALERT_KINDS = ("below_safety", "near_expiry", "slow_moving")


@dataclass
class StockAlerts:
    counts: dict[str, int]
    rows: list = field(default_factory=list)
    near_expiry_days: int = 0
    slow_moving_days: int = 0
    limit: int = 0


def _below_safety(scope: ChannelScope):
    available = (select(StockBalance.warehouse_id, StockBalance.sku_id, func.sum(StockBalance.quantity).label("q"))
                 .where(StockBalance.state == "available")
                 .group_by(StockBalance.warehouse_id, StockBalance.sku_id).subquery())
    q = func.coalesce(available.c.q, 0)
    stmt = (select(StockThreshold.warehouse_id, StockThreshold.sku_id, q.label("quantity"),
                   StockThreshold.safety_quantity)
            .outerjoin(available, and_(available.c.warehouse_id == StockThreshold.warehouse_id,
                                       available.c.sku_id == StockThreshold.sku_id))
            .where(q < StockThreshold.safety_quantity))
    return _warehouse_scope(stmt, scope, StockThreshold.warehouse_id)


def _near_expiry(scope: ChannelScope, day: date, days: int):
    stmt = (select(StockBalance.warehouse_id, StockBalance.sku_id, StockBalance.lot_id, StockBalance.state,
                   StockBalance.quantity, StockBalance.expires_on)
            .where(StockBalance.state.in_(("available", "allocated")), StockBalance.quantity > 0,
                   StockBalance.expires_on.is_not(None), StockBalance.expires_on <= day + timedelta(days=days)))
    return _warehouse_scope(stmt, scope, StockBalance.warehouse_id)


def _slow_moving(scope: ChannelScope, day: date, days: int):
    since = datetime.combine(day - timedelta(days=days), time(0), tzinfo=timezone(timedelta(hours=8)))
    stmt = (select(StockBalance.warehouse_id, StockBalance.sku_id, StockBalance.lot_id, StockBalance.state,
                   StockBalance.quantity, StockBalance.expires_on, StockBalance.last_moved_at)
            .where(StockBalance.state == "available", StockBalance.quantity > 0, StockBalance.last_moved_at < since))
    return _warehouse_scope(stmt, scope, StockBalance.warehouse_id)


def stock_alerts(session: Session, scope: ChannelScope, day: date, kind: str | None = None, warehouse_id: int | None = None,
                 limit: int = 300) -> StockAlerts:
    """How many alerts of each kind the scope has on ``day`` and, for ``kind``, the rows
    (with SKU, warehouse and lot names): below safety stock, near expiry (available or
    allocated lots expiring within the ``near_expiry_days`` setting, expired ones
    included) and slow-moving (available stock untouched for ``slow_moving_days``)."""
    near, slow = setting(session, "near_expiry_days"), setting(session, "slow_moving_days")
    queries = {"below_safety": _below_safety(scope), "near_expiry": _near_expiry(scope, day, near),
               "slow_moving": _slow_moving(scope, day, slow)}
    if warehouse_id:
        queries = {k: q.where(q.selected_columns.warehouse_id == warehouse_id) for k, q in queries.items()}
    counts = {k: session.scalar(select(func.count()).select_from(q.subquery())) for k, q in queries.items()}
    result = StockAlerts(counts, [], near, slow, limit)
    if kind in queries:
        sub = queries[kind].subquery()
        cols = [sub]
        stmt = (select(*cols, Sku.code.label("sku_code"), Sku.name.label("sku_name"),
                       Warehouse.code.label("warehouse_code"), Warehouse.name.label("warehouse_name"))
                .join(Sku, Sku.id == sub.c.sku_id).join(Warehouse, Warehouse.id == sub.c.warehouse_id))
        if kind == "below_safety":
            stmt = stmt.order_by(Warehouse.code, Sku.code)
        else:
            stmt = stmt.add_columns(Lot.lot_no, Lot.serial_no).join(Lot, Lot.id == sub.c.lot_id)
            stmt = stmt.order_by(sub.c.expires_on, Warehouse.code, Sku.code) if kind == "near_expiry" else \
                stmt.order_by(sub.c.last_moved_at, Warehouse.code, Sku.code)
        result.rows = list(session.execute(stmt.limit(limit)))
    return result


def expired_available(session: Session, day: date) -> list[StockBalance]:
    """Available balances whose lot expired before ``day`` (the daily expiry move),
    row-locked."""
    return list(session.scalars(select(StockBalance).where(
        StockBalance.state == "available", StockBalance.quantity > 0, StockBalance.expires_on < day)
        .order_by(StockBalance.warehouse_id, StockBalance.lot_id).with_for_update()))

