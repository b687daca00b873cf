"""Rebate rules (返利规则): pure calculations, no I/O.

Every figure is a ``Decimal``; nothing here ever touches a float. The SQL in
``app.rebates.bases`` computes the same payouts set-based, and a test proves the two agree
to the fen on random data, so any change here has its twin there.

**Tiers** are ascending thresholds on a measure, each with a rate (a fraction: 0.02 is
2 %). A tier is *reached* when the measure is at least its threshold.

* ``retroactive`` (全额累进): the reached tier's rate on the whole base.
  华东医疗器械, Q4 采购额 ¥1,250,000, tiers 50万 2 % / 100万 3 % / 200万 4 % → 3 % ×
  1,250,000 = ¥37,500.
* ``incremental`` (分段累进): each band between two thresholds at its own rate; what
  lies below the first threshold earns nothing. Same dealer: (100万 − 50万) × 2 % +
  (125万 − 100万) × 3 % = ¥10,000 + ¥7,500 = ¥17,500.

**Kinds** and their measure:

* ``volume`` — the base amount (purchases or sell-out, CNY).
* ``collection`` — the amount collected within N days of invoicing (CNY), tiered like volume.
* ``growth`` — growth over the same period last year, in percent: (this − last) / last.
  Reached tiers pay on this period's base (retroactive), or on the increase
  this − last only (incremental: 增量返利). **A zero or absent last-year base reaches no
  tier**: growth cannot be measured against nothing. Treating it as infinite growth
  would hand the top growth rate to every new dealer on its first order (and invite
  routing purchases through a newly registered company); a new dealer is rewarded by
  the volume policies, and enters the growth policy in its second year. The page says
  so instead of showing a tier.
* ``mix`` — strategic SKUs' share of the purchase base, in percent; the reached tier's
  rate is paid on the whole base (a share has no bands, so mix is retroactive only).

Comparisons for growth and share are made by cross-multiplication — (this − last) × 100
≥ threshold × last — so that Python and SQL decide a tier identically without dividing.

**Conditions** (合规条件) are met or not; one not met either gates the payout (→ 0) or
reduces it (× the condition's rate, the share still paid). Several reductions multiply.

**Caps** (封顶) of one policy: at most ``cap_rate`` × base and at most ``cap_amount``.

**Rounding** happens once per policy, dealer and period: the tier payout, the condition
factor and the caps are exact Decimal arithmetic (base 2 decimals × rates 4 decimals),
and the final amount is rounded to the fen (``fen``: ROUND_HALF_UP, as SQL's
``round(x, 2)``). Sums of fen amounts are exact. Growth and share percentages are
rounded to 0.01 % for display only; the tier decision uses the exact figures.

**Stacking** (叠加): the policies of one period that apply to a dealer are taken in
``priority`` order (then code). Each pays its own capped amount, except an *exclusive*
policy (不与其他政策同享): it pays only if no policy earlier in the stack has paid the
dealer, and once it pays, no later policy does.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Iterable, Sequence

from app.core.money import FEN, ZERO, fen

HUNDRED = Decimal(100)
ONE = Decimal(1)
KINDS = ("volume", "growth", "collection", "mix")
METHODS = ("retroactive", "incremental")
PERIODS = ("month", "quarter", "year")
CONDITIONS = ("sell_out_on_time", "qualifications_valid")
EFFECTS = ("gate", "reduce")


# --- periods ---------------------------------------------------------------------------

def period_key(kind: str, day: date) -> str:
    """The key of the ``kind`` period containing ``day``: 2026-11, 2026-Q4, 2026."""
    if kind == "month":
        return f"{day.year}-{day.month:02d}"
    if kind == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if kind == "year":
        return str(day.year)
    raise ValueError(kind)


def parse_period(key: str) -> tuple[str, date, date]:
    """(kind, first day, last day) of a period key; ValueError for anything else."""
    key = (key or "").strip()
    if len(key) == 4 and key.isascii() and key.isdigit():
        year = int(key)
        _year_ok(year)
        return "year", date(year, 1, 1), date(year, 12, 31)
    if len(key) == 7 and key[4] == "-" and key[:4].isascii() and key[:4].isdigit():
        year = int(key[:4])
        _year_ok(year)
        if key[5] == "Q" and key[6] in "1234":
            q = int(key[6])
            start = date(year, 3 * q - 2, 1)
            return "quarter", start, _month_end(date(year, 3 * q, 1))
        if key[5:].isascii() and key[5:].isdigit() and 1 <= int(key[5:]) <= 12:
            start = date(year, int(key[5:]), 1)
            return "month", start, _month_end(start)
    raise ValueError(f"not a period key: {key!r}")


def _year_ok(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise ValueError(f"year out of range: {year}")


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def shift_key(key: str, periods: int) -> str:
    """The key ``periods`` periods of the same kind after (or before) ``key``."""
    kind, start, _end = parse_period(key)
    if kind == "year":
        return str(start.year + periods)
    step = 1 if kind == "month" else 3
    index = start.year * 12 + start.month - 1 + periods * step
    return period_key(kind, date(index // 12, index % 12 + 1, 1))


def last_year_key(key: str) -> str:
    """The same period one year earlier (2026-Q4 → 2025-Q4): what growth compares with."""
    kind = parse_period(key)[0]
    return shift_key(key, -{"month": 12, "quarter": 4, "year": 1}[kind])


def is_period_start(kind: str, day: date) -> bool:
    return parse_period(period_key(kind, day))[1] == day


def is_period_end(kind: str, day: date) -> bool:
    return parse_period(period_key(kind, day))[2] == day


# --- tiers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Tier:
    threshold: Decimal
    rate: Decimal


def parse_tiers(raw: Sequence[dict] | None) -> tuple[Tier, ...]:
    """Tiers as stored in ``rebate_policies.tiers`` (``[{"from": "…", "rate": "…"}]``)."""
    return tuple(Tier(Decimal(str(t["from"])), Decimal(str(t["rate"]))) for t in raw or ())


def tiers_json(tiers: Iterable[Tier]) -> list[dict]:
    return [{"from": str(t.threshold), "rate": str(t.rate)} for t in tiers]


def reached_by_amount(tiers: Sequence[Tier], amount: Decimal) -> int | None:
    """Index of the highest tier whose threshold ``amount`` reaches, or None."""
    reached = None
    for i, tier in enumerate(tiers):
        if amount >= tier.threshold:
            reached = i
    return reached


def reached_by_growth(tiers: Sequence[Tier], this: Decimal, last: Decimal) -> int | None:
    """Highest tier whose growth threshold (percent) is reached; None without a
    last-year base (see the module: growth against nothing reaches nothing)."""
    if last <= 0:
        return None
    reached = None
    for i, tier in enumerate(tiers):
        if (this - last) * HUNDRED >= tier.threshold * last:
            reached = i
    return reached


def reached_by_share(tiers: Sequence[Tier], part: Decimal, whole: Decimal) -> int | None:
    """Highest tier whose share threshold (percent of ``whole``) ``part`` reaches."""
    if whole <= 0:
        return None
    reached = None
    for i, tier in enumerate(tiers):
        if part * HUNDRED >= tier.threshold * whole:
            reached = i
    return reached


def retroactive(tiers: Sequence[Tier], amount: Decimal, reached: int | None) -> Decimal:
    """The reached tier's rate on the whole ``amount`` (exact, not rounded)."""
    return ZERO if reached is None else amount * tiers[reached].rate


