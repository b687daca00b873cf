"""Reads that explain rebate amounts: the dealer's "why this amount" (返利明细) — each
policy in force, the base, the tier reached, the lines behind the base, the conditions
and what it takes to reach the next tier — and the manufacturer's settlement results.

A dealer only ever reads its own rows: every function here takes the dealer's id and
filters by it; nothing takes a list of dealers from a request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Date, cast, func, literal, select, text
from sqlalchemy.orm import Session, aliased

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital, Region
from app.core.money import ZERO
from app.core.pagination import Page, keyset_page
from app.finance.models import Invoice, InvoiceApplication, Payment
from app.inventory.models import Lot, SellOutLine
from app.orders.models import Order, OrderLine, ReturnLine, ReturnRequest
from app.rebates import bases, rules
from app.rebates.bases import NOT_ACCEPTED, Window, shanghai_start
from app.rebates.models import RebateLedgerEntry, RebatePeriod, RebatePolicy, SettlementRun


def reaches(policy: RebatePolicy, dealer: Dealer) -> bool:
    """Whether the policy's scope takes the dealer in (tier and region; product lines
    narrow what counts, not who)."""
    if policy.dealer_tiers and dealer.tier not in policy.dealer_tiers:
        return False
    if policy.region_id and not (dealer.region.path or "").startswith(policy.region.path or "/"):
        return False
    return True


def latest_period_key(session: Session) -> str | None:
    """The period the settlements page opens on when none is chosen: the newest."""
    return session.scalar(select(RebatePeriod.key).order_by(RebatePeriod.ends_on.desc(), RebatePeriod.key).limit(1))


def dealer_period_keys(session: Session, dealer: Dealer, today: date) -> list[str]:
    """The periods a dealer can look at, newest first: today's period of each kind a
    policy reaching it uses, and every period it has rebate rows in."""
    kinds = session.scalars(select(RebatePolicy).where(RebatePolicy.status == "published"))
    keys = {rules.period_key(p.period, today) for p in kinds if reaches(p, dealer)}
    keys |= set(session.scalars(select(RebateLedgerEntry.period_key).where(
        RebateLedgerEntry.dealer_id == dealer.id, RebateLedgerEntry.period_key.is_not(None),
        RebateLedgerEntry.kind.in_(("accrued", "settled", "adjusted"))).distinct()))
    return sorted(keys, key=lambda k: (rules.parse_period(k)[2], k), reverse=True)


@dataclass
class PolicyView:
    """One policy's answer to "why this amount" for one dealer and period."""

    policy: RebatePolicy
    period_key: str
    window: Window
    row: bases.Row
    outcome: rules.Outcome
    amount: Decimal                 # after stacking, as computed now
    excluded_by: str | None
    settled: Decimal | None         # Σ settled + adjusted, once the period is settled
    accrued: Decimal                # Σ accrued (estimates) so far
    period_status: str              # current | ended | settled | closed
    bands: list = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.settled is not None

    @property
    def shown_amount(self) -> Decimal:
        return self.settled if self.settled is not None else self.amount

    @property
    def changed_since_settlement(self) -> bool:
        return self.settled is not None and self.settled != self.amount


def dealer_views(session: Session, dealer: Dealer, key: str, today: date) -> list[PolicyView]:
    """Every policy governing ``key`` that reaches ``dealer``, computed now for this
    dealer alone (the same statements settlement runs), with what the ledger holds."""
    window = Window.of(key)
    policies = [p for p in bases.applicable_policies(session, key) if reaches(p, dealer)]
    if not policies:
        return []
    results = bases.results_for(session, key, today, dealer_ids=[dealer.id], policies=policies)
    ledger = {r.code: r for r in session.execute(text(
        "SELECT p.code, coalesce(sum(e.amount) FILTER (WHERE e.kind IN ('settled', 'adjusted')), 0) AS settled, "
        "bool_or(e.kind = 'settled') AS has_settled, coalesce(sum(e.amount) FILTER (WHERE e.kind = 'accrued'), 0) AS accrued "
        "FROM rebate_ledger_entries e JOIN rebate_policies p ON p.id = e.policy_id "
        "WHERE e.dealer_id = :dealer AND e.period_key = :key AND e.kind IN ('settled', 'adjusted', 'accrued') "
        "GROUP BY p.code"), {"dealer": dealer.id, "key": key})}
    period = session.scalar(select(RebatePeriod).where(RebatePeriod.key == key))
    from app.rebates.settlement import is_settled as settled_period

    is_settled = settled_period(session, key)
    status = ("closed" if period is not None and period.status == "closed" else "settled" if is_settled
              else "ended" if window.end < today else "current")
    views = []
    for policy in policies:
        result = results.get((policy.code, dealer.id))
        if result is None:
            met = bases.conditions_met(session, policy, window, today, dealer.id)
            row = bases.zero_row(dealer.id, policy, met)
            out = rules.outcome(rules.PolicySpec.of(policy), row.figures)
            amount, excluded_by = ZERO, None
        else:
            row, out, amount, excluded_by = result.row, result.outcome, result.amount, result.excluded_by
        held = ledger.get(policy.code)
        settled = held.settled if held is not None and held.has_settled and is_settled else None
        view = PolicyView(policy, key, window, row, out, amount, excluded_by, settled,
                          held.accrued if held is not None else ZERO, status)
        if policy.kind in ("volume", "collection") and policy.method == "incremental":
            view.bands = rules.bands(rules.parse_tiers(policy.tiers), row.base)
        views.append(view)
    return views


