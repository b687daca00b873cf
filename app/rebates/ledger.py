"""The rebate ledger (返利台账) of a dealer: what it holds, and every movement that uses,
gives back or expires a balance — apart from settlement, which the rebate engine writes.

Reads: the usable balance (Σ ``amount`` over every kind but ``accrued``), what of it may
pay for an invoice offset (票折) or free goods (货补) today, by policy, what expires when,
and the estimate of open periods (Σ ``accrued``).

Writes append rows and never change one (a trigger refuses UPDATE and DELETE):

* credits: ``claim`` (an approved claim), ``price_protection`` (价格补差), and ``settled``
  for callers that settle outside the engine (the demo);
* ``used`` when an order carries 票折 or 货补, one row per credit it draws on
  (first-expiring-first, ``app.rebates.rules_use``), ``ref`` the order;
* ``released`` when that order is cancelled or refused, giving each credit back what the
  order took from it;
* ``expired`` for what is left of a credit after its last day (daily, and safe to run
  again).

A row that draws on a credit names it in ``explanation.credit_entry_id``; the rules
replay a dealer's rows into what is left of each credit. Spending takes a per-dealer
advisory lock (per tenant schema), so two orders cannot spend the same balance.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import Text, case, cast, func, select, text
from sqlalchemy.orm import Session

from app.core.daily import daily
from app.core.i18n import shanghai_today
from app.core.money import MAX_AMOUNT, fen
from app.rebates import rules_use as rules
from app.rebates.models import RebateLedgerEntry as Entry
from app.rebates.models import RebatePeriod, RebatePolicy

CREDIT_KINDS = rules.CREDIT_KINDS
ORDER_REF = "orders"
ENTRY_REF = "rebate_ledger_entries"
EXPIRY_HORIZONS = (30, 60, 90)


def cny(value) -> str:
    """¥1,234.50 — money in a sentence (the templates' ``money`` filter)."""
    return f"¥{fen(value):,}"


class RebateRefused(Exception):
    """The balance cannot pay for a use; ``field`` is the form field the translated
    ``message`` belongs next to (``rebate_offset`` or ``free_goods``)."""

    def __init__(self, field: str, message: str, shortfall: rules.Shortfall | None = None):
        super().__init__(message)
        self.field, self.message, self.shortfall = field, message, shortfall


# --- reading -------------------------------------------------------------------------------

def lock_dealer(session: Session, dealer_id: int) -> None:
    """One spender of a dealer's rebate balance at a time (until the transaction ends):
    two orders planned concurrently against the same credits could otherwise both pass."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :what), :dealer)"),
                    {"what": "/rebate_ledger", "dealer": int(dealer_id)})


def movements(session: Session, dealer_id: int) -> list[rules.Movement]:
    """The dealer's non-accrued rows as the rules read them (what each credit may pay
    for comes from its policy; claims and price protection may pay for both). Plain
    rows, and each policy's uses read once: a dealer may have tens of thousands."""
    link = Entry.explanation["credit_entry_id"].astext
    rows = session.execute(
        select(Entry.id, Entry.kind, Entry.amount, Entry.expires_on, Entry.policy_id, link)
        .where(Entry.dealer_id == dealer_id, Entry.kind != "accrued")).all()
    every = frozenset(rules.PURPOSES)
    policy_ids = {r[4] for r in rows if r[4] is not None}
    uses = {pid: frozenset(u) for pid, u in session.execute(
        select(RebatePolicy.id, RebatePolicy.usable_as).where(RebatePolicy.id.in_(policy_ids)))} if policy_ids else {}
    linked = rules.LINKED_KINDS
    return [rules.Movement(id_, kind, amount, expires_on, uses.get(policy_id, every), policy_id,
                           int(credit_id) if credit_id and kind in linked and credit_id.isdigit() else None)
            for id_, kind, amount, expires_on, policy_id, credit_id in rows]


def position(session: Session, dealer_id: int) -> rules.Position:
    """What is left of each of the dealer's credits, first-expiring-first."""
    return rules.position(movements(session, dealer_id))