@dataclass(frozen=True)
class Band:
    index: int
    low: Decimal
    high: Decimal | None  # None: open above
    amount: Decimal       # the part of the base that falls in this band
    rate: Decimal

    @property
    def payout(self) -> Decimal:
        return self.amount * self.rate


def bands(tiers: Sequence[Tier], amount: Decimal) -> list[Band]:
    """How ``amount`` falls into the tiers' bands (what an incremental policy pays on)."""
    out = []
    for i, tier in enumerate(tiers):
        high = tiers[i + 1].threshold if i + 1 < len(tiers) else None
        top = amount if high is None else min(amount, high)
        out.append(Band(i, tier.threshold, high, max(top - tier.threshold, ZERO), tier.rate))
    return out


def incremental(tiers: Sequence[Tier], amount: Decimal) -> Decimal:
    """Each band at its own rate (exact, not rounded)."""
    return sum((b.payout for b in bands(tiers, amount)), ZERO)


# --- next tier -------------------------------------------------------------------------

@dataclass(frozen=True)
class NextTier:
    index: int
    threshold: Decimal   # in the measure's unit (CNY, or percent for growth and mix)
    rate: Decimal
    #: what is still missing, in CNY (more purchases, more sell-out, more collected on
    #: time, more growth, more strategic SKUs); None when no amount can reach it
    gap: Decimal | None
    #: for the progress bar: where the dealer is and where the tier begins (CNY)
    value: Decimal
    target: Decimal | None

    @property
    def progress(self) -> Decimal:
        """0–1, how far along to the next threshold."""
        if not self.target or self.target <= 0:
            return ZERO
        return min(max(self.value / self.target, ZERO), ONE)


