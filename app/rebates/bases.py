"""What rebates are computed on, set-based in SQL: each policy's base per dealer for a
period, the conditions, and the tiered payout — one statement per policy, whatever the
number of lines (1,000,000 order lines: see bench/rebates.py).

**Bases** (all amounts CNY including VAT, as the documents carry them):

* ``purchase`` — order lines of the dealer's accepted orders (not ``pending_approval``,
  ``rejected`` or ``cancelled``; free-goods lines 货补 excluded, they are paid from the
  rebate itself), dated by the Shanghai day the order was submitted, **minus credited
  returns** dated by the issue day of their credit note. A return reduces the period in which it is credited, not
  the one the goods were bought in (退货冲减当期): a closed period never reopens, and
  the dealer sees the deduction where it happens. A negative net counts as zero.
* ``sell_out`` — the dealer's reported sell-out lines (流向) dated ``sold_on``, valued at
  the reported unit price (the dealer's invoice to the hospital); where a line carries
  no price, at the price the dealer bought that lot for (its latest order line that
  shipped the lot), so an unpriced report still counts at a price the manufacturer set.
* ``collection`` — what the dealer paid on its invoices within N days of their issue
  (payment applications to invoices, 核销), dated by the day the money arrived.
* growth compares a base with the same base a year earlier; mix takes the strategic
  SKUs' part of the base.

The scope of a policy narrows the dealers (tiers, a region's subtree) and the SKUs
(product lines; collections are per invoice and carry no product line).

**Conditions**: ``sell_out_on_time`` is not met when, for a month of the period in
which the dealer received goods, no sell-out was reported by the due day (the same rule
as ``app.inventory.sellout.late_reporters``; a month not yet due is not late);
``qualifications_valid`` is not met when an approved qualification of the dealer
expired before the period's last day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.i18n import SHANGHAI
from app.core.money import ZERO, sql_fen
from app.rebates import rules
from app.rebates.models import RebatePolicy

#: orders whose lines count towards purchases: accepted ones
NOT_ACCEPTED = ("pending_approval", "rejected", "cancelled")


def shanghai_start(day: date) -> datetime:
    """The instant a Shanghai day begins (orders are timestamped, periods are days)."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Window:
    """A period's days, inclusive, and the same days a year earlier (for growth)."""

    key: str
    start: date
    end: date

    @classmethod
    def of(cls, key: str) -> "Window":
        _kind, start, end = rules.parse_period(key)
        return cls(key, start, end)

    @property
    def last_year(self) -> "Window":
        return Window.of(rules.last_year_key(self.key))


def _scope_sql(policy: RebatePolicy, params: dict, dealer_ids: Iterable[int] | None) -> str:
    """The dealers a policy reaches, as a SELECT of ids."""
    where = ["true"]
    if policy.dealer_tiers:
        params["scope_tiers"] = list(policy.dealer_tiers)
        where.append("d.tier = ANY(CAST(:scope_tiers AS varchar[]))")
    if policy.region_id:
        params["scope_region"] = policy.region_id
        where.append("d.region_id IN (SELECT r.id FROM regions r WHERE r.path LIKE "
                     "(SELECT p.path FROM regions p WHERE p.id = :scope_region) || '%')")
    if dealer_ids is not None:
        params["scope_dealers"] = [int(i) for i in dealer_ids]
        where.append("d.id = ANY(CAST(:scope_dealers AS bigint[]))")
    params["_scoped"] = len(where) > 1
    return "SELECT d.id FROM dealers d WHERE " + " AND ".join(where)


def _sku_filter(policy: RebatePolicy, column: str, params: dict) -> str:
    if not policy.product_line_ids:
        return ""
    params["scope_lines"] = [int(i) for i in policy.product_line_ids]
    return f" AND {column} IN (SELECT s.id FROM skus s WHERE s.product_line_id = ANY(CAST(:scope_lines AS bigint[])))"


def strategic_ids(policy: RebatePolicy) -> list[int]:
    return [int(i) for i in (policy.params or {}).get("strategic_sku_ids") or []]


def paid_within_days(policy: RebatePolicy) -> int:
    return int((policy.params or {}).get("paid_within_days") or 0)