def balance(session: Session, dealer_id: int) -> Decimal:
    """The usable balance: Σ amount over every kind but ``accrued``."""
    return fen(session.scalar(select(func.coalesce(func.sum(Entry.amount), 0))
                              .where(Entry.dealer_id == dealer_id, Entry.kind != "accrued")))


def _closed_periods():
    return select(RebatePeriod.key).where(RebatePeriod.status == "closed")


def estimated(session: Session, dealer_id: int) -> Decimal:
    """Σ accrued of periods not closed yet: estimates, not money the dealer holds."""
    return fen(session.scalar(select(func.coalesce(func.sum(Entry.amount), 0)).where(
        Entry.dealer_id == dealer_id, Entry.kind == "accrued",
        (Entry.period_key.is_(None)) | (Entry.period_key.not_in(_closed_periods())))))


@dataclass(frozen=True)
class PolicyBalance:
    policy_id: int | None
    code: str | None
    name: str | None
    balance: Decimal
    estimated: Decimal


@dataclass(frozen=True)
class Balances:
    """A dealer's rebate figures on ``day``."""

    day: date
    balance: Decimal
    usable_offset: Decimal
    usable_free_goods: Decimal
    #: days ahead (30/60/90) → what is left of credits whose last day falls within them
    expiring: dict
    #: what is left of credits past their last day, waiting for the expiry run
    overdue: Decimal
    estimated: Decimal
    by_policy: list
    #: the next credit to expire: (last day, what is left of it) or None
    next_expiry: tuple | None


def by_policy(session: Session, dealer_id: int) -> list[PolicyBalance]:
    """Balance and estimate per policy (credits without one — claims, price protection —
    together under None), largest balance first."""
    open_accrual = case(((Entry.kind == "accrued") & ((Entry.period_key.is_(None))
                                                      | Entry.period_key.not_in(_closed_periods())), Entry.amount),
                        else_=0)
    held = case((Entry.kind != "accrued", Entry.amount), else_=0)
    rows = session.execute(
        select(Entry.policy_id, RebatePolicy.code, RebatePolicy.name, func.sum(held), func.sum(open_accrual))
        .outerjoin(RebatePolicy, RebatePolicy.id == Entry.policy_id).where(Entry.dealer_id == dealer_id)
        .group_by(Entry.policy_id, RebatePolicy.code, RebatePolicy.name))
    out = [PolicyBalance(pid, code, name, fen(b), fen(e)) for pid, code, name, b, e in rows if b or e]
    return sorted(out, key=lambda p: (-p.balance, p.code or ""))


def balances(session: Session, dealer_id: int, day: date | None = None) -> Balances:
    """Everything the ledger page's head shows, from one replay of the dealer's rows."""
    day = day or shanghai_today()
    pos = position(session, dealer_id)
    upcoming = [c for c in pos.credits if c.expires_on is not None and c.expires_on >= day and c.remaining > 0]
    return Balances(
        day=day, balance=balance(session, dealer_id),
        usable_offset=pos.usable(rules.OFFSET, day), usable_free_goods=pos.usable(rules.FREE_GOODS, day),
        expiring={n: pos.expiring(day, day + timedelta(days=n)) for n in EXPIRY_HORIZONS},
        overdue=sum((c.remaining for c in pos.credits if c.expires_on is not None and c.expires_on < day), Decimal(0)),
        estimated=estimated(session, dealer_id), by_policy=by_policy(session, dealer_id),
        next_expiry=(upcoming[0].expires_on, sum((c.remaining for c in upcoming
                                                   if c.expires_on == upcoming[0].expires_on), Decimal(0)))
        if upcoming else None)


def usable(session: Session, dealer_id: int, purpose: str, day: date | None = None) -> Decimal:
    """What may pay for ``purpose`` (``offset`` / ``free_goods``) on ``day``."""
    return position(session, dealer_id).usable(purpose, day or shanghai_today())


# --- order use: checking and planning -------------------------------------------------------