def _ceil_fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_CEILING)


def next_tier(kind: str, tiers: Sequence[Tier], reached: int | None, base: Decimal, last_year: Decimal = ZERO,
              strategic: Decimal = ZERO) -> NextTier | None:
    """The tier after the reached one, and what it takes to get there; None at the top."""
    i = 0 if reached is None else reached + 1
    if i >= len(tiers):
        return None
    tier = tiers[i]
    if kind == "growth":
        if last_year <= 0:
            return NextTier(i, tier.threshold, tier.rate, None, base, None)
        target = _ceil_fen(last_year * (HUNDRED + tier.threshold) / HUNDRED)
        return NextTier(i, tier.threshold, tier.rate, max(target - base, ZERO), base, target)
    if kind == "mix":
        if tier.threshold >= HUNDRED:
            return NextTier(i, tier.threshold, tier.rate, None, strategic, None)
        # x more strategic purchases: (s + x) / (T + x) >= t / 100
        gap = _ceil_fen(max((tier.threshold * base - HUNDRED * strategic) / (HUNDRED - tier.threshold), ZERO))
        if base + gap <= 0:
            gap = FEN  # a share of nothing reaches nothing: the first strategic purchase does
        return NextTier(i, tier.threshold, tier.rate, gap, strategic, strategic + gap)
    return NextTier(i, tier.threshold, tier.rate, max(tier.threshold - base, ZERO), base, tier.threshold)


# --- conditions, caps, one policy -------------------------------------------------------

def condition_factor(conditions: dict, met: dict[str, bool]) -> Decimal:
    """What share of the payout survives the conditions: 0 when a gate is not met, the
    product of the rates of reductions not met, else 1. A condition with no result
    (not evaluated) counts as met."""
    factor = ONE
    for name, spec in (conditions or {}).items():
        if met.get(name, True):
            continue
        if spec.get("effect") == "gate":
            return ZERO
        factor *= Decimal(str(spec.get("rate", "1")))
    return factor


@dataclass(frozen=True)
class PolicySpec:
    """The parts of a policy the arithmetic needs."""

    kind: str
    method: str
    tiers: tuple[Tier, ...]
    conditions: dict = field(default_factory=dict)
    cap_rate: Decimal | None = None
    cap_amount: Decimal | None = None

    @classmethod
    def of(cls, policy) -> "PolicySpec":
        """From a ``RebatePolicy`` (or anything with its attributes)."""
        return cls(policy.kind, policy.method, parse_tiers(policy.tiers), dict(policy.conditions or {}),
                   policy.cap_rate, policy.cap_amount)


@dataclass(frozen=True)
class Figures:
    """One dealer's figures for one policy and period. ``base`` is the policy's base
    (purchases, sell-out or collected on time; ≥ 0); ``last_year`` the same base a year
    earlier (growth); ``strategic`` the strategic SKUs' part of ``base`` (mix)."""

    base: Decimal
    last_year: Decimal = ZERO
    strategic: Decimal = ZERO
    met: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    tier: int | None
    rate: Decimal | None
    #: the tier payout before conditions and caps (exact)
    raw: Decimal
    factor: Decimal
    #: which cap bound the amount: 'cap_rate', 'cap_amount' or None
    capped_by: str | None
    #: what the policy pays, rounded to the fen
    amount: Decimal
    next: NextTier | None