def _windows(policy: RebatePolicy, window: Window, params: dict) -> bool:
    """Bind the current window (and last year's, for growth); whether last year counts."""
    params.update(cur_start=window.start, cur_end=window.end, cur_from=shanghai_start(window.start),
                  cur_to=shanghai_start(window.end + timedelta(days=1)))
    if policy.kind != "growth":
        return False
    ly = window.last_year
    params.update(ly_start=ly.start, ly_end=ly.end, ly_from=shanghai_start(ly.start),
                  ly_to=shanghai_start(ly.end + timedelta(days=1)))
    return True


def credit_day_sql(alias: str = "r") -> str:
    """The day a return was credited: the issue day of its credit note (红字发票), NULL
    while it has none."""
    return (f"(SELECT c.issued_on FROM invoices c WHERE c.return_id = {alias}.id AND c.kind = 'credit_note' "
            f"AND c.status <> 'void' ORDER BY c.id LIMIT 1)")


def _dealer_filter(column: str, params: dict) -> str:
    """``AND column = ANY(...)`` when the statement is for given dealers (one dealer's
    page): a predicate on the column itself lets the planner walk that dealer's rows by
    index rather than hash every row against the scope."""
    return f" AND {column} = ANY(CAST(:scope_dealers AS bigint[]))" if "scope_dealers" in params else ""


def _in_scope(column: str, params: dict) -> str:
    """``AND column IN (scope)``, unless the policy reaches every dealer (then the join
    would only cost time)."""
    if not params.get("_scoped"):
        return ""
    return f" AND {column} IN (SELECT id FROM scope)" + _dealer_filter(column, params)


def _grouped(dealer: str, amount: str, cur: str, strategic: str, source: str, growth: bool, mix: bool) -> str:
    """One branch of the moves, already summed per dealer: net this period, net last
    year (growth only), the strategic SKUs' net (mix only), lines counted this period.
    Summing in each branch keeps a million lines from flowing through the union."""
    net = f"sum({amount}) FILTER (WHERE {cur})" if growth else f"sum({amount})"
    last = f"sum({amount}) FILTER (WHERE NOT ({cur}))" if growth else "0"
    strat = f"sum({amount}) FILTER (WHERE ({cur}) AND {strategic})" if mix else "0"
    lines = f"count(*) FILTER (WHERE {cur})" if growth else "count(*)"
    return (f"SELECT {dealer} AS dealer_id, {net} AS net, {last} AS last_net, {strat} AS strategic_net, "
            f"{lines} AS lines {source} GROUP BY {dealer}")


