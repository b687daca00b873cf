"""Pure rules of invoices and collections (回款): the VAT split of a tax-inclusive amount,
a proportional split to the fen, aging buckets, which reminder an invoice is due for,
DSO and collection rate, and the plan of the automatic matching (核销). Values in,
values out: no database, no request.

Rounding: every amount is ``Decimal`` to the fen, ROUND_HALF_UP (``app.core.money.fen``,
identical to SQL ``round(x::numeric, 2)``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Sequence

from app.core.money import FEN, ZERO, fen

# --- VAT ---------------------------------------------------------------------------------


def split_vat(amount: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    """``(net, tax)`` of a tax-inclusive ``amount`` at ``rate`` (0.13 is 13 %).

    The tax-inclusive amount is the figure the dealer agreed to pay (price × quantity),
    so it stays fixed; the net is rounded, ``net = fen(amount / (1 + rate))``, and the
    tax is what is left, ``tax = amount − net``. So ``net + tax = amount`` to the fen on
    every line, and the tax is within half a fen × (1 + rate) of ``net × rate`` (what
    the tax system computes per line). An invoice's net and tax are the sums of its
    lines' figures, never re-derived from its total."""
    amount, rate = Decimal(amount), Decimal(rate)
    if amount < 0 or rate < 0:
        raise ValueError("amount and rate must not be negative")
    net = fen(amount / (1 + rate))
    return net, amount - net