def reached(spec: PolicySpec, fig: Figures) -> int | None:
    if spec.kind == "growth":
        return reached_by_growth(spec.tiers, fig.base, fig.last_year)
    if spec.kind == "mix":
        return reached_by_share(spec.tiers, fig.strategic, fig.base)
    return reached_by_amount(spec.tiers, fig.base)


def raw_payout(spec: PolicySpec, fig: Figures, tier: int | None) -> Decimal:
    """The tier payout before conditions and caps, exact."""
    if spec.kind == "growth":
        if tier is None:
            return ZERO
        paid_on = fig.base if spec.method == "retroactive" else max(fig.base - fig.last_year, ZERO)
        return paid_on * spec.tiers[tier].rate
    if spec.kind == "mix" or spec.method == "retroactive":
        return retroactive(spec.tiers, fig.base, tier)
    return incremental(spec.tiers, fig.base)


def cap(amount: Decimal, base: Decimal, cap_rate: Decimal | None, cap_amount: Decimal | None) -> tuple[Decimal, str | None]:
    """``amount`` held to ``cap_rate`` × base and ``cap_amount``; which one bound it."""
    capped_by = None
    if cap_rate is not None and amount > cap_rate * base:
        amount, capped_by = cap_rate * base, "cap_rate"
    if cap_amount is not None and amount > cap_amount:
        amount, capped_by = cap_amount, "cap_amount"
    return amount, capped_by


def outcome(spec: PolicySpec, fig: Figures) -> Outcome:
    """What one policy pays one dealer for one period: tier, conditions, caps, rounded
    once to the fen."""
    tier = reached(spec, fig)
    raw = raw_payout(spec, fig, tier)
    factor = condition_factor(spec.conditions, fig.met)
    amount, capped_by = cap(raw * factor, fig.base, spec.cap_rate, spec.cap_amount)
    return Outcome(tier, None if tier is None else spec.tiers[tier].rate, raw, factor, capped_by, fen(amount),
                   next_tier(spec.kind, spec.tiers, tier, fig.base, fig.last_year, fig.strategic))


def percent_text(fraction) -> str:
    """A rate as people write it: Decimal('0.025') → '2.5%'."""
    if fraction is None:
        return ""
    return format((Decimal(str(fraction)) * HUNDRED).normalize(), "f") + "%"


def number_text(value) -> str:
    """A threshold or percentage without trailing zeros: Decimal('15.00') → '15'."""
    return format(Decimal(str(value)).normalize(), "f")


def growth_pct(this: Decimal, last: Decimal) -> Decimal | None:
    """Growth in percent to 0.01 % for display; None without a last-year base."""
    if last <= 0:
        return None
    return ((this - last) * HUNDRED / last).quantize(FEN, rounding=ROUND_HALF_UP)


def share_pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole <= 0:
        return None
    return (part * HUNDRED / whole).quantize(FEN, rounding=ROUND_HALF_UP)


# --- stacking --------------------------------------------------------------------------

@dataclass(frozen=True)
class StackItem:
    code: str
    priority: int
    exclusive: bool
    amount: Decimal


@dataclass(frozen=True)
class Stacked:
    code: str
    amount: Decimal
    #: the policy whose payment kept this one from paying (exclusivity), if any
    excluded_by: str | None


def stack(items: Iterable[StackItem]) -> list[Stacked]:
    """One dealer's policies of one period in stacking order (priority, then code),
    each with what it finally pays (see the module on exclusive policies)."""
    out, first_payer, closed_by = [], None, None
    for item in sorted(items, key=lambda i: (i.priority, i.code)):
        if closed_by is not None:
            out.append(Stacked(item.code, ZERO, closed_by))
            continue
        if item.exclusive and first_payer is not None:
            out.append(Stacked(item.code, ZERO, first_payer))
            continue
        out.append(Stacked(item.code, item.amount, None))
        if item.amount > 0:
            first_payer = first_payer or item.code
            if item.exclusive:
                closed_by = item.code
    return out