def _moves_sql(policy: RebatePolicy, window: Window, params: dict) -> str:
    """The lines that count, summed per dealer (see ``_grouped``), as one or two
    branches of a UNION ALL."""
    growth = _windows(policy, window, params)
    mix = policy.kind == "mix"
    params["strategic"] = strategic_ids(policy)
    strategic = "{col} = ANY(CAST(:strategic AS bigint[]))"
    if policy.kind == "collection":
        params["paid_within"] = paid_within_days(policy)
        return _grouped("i.dealer_id", "a.amount", "true", "false", (
            "FROM invoice_applications a JOIN payments p ON p.id = a.payment_id "
            "JOIN invoices i ON i.id = a.invoice_id "
            "WHERE i.kind = 'invoice' AND i.status <> 'void' AND p.received_on BETWEEN :cur_start AND :cur_end "
            "AND p.received_on <= i.issued_on + CAST(:paid_within AS integer)" + _in_scope("i.dealer_id", params)),
            False, False)
    if policy.basis == "sell_out":
        days = "(s.sold_on BETWEEN :cur_start AND :cur_end" + (
            " OR s.sold_on BETWEEN :ly_start AND :ly_end)" if growth else ")")
        amount = ("s.quantity * coalesce(s.unit_price, (SELECT ol.unit_price FROM shipment_lines sl "
                  "JOIN order_lines ol ON ol.id = sl.order_line_id JOIN orders o ON o.id = ol.order_id "
                  "WHERE sl.lot_id = s.lot_id AND o.dealer_id = s.dealer_id AND NOT ol.free_goods "
                  "ORDER BY sl.id DESC LIMIT 1), 0)")
        return _grouped("s.dealer_id", amount, "s.sold_on >= :cur_start", strategic.format(col="s.sku_id"), (
            "FROM sell_out_lines s WHERE " + days + _in_scope("s.dealer_id", params)
            + _sku_filter(policy, "s.sku_id", params)), growth, mix)
    params["not_accepted"] = list(NOT_ACCEPTED)
    when = "((o.submitted_at >= :cur_from AND o.submitted_at < :cur_to)" + (
        " OR (o.submitted_at >= :ly_from AND o.submitted_at < :ly_to))" if growth else ")")
    credit_day = credit_day_sql()
    returned_when = f"({credit_day} BETWEEN :cur_start AND :cur_end" + (
        f" OR {credit_day} BETWEEN :ly_start AND :ly_end)" if growth else ")")
    purchases = _grouped("o.dealer_id", "ol.amount", "o.submitted_at >= :cur_from", strategic.format(col="ol.sku_id"), (
        "FROM order_lines ol JOIN orders o ON o.id = ol.order_id "
        "WHERE " + when + " AND o.status <> ALL(CAST(:not_accepted AS varchar[])) AND NOT ol.free_goods"
        + _in_scope("o.dealer_id", params) + _sku_filter(policy, "ol.sku_id", params)), growth, mix)
    returns = _grouped("r.dealer_id", "-(rl.quantity * rl.unit_price)", f"{credit_day} >= :cur_start",
                       strategic.format(col="rl.sku_id"), (
                           "FROM return_lines rl JOIN returns r ON r.id = rl.return_id "
                           "WHERE r.status = 'credited' AND " + returned_when + _in_scope("r.dealer_id", params)
                           + _sku_filter(policy, "rl.sku_id", params)), growth, mix)
    return purchases + " UNION ALL " + returns


def _late_sql(params: dict) -> str:
    """Dealers with a month of the period (in which they received goods) whose sell-out
    was not reported by its due day, once that day has passed."""
    received_day = "(coalesce(sh.delivered_at, sh.shipped_at, sh.created_at) AT TIME ZONE 'Asia/Shanghai')::date"
    due = ("least(m.month + interval '1 month' + (CAST(:due_day AS integer) - 1) * interval '1 day', "
           "m.month + interval '2 month' - interval '1 day')::date")
    return ("SELECT DISTINCT m.dealer_id FROM ("
            f"SELECT o.dealer_id, date_trunc('month', {received_day})::date AS month "
            "FROM shipments sh JOIN orders o ON o.id = sh.order_id "
            f"WHERE sh.status = 'delivered' AND {received_day} BETWEEN :cur_start AND :cur_end "
            + _in_scope("o.dealer_id", params) + " GROUP BY 1, 2) m "
            f"WHERE {due} < CAST(:today AS date) AND NOT EXISTS (SELECT 1 FROM sell_out_lines s "
            "WHERE s.dealer_id = m.dealer_id AND s.sold_on >= m.month AND s.sold_on < m.month + interval '1 month' "
            f"AND (s.created_at AT TIME ZONE 'Asia/Shanghai')::date <= {due})")


def _factor_sql(conditions: dict, params: dict) -> str:
    """The condition factor as SQL over the columns ``sell_out_late`` and ``quals_expired``."""
    failing = {"sell_out_on_time": "f.sell_out_late", "qualifications_valid": "f.quals_expired"}
    parts = []
    for i, (name, spec) in enumerate(sorted((conditions or {}).items())):
        params[f"cond_rate_{i}"] = Decimal("0") if spec.get("effect") == "gate" else Decimal(str(spec.get("rate", "1")))
        parts.append(f"CASE WHEN {failing[name]} THEN CAST(:cond_rate_{i} AS numeric) ELSE 1 END")
    return " * ".join(parts) or "1"