def offset_cap_pct(session: Session) -> int:
    from app.core.settings import setting

    return int(setting(session, "rebate_offset_max_pct"))


def parse_offset(value) -> Decimal:
    """The 票折 typed on the order form: blank is none; otherwise an amount ≥ 0 with at
    most two decimals (``RebateRefused`` on anything else: nan, ²,  1e400 …)."""
    from decimal import InvalidOperation

    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal("0.00")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", "").lstrip("¥￥"))
    except (InvalidOperation, ValueError):
        raise RebateRefused("rebate_offset", _("Enter an amount such as 30000.00, or leave it empty.")) from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2 or amount >= MAX_AMOUNT:
        raise RebateRefused("rebate_offset", _("Enter an amount such as 30000.00, or leave it empty."))
    return amount.quantize(Decimal("0.01"))


def order_problems(pos: rules.Position, offset: Decimal, free_goods: Decimal, order_total: Decimal, cap_pct: int,
                   day: date) -> list[tuple[str, str]]:
    """Why an order cannot carry ``offset`` 票折 and ``free_goods`` 货补 (each problem as
    (field, translated message)); empty when it can."""
    problems: list[tuple[str, str]] = []
    if offset > 0:
        cap = rules.max_offset(order_total, cap_pct)
        if offset > order_total:
            problems.append(("rebate_offset", _("The invoice offset %(offset)s is more than the order amount %(total)s.",
                                                offset=cny(offset), total=cny(order_total))))
        elif offset > cap:
            problems.append(("rebate_offset", _(
                "The invoice offset may be at most %(pct)d %% of the order amount: %(cap)s on this order of %(total)s.",
                pct=cap_pct, cap=cny(cap), total=cny(order_total))))
    missing = rules.shortfall(pos.credits, {rules.OFFSET: offset, rules.FREE_GOODS: free_goods}, day)
    if missing is not None:
        problems.append(_shortfall_problem(missing))
    return problems


def _shortfall_problem(missing: rules.Shortfall) -> tuple[str, str]:
    if missing.purposes == (rules.OFFSET,):
        return "rebate_offset", _("Your rebate balance usable as an invoice offset is %(available)s; %(wanted)s is more.",
                                  available=cny(missing.available), wanted=cny(missing.wanted))
    if missing.purposes == (rules.FREE_GOODS,):
        return "free_goods", _("The free goods are worth %(wanted)s; your rebate balance usable as free goods is "
                               "%(available)s.", wanted=cny(missing.wanted), available=cny(missing.available))
    return "rebate_offset", _("The invoice offset and the free goods together need %(wanted)s; your usable rebate "
                              "balance is %(available)s.", wanted=cny(missing.wanted), available=cny(missing.available))


def plan_order_use(session: Session, dealer_id: int, offset: Decimal, free_goods: Decimal, order_total: Decimal,
                   day: date | None = None) -> list[rules.Take]:
    """Lock the dealer's balance and plan what the order draws on; raises
    ``RebateRefused`` (nothing written) when the balance, the cap or the order amount
    does not allow it. The lock holds until the transaction ends, so the plan stays
    true until ``write_order_use`` writes it."""
    day = day or shanghai_today()
    if offset <= 0 and free_goods <= 0:
        return []
    lock_dealer(session, dealer_id)
    pos = position(session, dealer_id)
    problems = order_problems(pos, offset, free_goods, order_total, offset_cap_pct(session), day)
    if problems:
        raise RebateRefused(*problems[0])
    return rules.plan_use(pos.credits, {rules.OFFSET: offset, rules.FREE_GOODS: free_goods}, day)


def _credit_rows(session: Session, ids) -> dict[int, Entry]:
    return {e.id: e for e in session.scalars(select(Entry).where(Entry.id.in_(list(ids))))} if ids else {}