# --- the lines behind a base ------------------------------------------------------------------

def _sku_scope(policy: RebatePolicy, column):
    if not policy.product_line_ids:
        return None
    return column.in_(select(Sku.id).where(Sku.product_line_id.in_(policy.product_line_ids)))


def purchase_lines_page(session: Session, dealer_id: int, policy: RebatePolicy, window: Window,
                        cursor: str | None) -> Page:
    """The order lines counted in a dealer's purchase base, newest first."""
    strategic = bases.strategic_ids(policy)
    stmt = (select(OrderLine.id, Order.id.label("order_id"), Order.number, Order.submitted_at, Sku.code.label("sku_code"),
                   Sku.name.label("sku_name"), OrderLine.quantity, OrderLine.unit_price, OrderLine.amount,
                   (OrderLine.sku_id.in_(strategic) if strategic else literal(False)).label("strategic"))
            .select_from(OrderLine).join(Order, Order.id == OrderLine.order_id).join(Sku, Sku.id == OrderLine.sku_id)
            .where(Order.dealer_id == dealer_id, Order.submitted_at >= shanghai_start(window.start),
                   Order.submitted_at < shanghai_start(window.end + timedelta(days=1)),
                   Order.status.not_in(NOT_ACCEPTED), OrderLine.free_goods.is_(False)))
    scope = _sku_scope(policy, OrderLine.sku_id)
    if scope is not None:
        stmt = stmt.where(scope)
    return keyset_page(session, stmt, (OrderLine.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def credited_returns(session: Session, dealer_id: int, policy: RebatePolicy, window: Window, limit: int = 200) -> list:
    """Return lines credited in the period (they reduce the purchase base)."""
    credit_day = text(bases.credit_day_sql("returns"))
    stmt = (select(ReturnLine.id, ReturnRequest.id.label("return_id"), ReturnRequest.number,
                   ReturnRequest.credit_note_no, ReturnRequest.order_id, Sku.code.label("sku_code"),
                   Sku.name.label("sku_name"), ReturnLine.quantity, ReturnLine.unit_price,
                   (ReturnLine.quantity * ReturnLine.unit_price).label("amount"))
            .select_from(ReturnLine).join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
            .join(Sku, Sku.id == ReturnLine.sku_id)
            .where(ReturnRequest.dealer_id == dealer_id, ReturnRequest.status == "credited",
                   cast(credit_day, Date).between(window.start, window.end))
            .order_by(ReturnLine.id.desc()).limit(limit))
    scope = _sku_scope(policy, ReturnLine.sku_id)
    if scope is not None:
        stmt = stmt.where(scope)
    return list(session.execute(stmt))


def sell_out_lines_page(session: Session, dealer_id: int, policy: RebatePolicy, window: Window,
                        cursor: str | None) -> Page:
    """The sell-out lines counted in a dealer's sell-out base, newest first."""
    stmt = (select(SellOutLine.id, SellOutLine.sold_on, SellOutLine.quantity, SellOutLine.unit_price,
                   Hospital.name.label("hospital_name"), Sku.code.label("sku_code"), Sku.name.label("sku_name"),
                   Lot.lot_no, Lot.serial_no, SellOutLine.invoice_no)
            .select_from(SellOutLine).join(Hospital, Hospital.id == SellOutLine.hospital_id)
            .join(Sku, Sku.id == SellOutLine.sku_id).join(Lot, Lot.id == SellOutLine.lot_id)
            .where(SellOutLine.dealer_id == dealer_id, SellOutLine.sold_on.between(window.start, window.end)))
    scope = _sku_scope(policy, SellOutLine.sku_id)
    if scope is not None:
        stmt = stmt.where(scope)
    return keyset_page(session, stmt, (SellOutLine.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def collection_lines_page(session: Session, dealer_id: int, policy: RebatePolicy, window: Window,
                          cursor: str | None) -> Page:
    """Payments applied to the dealer's invoices in the period, each marked whether it
    came within the policy's days (only those count)."""
    days = bases.paid_within_days(policy)
    stmt = (select(InvoiceApplication.id, InvoiceApplication.amount, Payment.id.label("payment_id"),
                   Payment.number.label("payment_number"), Payment.received_on, Invoice.id.label("invoice_id"),
                   Invoice.number.label("invoice_number"), Invoice.issued_on,
                   (Payment.received_on - Invoice.issued_on).label("days"),
                   (Payment.received_on <= Invoice.issued_on + days).label("counts"))
            .select_from(InvoiceApplication).join(Payment, Payment.id == InvoiceApplication.payment_id)
            .join(Invoice, Invoice.id == InvoiceApplication.invoice_id)
            .where(Invoice.dealer_id == dealer_id, Invoice.kind == "invoice", Invoice.status != "void",
                   Payment.received_on.between(window.start, window.end)))
    return keyset_page(session, stmt, (InvoiceApplication.id,), lambda r: (r.id,), cursor, entities=False,
                       descending=True)


def base_lines(session: Session, dealer_id: int, policy: RebatePolicy, window: Window, cursor: str | None) -> Page:
    if policy.kind == "collection":
        return collection_lines_page(session, dealer_id, policy, window, cursor)
    if policy.basis == "sell_out":
        return sell_out_lines_page(session, dealer_id, policy, window, cursor)
    return purchase_lines_page(session, dealer_id, policy, window, cursor)


# --- the manufacturer's view of settlements -------------------------------------------------

@dataclass
class PeriodRow:
    period: RebatePeriod
    settled: Decimal
    accrued: Decimal
    dealers: int
    last_run: SettlementRun | None


def period_rows(session: Session, scope, limit: int = 24) -> list[PeriodRow]:
    """Periods newest first with their totals (within the scope's dealers) and last run."""
    periods = list(session.scalars(select(RebatePeriod).order_by(RebatePeriod.ends_on.desc(), RebatePeriod.key)
                                   .limit(limit)))
    if not periods:
        return []
    stmt = (select(RebateLedgerEntry.period_key,
                   func.coalesce(func.sum(RebateLedgerEntry.amount).filter(
                       RebateLedgerEntry.kind.in_(("settled", "adjusted"))), 0),
                   func.coalesce(func.sum(RebateLedgerEntry.amount).filter(RebateLedgerEntry.kind == "accrued"), 0),
                   func.count(func.distinct(RebateLedgerEntry.dealer_id)))
            .where(RebateLedgerEntry.period_key.in_([p.key for p in periods]),
                   RebateLedgerEntry.kind.in_(("settled", "adjusted", "accrued")))
            .group_by(RebateLedgerEntry.period_key))
    clause = scope.regions_clause(Dealer.region_id)
    if clause is not None:
        stmt = stmt.where(RebateLedgerEntry.dealer_id.in_(select(Dealer.id).where(clause)))
    totals = {k: (s, a, n) for k, s, a, n in session.execute(stmt)}
    runs: dict[str, SettlementRun] = {}
    for run in session.scalars(select(SettlementRun).where(SettlementRun.period_key.in_([p.key for p in periods]))
                               .order_by(SettlementRun.id)):
        runs[run.period_key] = run
    return [PeriodRow(p, *totals.get(p.key, (ZERO, ZERO, 0)), runs.get(p.key)) for p in periods]


def runs_of(session: Session, key: str, limit: int = 20) -> list[SettlementRun]:
    return list(session.scalars(select(SettlementRun).where(SettlementRun.period_key == key)
                                .order_by(SettlementRun.id.desc()).limit(limit)))


def _area_columns():
    area = aliased(Region)
    area_id = func.nullif(func.split_part(func.trim(Region.path, "/"), "/", 2), "").cast(Region.id.type)
    return area, area_id


def results_stmt(scope, key: str, region_id: int | None = None, dealer_id: int | None = None):
    """Per dealer × policy code: Σ settled + adjusted for period ``key`` and the latest
    explanation, with the dealer's region area; scoped to what ``scope`` may see."""
    per = (select(RebateLedgerEntry.dealer_id.label("dealer_id"), RebatePolicy.code.label("code"),
                  func.sum(RebateLedgerEntry.amount).label("amount"), func.max(RebateLedgerEntry.id).label("last_id"),
                  func.count().label("entries"))
           .join(RebatePolicy, RebatePolicy.id == RebateLedgerEntry.policy_id)
           .where(RebateLedgerEntry.period_key == key, RebateLedgerEntry.kind.in_(("settled", "adjusted")))
           .group_by(RebateLedgerEntry.dealer_id, RebatePolicy.code)).subquery()
    last = aliased(RebateLedgerEntry)
    area, area_id = _area_columns()
    stmt = (select(per.c.dealer_id, per.c.code, per.c.amount, per.c.entries, Dealer.code.label("dealer_code"),
                   Dealer.name.label("dealer_name"), func.coalesce(area.name, Region.name).label("region_name"),
                   func.coalesce(area.name_en, Region.name_en).label("region_name_en"), last.base_amount,
                   last.tier_index, last.rate, last.explanation, last.policy_id)
            .select_from(per).join(Dealer, Dealer.id == per.c.dealer_id).join(Region, Region.id == Dealer.region_id)
            .outerjoin(area, area.id == area_id).join(last, last.id == per.c.last_id))
    clause = scope.regions_clause(Dealer.region_id)
    if clause is not None:
        stmt = stmt.where(clause)
    if scope.dealer_id is not None:
        stmt = stmt.where(Dealer.id == scope.dealer_id)
    if region_id:
        root = select(Region.path).where(Region.id == region_id).scalar_subquery()
        stmt = stmt.where(Dealer.region_id.in_(select(Region.id).where(Region.path.startswith(root))))
    if dealer_id:
        stmt = stmt.where(Dealer.id == dealer_id)
    return stmt, per


def results_page(session: Session, scope, key: str, region_id: int | None, cursor: str | None) -> Page:
    stmt, per = results_stmt(scope, key, region_id)
    return keyset_page(session, stmt, (Dealer.code, per.c.code), lambda r: (r.dealer_code, r.code), cursor,
                       entities=False)


def results_totals(session: Session, scope, key: str, region_id: int | None) -> list:
    """Σ settled per region area (what the filter shows), largest first."""
    stmt, _per = results_stmt(scope, key, region_id)
    sub = stmt.subquery()
    return list(session.execute(select(sub.c.region_name, sub.c.region_name_en, func.sum(sub.c.amount),
                                       func.count(func.distinct(sub.c.dealer_id)))
                                .group_by(sub.c.region_name, sub.c.region_name_en)
                                .order_by(func.sum(sub.c.amount).desc())))


def _export_rows(session, user, params):
    from app.channel.queries import ChannelScope
    from app.compliance.exports import id_param, walk_batches
    from app.rebates.settlement import parse_key
    from app.core.errors import InvalidInput

    try:
        key = parse_key(params.get("period")) if params.get("period") else latest_period_key(session)
    except InvalidInput:
        return
    if key is None:
        return
    scope = ChannelScope.of(user)
    for items in walk_batches(lambda cursor: results_page(session, scope, key, id_param(params, "region_id"), cursor)):
        for r in items:
            tier = r.explanation.get("tier") if r.explanation else None
            yield [key, r.region_name, r.dealer_code, r.dealer_name, r.code, (r.explanation or {}).get("name"),
                   r.base_amount, None if tier is None else tier["index"] + 1, r.rate, r.amount, r.entries]


def _register_export():
    from flask_babel import lazy_gettext as _l

    from app.compliance.exports import register_export
    from app.rebates.settlement import SETTLEMENT_VIEWERS

    register_export("rebate_settlement", _l("Rebate settlement results"), SETTLEMENT_VIEWERS,
                    (_l("Period"), _l("Region"), _l("Dealer code"), _l("Dealer"), _l("Policy"), _l("Policy name"),
                     _l("Base"), _l("Tier"), _l("Rate"), _l("Settled amount"), _l("Ledger rows")),
                    _export_rows, params=("period", "region_id"))


_register_export()
