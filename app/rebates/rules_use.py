"""Pure rules for using a dealer's rebate balance (返利使用): which credits a use consumes,
what is left of each credit, and what expires. No I/O: the ledger module feeds these
functions the dealer's ledger rows and writes what they decide.

**Credits and what draws on them.** A positive ledger row of kind settled, adjusted,
claim or price_protection is a *credit*: money the dealer may spend, usable as an
invoice offset (票折, purpose ``offset``) and/or as free goods (货补, ``free_goods``) as
its policy says, until its ``expires_on`` (the last day it may be used; none: it does
not expire). Rows that draw on one credit name it (``credit_id``): ``used`` and
``expired`` take from it, ``released`` (an order cancelled) gives back to it. A negative
row that names no credit (a settlement adjusted down) takes from the credits of its own
policy first, then first-expiring-first from any; what no credit can cover is a
*deficit* the next credits pay off first. ``accrued`` rows are estimates and never
count.

**Using.** A use consumes credits first-expiring-first: by ``expires_on`` (credits that
never expire last), then by id, taking only credits that may pay for that purpose and
have not expired on the day. An order using both 票折 and 货补 needs both amounts at
once; a credit usable for both is shared between them so that every credit is used
first-expiring-first and the other purpose is never starved of a credit only it could
have used (the split below keeps what is left feasible). A use is refused whole when
the balance cannot cover it.

**Expiring.** On a day, every credit whose ``expires_on`` is before it expires for
exactly what is left of it; running expiry again finds nothing left.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import combinations

OFFSET, FREE_GOODS = "offset", "free_goods"
PURPOSES = (OFFSET, FREE_GOODS)
ZERO = Decimal("0.00")
#: positive rows of these kinds are credits in their own right
CREDIT_KINDS = ("settled", "adjusted", "claim", "price_protection")
#: rows that draw on (or give back to) the credit they name
LINKED_KINDS = ("used", "released", "expired")


@dataclass(frozen=True)
class Movement:
    """One ledger row, as the rules need it."""

    id: int
    kind: str
    amount: Decimal
    expires_on: date | None = None
    usable_as: frozenset = frozenset(PURPOSES)
    policy_id: int | None = None
    #: the credit a used / released / expired row draws on (None: not linked)
    credit_id: int | None = None


@dataclass(frozen=True)
class Credit:
    """A credit and what is left of it."""

    id: int
    amount: Decimal
    remaining: Decimal
    expires_on: date | None
    usable_as: frozenset
    policy_id: int | None = None
    kind: str = "settled"

    def usable_on(self, day: date) -> bool:
        return self.expires_on is None or self.expires_on >= day

    def may_pay(self, purpose: str, day: date) -> bool:
        return purpose in self.usable_as and self.usable_on(day) and self.remaining > 0


def fifo_key(credit: Credit) -> tuple:
    """First-expiring-first, credits that never expire last, then the oldest first."""
    return (credit.expires_on is None, credit.expires_on or date.max, credit.id)


@dataclass(frozen=True)
class Position:
    """What a dealer holds: each credit with what is left of it (first-expiring-first)
    and the deficit no credit covers."""

    credits: tuple[Credit, ...] = ()
    deficit: Decimal = ZERO

    @property
    def balance(self) -> Decimal:
        """Σ of every non-accrued row: what is left of the credits less the deficit."""
        return sum((c.remaining for c in self.credits), ZERO) - self.deficit

    def usable(self, purpose: str, day: date) -> Decimal:
        """What may pay for ``purpose`` on ``day`` (credits not expired, of that use)."""
        return max(ZERO, sum((c.remaining for c in self.credits if c.may_pay(purpose, day)), ZERO))

    def usable_any(self, purposes, day: date) -> Decimal:
        return sum((c.remaining for c in self.credits
                    if c.usable_on(day) and c.remaining > 0 and set(purposes) & c.usable_as), ZERO)

    def expiring(self, day: date, until: date) -> Decimal:
        """What is left of credits still usable on ``day`` whose last day is by ``until``."""
        return sum((c.remaining for c in self.credits
                    if c.expires_on is not None and day <= c.expires_on <= until and c.remaining > 0), ZERO)

    def credit(self, credit_id: int) -> Credit | None:
        return next((c for c in self.credits if c.id == credit_id), None)


def _take_fifo(remaining: dict[int, Decimal], meta: dict[int, Movement], want: Decimal,
               prefer_policy: int | None) -> Decimal:
    """Take up to ``want`` from what is left of the credits (in place): the policy's own
    credits first, then first-expiring-first; returns what could not be taken."""
    def key(credit_id):
        m = meta[credit_id]
        return (prefer_policy is None or m.policy_id != prefer_policy, m.expires_on is None, m.expires_on or date.max,
                credit_id)

    for credit_id in sorted((i for i, left in remaining.items() if left > 0), key=key):
        if want <= 0:
            break
        take = min(remaining[credit_id], want)
        remaining[credit_id] -= take
        want -= take
    return want


def position(movements) -> Position:
    """Replay a dealer's ledger rows (in id order, whatever order they come in) into
    what is left of each credit and the deficit."""
    remaining: dict[int, Decimal] = {}
    meta: dict[int, Movement] = {}
    deficit = ZERO
    for m in sorted(movements, key=lambda m: m.id):
        if m.kind == "accrued" or m.amount == 0:
            continue
        if m.credit_id is not None and m.credit_id in remaining:
            left = remaining[m.credit_id] + m.amount
            if left < 0:  # more was drawn than the credit held (not written by this code)
                deficit += -left
                left = ZERO
            remaining[m.credit_id] = left
        elif m.amount > 0:
            absorbed = min(deficit, m.amount)
            deficit -= absorbed
            remaining[m.id], meta[m.id] = m.amount - absorbed, m
        else:
            deficit += _take_fifo(remaining, meta, -m.amount, m.policy_id)
    credits = [Credit(i, meta[i].amount, left, meta[i].expires_on, frozenset(meta[i].usable_as), meta[i].policy_id,
                      meta[i].kind) for i, left in remaining.items()]
    return Position(tuple(sorted(credits, key=fifo_key)), deficit)


# --- using --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Take:
    credit_id: int
    purpose: str
    amount: Decimal


@dataclass
class Shortfall(Exception):
    """The balance cannot pay for the use. ``purposes`` are those that together ask for
    ``wanted`` while only ``available`` may pay for them on the day."""

    purposes: tuple[str, ...]
    wanted: Decimal
    available: Decimal

    def __str__(self) -> str:
        return f"{'+'.join(self.purposes)}: wanted {self.wanted}, available {self.available}"


def shortfall(credits, demands: dict[str, Decimal], day: date) -> Shortfall | None:
    """Why ``demands`` cannot be paid on ``day``, or None when they can: for every set of
    purposes asked for, what they ask together must not exceed what may pay for any of
    them (for two purposes: each alone, and both together)."""
    asked = [p for p in PURPOSES if demands.get(p, ZERO) > 0]
    usable = [c for c in credits if c.usable_on(day) and c.remaining > 0]
    for size in range(1, len(asked) + 1):
        for group in combinations(asked, size):
            wanted = sum((demands[p] for p in group), ZERO)
            available = sum((c.remaining for c in usable if set(group) & c.usable_as), ZERO)
            if wanted > available:
                return Shortfall(group, wanted, available)
    return None


def plan_use(credits, demands: dict[str, Decimal], day: date) -> list[Take]:
    """Which credits pay for ``demands`` ({purpose: amount}) on ``day``: first-expiring-
    first among those that may pay; a credit usable for both purposes gives each what no
    later credit could give it, then the rest to the invoice offset first. Raises
    ``Shortfall`` (nothing taken) when the balance cannot cover the demands."""
    for p, amount in demands.items():
        if p not in PURPOSES:
            raise ValueError(p)
        if amount < 0:
            raise ValueError(amount)
    if (missing := shortfall(credits, demands, day)) is not None:
        raise missing
    need = {p: demands.get(p, ZERO) for p in PURPOSES}
    ordered = [c for c in sorted(credits, key=fifo_key) if c.usable_on(day) and c.remaining > 0]
    takes: list[Take] = []
    for n, c in enumerate(ordered):
        wanted = [p for p in PURPOSES if need[p] > 0 and p in c.usable_as]
        if not wanted:
            continue
        later = ordered[n + 1:]
        if len(wanted) == 1:
            split = {wanted[0]: min(c.remaining, need[wanted[0]])}
        else:
            # what only this credit (not the later ones) can still give each purpose
            a, b = PURPOSES
            total = min(c.remaining, need[a] + need[b])
            later_a = sum((x.remaining for x in later if a in x.usable_as), ZERO)
            later_b = sum((x.remaining for x in later if b in x.usable_as), ZERO)
            low = max(ZERO, need[a] - later_a, total - need[b])
            high = min(need[a], total - max(ZERO, need[b] - later_b))
            give_a = high if high >= low else low  # high ≥ low whenever the demands are feasible
            split = {a: give_a, b: total - give_a}
        for p, amount in split.items():
            if amount > 0:
                takes.append(Take(c.id, p, amount))
                need[p] -= amount
        if all(v <= 0 for v in need.values()):
            break
    return takes


def plan_expiry(credits, day: date) -> list[Take]:
    """What expires on ``day``: all that is left of each credit whose last day has
    passed (and nothing of any other)."""
    return [Take(c.id, "expired", c.remaining) for c in sorted(credits, key=fifo_key)
            if c.expires_on is not None and c.expires_on < day and c.remaining > 0]


def max_offset(order_total: Decimal, cap_pct: int) -> Decimal:
    """The most 票折 an order of ``order_total`` may carry: ``cap_pct`` % of it, to the
    fen rounded down (a cap is never exceeded by rounding)."""
    from decimal import ROUND_DOWN

    if order_total <= 0 or cap_pct <= 0:
        return ZERO
    return (order_total * Decimal(min(cap_pct, 100)) / Decimal(100)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


__all__ = ["OFFSET", "FREE_GOODS", "PURPOSES", "Movement", "Credit", "Position", "Take", "Shortfall", "position",
           "plan_use", "plan_expiry", "shortfall", "max_offset", "fifo_key"]