def payout_sql(policy: RebatePolicy, window: Window, today: date, due_day: int,
               dealer_ids: Iterable[int] | None = None) -> tuple[str, dict]:
    """One statement: every in-scope dealer with a base in ``window`` and what
    ``policy`` pays it — figures, tier reached, raw payout, condition factor, the
    capped amount rounded to the fen (as ``rules.outcome``), and which cap bound it."""
    params: dict = {"today": today, "due_day": due_day}
    spec = rules.PolicySpec.of(policy)
    params["tier_from"] = [t.threshold for t in spec.tiers]
    params["tier_rate"] = [t.rate for t in spec.tiers]
    params["cap_rate"], params["cap_amount"] = spec.cap_rate, spec.cap_amount
    scope = _scope_sql(policy, params, dealer_ids)  # binds :scope_dealers first, which the moves use
    moves = _moves_sql(policy, window, params)
    conditions = spec.conditions
    late = _late_sql(params) if "sell_out_on_time" in conditions else "SELECT NULL::bigint AS dealer_id WHERE false"
    reach = {
        "growth": "f.last_year > 0 AND (f.base - f.last_year) * 100 >= t.lo * f.last_year",
        "mix": "f.base > 0 AND f.strategic * 100 >= t.lo * f.base",
    }.get(policy.kind, "f.base >= t.lo")
    if policy.kind == "growth":
        paid_on = "f.base" if policy.method == "retroactive" else "greatest(f.base - f.last_year, 0)"
        raw = f"coalesce({paid_on} * tr.rate, 0)"
    elif policy.kind == "mix" or policy.method == "retroactive":
        raw = "coalesce(f.base * tr.rate, 0)"
    else:
        raw = ("(SELECT coalesce(sum(greatest(least(f.base, coalesce(t.hi, f.base)) - t.lo, 0) * t.rate), 0) "
               "FROM tiers t)")
    capped = "least(p.raw * p.factor, CAST(:cap_rate AS numeric) * p.base, CAST(:cap_amount AS numeric))"
    sql = f"""
WITH scope AS ({scope}),
moves AS ({moves}),
sums AS (
  SELECT dealer_id, coalesce(sum(net), 0) AS net, coalesce(sum(last_net), 0) AS last_net,
         coalesce(sum(strategic_net), 0) AS strategic_net, sum(lines) AS lines
  FROM moves GROUP BY dealer_id
),
late AS ({late}),
tiers AS (
  SELECT (t.idx - 1)::int AS idx, t.lo, t.rate, lead(t.lo) OVER (ORDER BY t.idx) AS hi
  FROM unnest(CAST(:tier_from AS numeric[]), CAST(:tier_rate AS numeric[])) WITH ORDINALITY AS t(lo, rate, idx)
),
f AS (
  SELECT s.dealer_id, greatest(s.net, 0) AS base, greatest(s.last_net, 0) AS last_year,
         least(greatest(s.strategic_net, 0), greatest(s.net, 0)) AS strategic, s.lines,
         s.dealer_id IN (SELECT dealer_id FROM late) AS sell_out_late,
         EXISTS (SELECT 1 FROM qualifications q WHERE q.dealer_id = s.dealer_id AND q.status = 'approved'
                 AND q.valid_until < :cur_end) AS quals_expired
  FROM sums s
),
r AS (
  SELECT f.*, (SELECT max(t.idx) FROM tiers t WHERE {reach}) AS tier FROM f
),
p AS (
  SELECT f.*, tr.rate, {raw} AS raw, {_factor_sql(conditions, params)} AS factor
  FROM r f LEFT JOIN tiers tr ON tr.idx = f.tier
)
SELECT p.dealer_id, p.base, p.last_year, p.strategic, p.lines, p.sell_out_late, p.quals_expired, p.tier, p.rate,
       p.raw, p.factor, {sql_fen(capped)} AS amount,
       CASE WHEN CAST(:cap_amount AS numeric) IS NOT NULL
                 AND least(p.raw * p.factor, CAST(:cap_rate AS numeric) * p.base) > CAST(:cap_amount AS numeric)
            THEN 'cap_amount'
            WHEN CAST(:cap_rate AS numeric) IS NOT NULL AND p.raw * p.factor > CAST(:cap_rate AS numeric) * p.base
            THEN 'cap_rate' END AS capped_by
FROM p ORDER BY p.dealer_id"""
    params.pop("_scoped", None)
    return sql, params