def write_order_use(session: Session, order, takes: list[rules.Take], user=None, day: date | None = None) -> list[Entry]:
    """One ``used`` row per credit and purpose the plan draws on, ``ref`` the order."""
    day = day or shanghai_today()
    credits = _credit_rows(session, {t.credit_id for t in takes})
    rows = []
    for t in takes:
        source = credits[t.credit_id]
        rows.append(_append(session, dealer_id=order.dealer_id, kind="used", amount=-t.amount, day=day,
                            policy_id=source.policy_id, period_key=source.period_key, ref=(ORDER_REF, order.id),
                            explanation={"purpose": t.purpose, "credit_entry_id": t.credit_id, "order": order.number,
                                         "credit_kind": source.kind},
                            user=user))
    return rows


def release_order(session: Session, order, user=None, day: date | None = None) -> Decimal:
    """Give back to each credit what the order drew on and has not been given back yet
    (a cancelled or refused order). Returns the amount released; running it again
    releases nothing."""
    day = day or shanghai_today()
    lock_dealer(session, order.dealer_id)
    link = Entry.explanation["credit_entry_id"].astext
    purpose = Entry.explanation["purpose"].astext
    open_uses = session.execute(
        select(link, purpose, func.sum(Entry.amount))
        .where(Entry.dealer_id == order.dealer_id, Entry.ref_type == ORDER_REF, Entry.ref_id == order.id,
               Entry.kind.in_(("used", "released")))
        .group_by(link, purpose).having(func.sum(Entry.amount) < 0)).all()
    credits = _credit_rows(session, {int(c) for c, _p, _a in open_uses if c and c.isdigit()})
    released = Decimal("0.00")
    for credit_id, why, amount in sorted(open_uses, key=lambda r: (r[0] or "", r[1] or "")):
        source = credits.get(int(credit_id)) if credit_id and credit_id.isdigit() else None
        _append(session, dealer_id=order.dealer_id, kind="released", amount=-amount, day=day,
                policy_id=source.policy_id if source else None, period_key=source.period_key if source else None,
                ref=(ORDER_REF, order.id),
                explanation={"purpose": why, "credit_entry_id": int(credit_id) if source else None,
                             "order": order.number, "order_status": order.status},
                user=user)
        released += -amount
    return released


def used_by_order(session: Session, order_id: int) -> dict[str, Decimal]:
    """What an order drew on and still holds, per purpose ({"offset": …, "free_goods": …})."""
    purpose = Entry.explanation["purpose"].astext
    rows = session.execute(select(purpose, func.sum(Entry.amount)).where(
        Entry.ref_type == ORDER_REF, Entry.ref_id == order_id, Entry.kind.in_(("used", "released"))).group_by(purpose))
    return {p: -fen(a) for p, a in rows if a}


# --- credits ---------------------------------------------------------------------------------

def _append(session: Session, dealer_id: int, kind: str, amount: Decimal, day: date, policy_id=None,
            period_key=None, ref=(None, None), explanation=None, expires_on=None, note=None, user=None,
            settlement_run_id=None, figures: tuple = (None, None, None), flush: bool = True) -> Entry:
    base_amount, rate, tier_index = figures
    entry = Entry(dealer_id=dealer_id, kind=kind, amount=fen(amount), policy_id=policy_id, period_key=period_key,
                  ref_type=ref[0], ref_id=ref[1], explanation=explanation or {}, occurred_on=day, expires_on=expires_on,
                  note=(note or None) and note[:300], created_by_id=getattr(user, "id", None),
                  settlement_run_id=settlement_run_id, base_amount=base_amount, rate=rate, tier_index=tier_index)
    session.add(entry)
    if flush:
        session.flush()
    return entry


def credit_expiry(session: Session, day: date, policy: RebatePolicy | None) -> date | None:
    """The last usable day of a credit written on ``day``: the policy's
    ``expires_after_days``; for a credit without a policy (a claim, price protection)
    the tenant's ``rebate_credit_expiry_days`` (0: it does not expire)."""
    if policy is not None:
        return day + timedelta(days=policy.expires_after_days) if policy.expires_after_days else None
    from app.core.settings import setting

    days = int(setting(session, "rebate_credit_expiry_days") or 0)
    return day + timedelta(days=days) if days > 0 else None