def split_proportionally(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``total`` shared among ``weights`` in proportion, to the fen, with the parts
    adding up to ``total`` exactly (largest remainder: each part is rounded down and
    the fen left over go to the largest remainders, earlier positions first on a tie).
    No part exceeds its weight when ``total`` ≤ Σ weights (a credit note spread over an
    invoice's lines never credits a line more than it charged)."""
    total = Decimal(total)
    weights = [Decimal(w) for w in weights]
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("total and weights must not be negative")
    whole = sum(weights, ZERO)
    if total > whole:
        raise ValueError("total exceeds the weights")
    if total == 0:
        return [ZERO for _w in weights]
    raw = [total * w / whole for w in weights]
    parts = [r.quantize(FEN, rounding=ROUND_DOWN) for r in raw]
    left = int((total - sum(parts, ZERO)) / FEN)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += FEN
    return parts


# --- aging ---------------------------------------------------------------------------------

#: aging by days past due; "not_due" (due today or later) is shown apart from the buckets
BUCKETS = ("not_due", "d0_30", "d31_60", "d61_90", "d90_plus")
OVERDUE_BUCKETS = BUCKETS[1:]


def aging_bucket(days_past_due: int) -> str:
    """The aging bucket of an open amount ``days_past_due`` days after its due day.

    Aging runs on days past due, not days since issue: dealers have 45-, 60- or 90-day
    terms, so an agent's invoice 80 days old may be on time while a tier-2 dealer's is
    a month late; what finance chases, and what blocks credit, is lateness. An invoice
    due today is not yet due; "0–30" is one to thirty days late, "90+" more than 90."""
    if days_past_due <= 0:
        return "not_due"
    if days_past_due <= 30:
        return "d0_30"
    if days_past_due <= 60:
        return "d31_60"
    if days_past_due <= 90:
        return "d61_90"
    return "d90_plus"


# --- reminders -------------------------------------------------------------------------------

REMINDER_KINDS = ("due_in_7", "due_today", "overdue_7", "overdue_30")


def reminder_kind(days_past_due: int) -> str | None:
    """The reminder an open invoice has earned ``days_past_due`` days after its due day
    (negative: before it): seven days before, on the day, seven and thirty days after.

    Each kind covers the days up to the next one, so a day the daily run missed (a
    worker down) is caught up the next day, and an invoice first seen long overdue gets
    only the latest kind, not the whole series at once. Sent once per invoice × kind."""
    if days_past_due >= 30:
        return "overdue_30"
    if days_past_due >= 7:
        return "overdue_7"
    if days_past_due >= 0:
        return "due_today"
    if days_past_due >= -7:
        return "due_in_7"
    return None


# --- DSO and collection rate --------------------------------------------------------------------

def dso(receivable: Decimal, credit_sales: Decimal, days: int) -> Decimal | None:
    """Days sales outstanding: receivable at the period's end ÷ credit sales over the
    period × its days (credit sales = invoices − credit notes issued in the period),
    to 0.1 day. None when there were no credit sales; a credit balance counts as 0."""
    credit_sales = Decimal(credit_sales)
    if credit_sales <= 0:
        return None
    receivable = max(Decimal(receivable), ZERO)
    return (receivable / credit_sales * days).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def collection_rate(collected: Decimal, opening: Decimal, invoiced: Decimal) -> Decimal | None:
    """回款率 in per cent, to 0.1: collected in the period ÷ (receivable at the period's
    start + invoiced in the period, net of credit notes). None when nothing was
    collectable. Above 100 % when the dealer paid in advance."""
    collectable = Decimal(opening) + Decimal(invoiced)
    if collectable <= 0:
        return None
    return (Decimal(collected) * 100 / collectable).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# --- statuses ----------------------------------------------------------------------------------

def invoice_status(amount: Decimal, settled: Decimal) -> str:
    """An invoice (or credit note) is settled when applications cover all of it."""
    return "settled" if settled >= amount else "open"


def payment_status(amount: Decimal, applied: Decimal) -> str:
    if applied <= 0:
        return "unapplied"
    return "applied" if applied >= amount else "partial"


# --- automatic matching ---------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenItem:
    """An open invoice as the matching sees it (oldest first in the lists it gets)."""

    id: int
    number: str
    open_amount: Decimal
    tax_invoice_no: str | None = None


# an invoice number as people type it (INV-20261125-000123, INV20261125000123, inv 20261125 000123)
# or a tax invoice number (8 or 20 digits)
_TOKEN = re.compile(r"[A-Z]{2,4}[-_\s]?\d{8}[-_\s]?\d{6,}|\d{8,20}")
_SEPARATORS = re.compile(r"[-_\s]")


def _normal(text: str) -> str:
    return _SEPARATORS.sub("", text.upper())


def named_in(reference: str | None, items: Sequence[OpenItem]) -> list[OpenItem]:
    """The items whose invoice number (or tax invoice number) the payer's remark names,
    in the order the remark names them. Whole numbers only: "000123" alone, or one
    number inside a longer one, names nothing."""
    if not reference:
        return []
    by_key: dict[str, OpenItem] = {}
    for item in items:
        by_key.setdefault(_normal(item.number), item)
        if item.tax_invoice_no:
            by_key.setdefault(_normal(item.tax_invoice_no), item)
    named: list[OpenItem] = []
    for token in _TOKEN.findall(reference.upper()):
        item = by_key.get(_normal(token))
        if item is not None and item not in named:
            named.append(item)
    return named


def plan_auto_match(available: Decimal, reference: str | None, items: Sequence[OpenItem]) -> list[tuple[int, Decimal]]:
    """What the automatic matching applies of a payment (``available`` unapplied) to a
    dealer's open invoices (``items``, oldest first): ``[(invoice id, amount)]``.

    1. Invoices the remark names: each in turn, up to its open amount, until the money
       runs out; what is left stays unapplied.
    2. Otherwise, by amount: the one invoice whose open amount equals the payment, or
       — when the payment equals the sum of all of them — every open invoice. Two
       invoices with the same open amount are ambiguous: nothing is matched.
    Everything else waits for a clerk (manual matching)."""
    available = Decimal(available)
    items = [i for i in items if i.open_amount > 0]
    if available <= 0 or not items:
        return []
    named = named_in(reference, items)
    if named:
        plan = []
        for item in named:
            if available <= 0:
                break
            amount = min(item.open_amount, available)
            plan.append((item.id, amount))
            available -= amount
        return plan
    exact = [i for i in items if i.open_amount == available]
    if len(exact) == 1:
        return [(exact[0].id, available)]
    if not exact and len(items) > 1 and sum((i.open_amount for i in items), ZERO) == available:
        return [(i.id, i.open_amount) for i in items]
    return []