@dataclass
class Row:
    """One dealer's figures and payout for one policy and period, as SQL computed them."""

    dealer_id: int
    base: Decimal
    last_year: Decimal
    strategic: Decimal
    lines: int
    met: dict
    tier: int | None
    rate: Decimal | None
    raw: Decimal
    factor: Decimal
    amount: Decimal
    capped_by: str | None

    @property
    def figures(self) -> rules.Figures:
        return rules.Figures(self.base, self.last_year, self.strategic, self.met)


def policy_rows(session: Session, policy: RebatePolicy, window: Window, today: date,
                dealer_ids: Iterable[int] | None = None, due_day: int | None = None) -> list[Row]:
    """Every in-scope dealer's payout under ``policy`` for ``window`` (one statement)."""
    from app.core.settings import setting

    if due_day is None:
        due_day = setting(session, "sell_out_due_day")
    sql, params = payout_sql(policy, window, today, due_day, dealer_ids)
    rows = []
    for r in session.execute(text(sql), params):
        met = {}
        if "sell_out_on_time" in (policy.conditions or {}):
            met["sell_out_on_time"] = not r.sell_out_late
        if "qualifications_valid" in (policy.conditions or {}):
            met["qualifications_valid"] = not r.quals_expired
        rows.append(Row(r.dealer_id, rules.fen(r.base), rules.fen(r.last_year), rules.fen(r.strategic), int(r.lines), met,
                        r.tier, r.rate, r.raw, r.factor, r.amount, r.capped_by))
    return rows


# --- the policies of a period, and every dealer's result under them -----------------------

def applicable_policies(session: Session, key: str) -> list[RebatePolicy]:
    """The version of each policy code that governs period ``key``: of the published
    (or since superseded/retired) versions of the period's kind, the highest version
    starting on or before the period's first day — provided it still runs at the
    period's last day. Ordered as they stack (priority, code)."""
    from sqlalchemy import select

    kind, start, end = rules.parse_period(key)
    candidates = session.scalars(
        select(RebatePolicy).where(RebatePolicy.period == kind, RebatePolicy.status.in_(("published", "retired")),
                                   RebatePolicy.published_at.is_not(None), RebatePolicy.valid_from <= start)
        .order_by(RebatePolicy.code, RebatePolicy.version.desc()))
    chosen: dict[str, RebatePolicy] = {}
    for policy in candidates:
        chosen.setdefault(policy.code, policy)
    return sorted((p for p in chosen.values() if p.valid_until is None or p.valid_until >= end),
                  key=lambda p: (p.priority, p.code))


def is_exclusive(policy: RebatePolicy) -> bool:
    return bool((policy.params or {}).get("exclusive"))


@dataclass
class Result:
    """A dealer's result under one policy for one period, after stacking."""

    policy: RebatePolicy
    row: Row
    outcome: rules.Outcome
    amount: Decimal            # what it finally pays (0 when an exclusive policy kept it out)
    excluded_by: str | None

    def explanation(self, key: str) -> dict:
        """What the ledger keeps with the amount: enough to answer "why" later."""
        p, r, o = self.policy, self.row, self.outcome
        out = {"policy": p.code, "version": p.version, "name": p.name, "kind": p.kind, "basis": p.basis,
               "method": p.method, "period": key, "base": str(r.base), "lines": r.lines,
               "tier": None if o.tier is None else {"index": o.tier, "from": str(p.tiers[o.tier]["from"]),
                                                    "rate": str(o.rate)},
               "raw": str(rules.fen(o.raw)), "factor": str(o.factor), "capped_by": o.capped_by,
               "conditions": {name: {"met": met, **(p.conditions or {}).get(name, {})} for name, met in r.met.items()},
               "amount": str(self.amount)}
        if o.next is not None:
            out["next"] = {"index": o.next.index, "from": str(o.next.threshold), "rate": str(o.next.rate),
                           "gap": None if o.next.gap is None else str(o.next.gap)}
        if p.kind == "growth":
            out["last_year"] = str(r.last_year)
            pct = rules.growth_pct(r.base, r.last_year)
            out["growth_pct"] = None if pct is None else str(pct)
        if p.kind == "mix":
            out["strategic"] = str(r.strategic)
            pct = rules.share_pct(r.strategic, r.base)
            out["share_pct"] = None if pct is None else str(pct)
        if self.excluded_by:
            out["excluded_by"] = self.excluded_by
        return out