def add_credit(session: Session, dealer_id: int, kind: str, amount: Decimal, day: date | None = None, *,
               policy: RebatePolicy | None = None, period_key: str | None = None, ref=(None, None),
               explanation: dict | None = None, expires_on: date | None = None, note: str | None = None,
               user=None, settlement_run_id: int | None = None, base_amount: Decimal | None = None,
               rate: Decimal | None = None, tier_index: int | None = None) -> Entry:
    """Credit the dealer (a positive row of ``kind``); its last usable day follows
    ``credit_expiry`` unless given. ``base_amount``, ``rate`` and ``tier_index`` are the
    figures of a settlement (what the ledger page explains)."""
    if kind not in CREDIT_KINDS:
        raise ValueError(kind)
    if amount <= 0:
        raise ValueError(amount)
    day = day or shanghai_today()
    return _append(session, dealer_id, kind, amount, day, policy_id=policy.id if policy else None,
                   period_key=period_key, ref=ref, explanation=explanation,
                   expires_on=expires_on if expires_on is not None else credit_expiry(session, day, policy),
                   note=note, user=user, settlement_run_id=settlement_run_id, figures=(base_amount, rate, tier_index))


# --- expiry ------------------------------------------------------------------------------------

def _dealers_with_expired_credit(session: Session, day: date) -> list[int]:
    """Dealers that may hold something of a credit past its last day: credits whose
    linked rows have not taken all of them (a superset: unlinked adjustments are
    counted by the replay). One aggregate over the linked rows, joined to the credits."""
    link = Entry.explanation["credit_entry_id"].astext
    linked = (select(link.label("credit_id"), func.sum(Entry.amount).label("drawn"))
              .where(Entry.kind.in_(rules.LINKED_KINDS), link.is_not(None)).group_by(link).subquery())
    stmt = (select(Entry.dealer_id).distinct()
            .outerjoin(linked, linked.c.credit_id == cast(Entry.id, Text))
            .where(Entry.kind.in_(CREDIT_KINDS), Entry.amount > 0, Entry.expires_on < day,
                   Entry.amount + func.coalesce(linked.c.drawn, 0) > 0))
    return sorted(session.scalars(stmt))


def expire_dealer(session: Session, dealer_id: int, day: date) -> list[Entry]:
    """Expire what is left of the dealer's credits past their last day (under the lock)."""
    lock_dealer(session, dealer_id)
    pos = position(session, dealer_id)
    due = rules.plan_expiry(pos.credits, day)
    credits = _credit_rows(session, {t.credit_id for t in due})
    rows = []
    for t in due:
        source = credits[t.credit_id]
        rows.append(_append(session, dealer_id, "expired", -t.amount, day, policy_id=source.policy_id,
                            period_key=source.period_key, ref=(ENTRY_REF, source.id),
                            explanation={"credit_entry_id": source.id, "credit_kind": source.kind,
                                         "expired_after": source.expires_on.isoformat(),
                                         "credit_amount": str(source.amount)}, flush=False))
    session.flush()
    return rows


def expire_due(session: Session, day: date | None = None) -> int:
    """Expire, for every dealer, what is left of credits whose last day was before
    ``day``. Safe to run twice: the second run finds nothing left."""
    day = day or shanghai_today()
    return sum(len(expire_dealer(session, dealer_id, day)) for dealer_id in _dealers_with_expired_credit(session, day))


@daily("rebate-expiry", needs_table="rebate_ledger_entries", actor="rebate expiry")
def expire_rebates(session, day) -> str | None:
    """The daily expiry of unused rebate balances (``expire_due``)."""
    n = expire_due(session, day)
    return f"{n} rebate credit(s) expired on {day}" if n else None


__all__ = ["balance", "balances", "position", "usable", "estimated", "by_policy", "plan_order_use", "write_order_use",
           "release_order", "used_by_order", "add_credit", "expire_due", "expire_dealer", "lock_dealer",
           "RebateRefused", "parse_offset", "order_problems", "offset_cap_pct", "cny", "Balances"]