class Disagreement(RuntimeError):
    """SQL and rules.py computed different payouts: refuse rather than write either."""


def results_for(session: Session, key: str, today: date, dealer_ids: Iterable[int] | None = None,
                policies: list[RebatePolicy] | None = None, progress=None) -> dict[tuple[str, int], Result]:
    """Every dealer's result under every policy governing period ``key``, stacked:
    keyed by (policy code, dealer id). One SQL statement per policy; the per-dealer
    arithmetic is checked against ``rules.outcome`` (they must agree to the fen)."""
    window = Window.of(key)
    policies = applicable_policies(session, key) if policies is None else policies
    dealer_ids = None if dealer_ids is None else list(dealer_ids)
    per_dealer: dict[int, list[tuple[RebatePolicy, Row, rules.Outcome]]] = {}
    for n, policy in enumerate(policies):
        spec = rules.PolicySpec.of(policy)
        for row in policy_rows(session, policy, window, today, dealer_ids):
            expected = rules.outcome(spec, row.figures)
            if expected.amount != row.amount or expected.tier != row.tier:
                raise Disagreement(f"{policy.code} v{policy.version} dealer {row.dealer_id}: SQL {row.amount} "
                                   f"(tier {row.tier}) vs rules {expected.amount} (tier {expected.tier})")
            per_dealer.setdefault(row.dealer_id, []).append((policy, row, expected))
        if progress:
            progress(n + 1, len(policies))
    results: dict[tuple[str, int], Result] = {}
    for dealer_id, items in per_dealer.items():
        stacked = {s.code: s for s in rules.stack(
            rules.StackItem(p.code, p.priority, is_exclusive(p), o.amount) for p, _r, o in items)}
        for policy, row, out in items:
            s = stacked[policy.code]
            results[(policy.code, dealer_id)] = Result(policy, row, out, s.amount, s.excluded_by)
    return results


def conditions_met(session: Session, policy: RebatePolicy, window: Window, today: date, dealer_id: int,
                   due_day: int | None = None) -> dict[str, bool]:
    """The policy's conditions for one dealer, met or not (for a dealer with nothing
    counted yet, whom the payout statement does not list)."""
    from app.core.settings import setting

    conditions = policy.conditions or {}
    if not conditions:
        return {}
    params = {"today": today, "due_day": setting(session, "sell_out_due_day") if due_day is None else due_day,
              "cur_start": window.start, "cur_end": window.end, "dealer": dealer_id, "_scoped": True}
    late = _late_sql(params) if "sell_out_on_time" in conditions else "SELECT NULL::bigint AS dealer_id WHERE false"
    row = session.execute(text(
        f"WITH scope AS (SELECT CAST(:dealer AS bigint) AS id), late AS ({late}) "
        "SELECT EXISTS (SELECT 1 FROM late) AS sell_out_late, "
        "EXISTS (SELECT 1 FROM qualifications q WHERE q.dealer_id = :dealer AND q.status = 'approved' "
        "AND q.valid_until < :cur_end) AS quals_expired"), {k: v for k, v in params.items() if k != "_scoped"}).one()
    met = {}
    if "sell_out_on_time" in conditions:
        met["sell_out_on_time"] = not row.sell_out_late
    if "qualifications_valid" in conditions:
        met["qualifications_valid"] = not row.quals_expired
    return met


def zero_row(dealer_id: int, policy: RebatePolicy, met: dict | None = None) -> Row:
    """A dealer in scope with nothing counted yet: what the page shows before the first order."""
    met = met if met is not None else {name: True for name in (policy.conditions or {})}
    return Row(dealer_id, ZERO, ZERO, ZERO, 0, met, None, None, ZERO,
               rules.condition_factor(policy.conditions or {}, met), ZERO, None)
