"""Pure rules of reconciliation statements (对账单): months, line kinds and the figures
they add up to, the canonical content a signature signs, and the printed layout (which
lines go on which page, and how a line is set in fixed-width columns).

Sign conventions (see app/finance/models.py and app/rebates/models.py): a line's debit
raises its section's balance (what the dealer owes; the rebate it holds), a credit
lowers it. An invoice is a debit, a credit note or a payment a credit; a rebate ledger
entry is a debit when its signed amount is positive and a credit when negative.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Callable, Iterable, Sequence

from app.compliance.rules import record_hash
from app.core.money import ZERO, fen

# --- months ------------------------------------------------------------------------------

MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
FIRST_YEAR, LAST_YEAR = 2000, 2100


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(start: date) -> date:
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def previous_month(start: date) -> date:
    return (start.replace(day=1) - timedelta(days=1)).replace(day=1)


def parse_month(text: str | None) -> date | None:
    """``2026-10`` → 2026-10-01; None for anything else (years 2000–2100)."""
    match = MONTH_RE.match((text or "").strip())
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (FIRST_YEAR <= year <= LAST_YEAR and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def closable(start: date, today: date) -> bool:
    """A month can be stated once it has ended (a statement of a running month would
    change under the dealer's signature)."""
    return month_end(start) < today


# --- line kinds and the figures ------------------------------------------------------------

#: rebate ledger kinds that add to the dealer's rebate balance on a statement
EARNED_KINDS = ("rebate_settled", "rebate_adjusted", "rebate_claim", "rebate_price_protection", "rebate_released")
USED_KINDS = ("rebate_used",)
EXPIRED_KINDS = ("rebate_expired",)
CREDIT_NOTE_KINDS = ("credit_note_return", "credit_note_rebate_offset", "credit_note_price_adjustment",
                     "credit_note_other")

#: the figures of a statement, in the order they are shown
FIGURES = ("opening_balance", "invoiced", "credited", "paid", "closing_balance", "rebate_opening", "rebate_earned",
           "rebate_used", "rebate_expired", "rebate_closing", "rebate_accrued")

#: which lines make up each figure (what a figure's link filters the lines to)
FIGURE_LINES = {
    "invoiced": ("receivable", ("invoice",)),
    "credited": ("receivable", CREDIT_NOTE_KINDS),
    "paid": ("receivable", ("payment",)),
    "closing_balance": ("receivable", None),
    "rebate_earned": ("rebate", EARNED_KINDS),
    "rebate_used": ("rebate", USED_KINDS),
    "rebate_expired": ("rebate", EXPIRED_KINDS),
    "rebate_closing": ("rebate", None),
    "rebate_accrued": ("accrual", None),
}


@dataclass(frozen=True)
class Line:
    """A statement line as the rules see it."""

    line_no: int
    section: str
    occurred_on: date
    kind: str
    ref_type: str
    ref_id: int
    ref_number: str | None
    description: str | None
    debit: Decimal
    credit: Decimal
    balance: Decimal


@dataclass(frozen=True)
class Figures:
    opening_balance: Decimal = ZERO
    invoiced: Decimal = ZERO
    credited: Decimal = ZERO
    paid: Decimal = ZERO
    closing_balance: Decimal = ZERO
    rebate_opening: Decimal = ZERO
    rebate_earned: Decimal = ZERO
    rebate_used: Decimal = ZERO
    rebate_expired: Decimal = ZERO
    rebate_closing: Decimal = ZERO
    rebate_accrued: Decimal = ZERO

    def as_dict(self) -> dict:
        return {name: fen(getattr(self, name)) for name in FIGURES}


def figures_of(opening: Decimal, rebate_opening: Decimal, lines: Iterable[Line]) -> Figures:
    """The figures a statement's lines add up to, from its two opening balances."""
    sums: dict[str, Decimal] = {name: ZERO for name in FIGURES}
    receivable = rebate = ZERO
    for line in lines:
        net = line.debit - line.credit
        if line.section == "receivable":
            receivable += net
            if line.kind == "invoice":
                sums["invoiced"] += net
            elif line.kind in CREDIT_NOTE_KINDS:
                sums["credited"] -= net
            elif line.kind == "payment":
                sums["paid"] -= net
        elif line.section == "rebate":
            rebate += net
            if line.kind in EARNED_KINDS:
                sums["rebate_earned"] += net
            elif line.kind in USED_KINDS:
                sums["rebate_used"] -= net
            elif line.kind in EXPIRED_KINDS:
                sums["rebate_expired"] -= net
        else:
            sums["rebate_accrued"] += net
    return Figures(opening_balance=opening, invoiced=sums["invoiced"], credited=sums["credited"], paid=sums["paid"],
                   closing_balance=opening + receivable, rebate_opening=rebate_opening,
                   rebate_earned=sums["rebate_earned"], rebate_used=sums["rebate_used"],
                   rebate_expired=sums["rebate_expired"], rebate_closing=rebate_opening + rebate,
                   rebate_accrued=sums["rebate_accrued"])


def balance_problems(stated: Figures, opening: Decimal, rebate_opening: Decimal, lines: Sequence[Line]) -> list[str]:
    """Everything about a statement that does not add up to the fen (empty: it balances):
    each figure against the sum of its lines, the closing identities, and each line's
    running balance against the one before it."""
    problems = []
    computed = figures_of(opening, rebate_opening, lines).as_dict()
    for name, value in stated.as_dict().items():
        if value != computed[name]:
            problems.append(f"{name}: stated {value}, lines add up to {computed[name]}")
    s = stated
    if fen(s.opening_balance + s.invoiced - s.credited - s.paid) != fen(s.closing_balance):
        problems.append("closing_balance ≠ opening + invoiced − credited − paid")
    if fen(s.rebate_opening + s.rebate_earned - s.rebate_used - s.rebate_expired) != fen(s.rebate_closing):
        problems.append("rebate_closing ≠ opening + earned − used − expired")
    running = {"receivable": opening, "rebate": rebate_opening, "accrual": ZERO}
    for line in lines:
        running[line.section] += line.debit - line.credit
        if fen(running[line.section]) != fen(line.balance):
            problems.append(f"line {line.line_no}: balance {line.balance}, running total {running[line.section]}")
            break
    return problems


# --- what a signature signs --------------------------------------------------------------

def content(dealer_id: int, period_start: date, period_end: date, figures: Figures,
            previous: tuple[Decimal | None, Decimal | None], lines: Iterable[Line]) -> dict:
    """The canonical content of a statement: its dealer and month, its figures, the
    previous statement's closing balances it was checked against, and every line. Two
    generations with the same content are the same statement (no new version)."""
    def money(value):
        return None if value is None else str(fen(value))

    return {
        "dealer_id": dealer_id,
        "period": [period_start.isoformat(), period_end.isoformat()],
        "figures": {k: money(v) for k, v in figures.as_dict().items()},
        "previous_closing": [money(previous[0]), money(previous[1])],
        "lines": [[ln.line_no, ln.section, ln.occurred_on.isoformat(), ln.kind, ln.ref_type, ln.ref_id,
                   ln.ref_number or "", ln.description or "", money(ln.debit), money(ln.credit), money(ln.balance)]
                  for ln in lines],
    }


def content_hash(content_: dict) -> str:
    """SHA-256 of the canonical content (the same canonical JSON as signatures use)."""
    return record_hash(content_)


def signed_version(number: str, version: int, dealer_code: str, period_start: date, figures: Figures,
                   content_hash_: str) -> dict:
    """What a dealer's confirmation signs: the statement's identity, its figures and the
    fingerprint of its lines."""
    return {"statement": number, "version": version, "dealer": dealer_code, "period": period_start.strftime("%Y-%m"),
            "figures": {k: str(v) for k, v in figures.as_dict().items()}, "content_hash": content_hash_}


# --- the printed layout ------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """A piece of a printed page, in line units: a section title (2 units), the column
    header (1), rows ``start``–``end`` of a section (their heights), its total line (1)."""

    kind: str  # title | header | rows | total | gap
    section: str
    start: int = 0
    end: int = 0
    units: int = 1


@dataclass
class Page:
    blocks: list[Block] = field(default_factory=list)
    used: int = 0

    def add(self, block: Block) -> None:
        self.blocks.append(block)
        self.used += block.units


TITLE_UNITS = 2


def paginate(sections: Sequence[tuple[str, Sequence[int]]], first_page: int, per_page: int) -> list[Page]:
    """Lay sections of rows out on pages of ``per_page`` units (``first_page`` on the
    first, below the statement's head). ``sections`` is ``[(name, row heights)]``. A
    section starts with its title and the column header and at least one row (or its
    total) on the same page; every continuation page repeats the column header; a total
    follows the section's last row. No page holds more than its units."""
    if per_page < TITLE_UNITS + 3:
        raise ValueError("a page must hold a title, the header, one row and the total")
    pages = [Page()]
    capacity = [first_page]

    def room() -> int:
        return capacity[-1] - pages[-1].used

    def new_page() -> None:
        pages.append(Page())
        capacity.append(per_page)

    for index, (name, heights) in enumerate(sections):
        if index and room() >= 1 and pages[-1].used:
            pages[-1].add(Block("gap", name))
        first_height = heights[0] if heights else 1
        if room() < TITLE_UNITS + 1 + first_height:
            new_page()
        pages[-1].add(Block("title", name, units=TITLE_UNITS))
        pages[-1].add(Block("header", name))
        i = 0
        while i < len(heights):
            if room() < heights[i]:
                new_page()
                pages[-1].add(Block("header", name))
            start, used = i, 0
            while i < len(heights) and used + heights[i] <= room():
                used += heights[i]
                i += 1
            if i == start:  # a row taller than a whole page: give it the page anyway
                used, i = heights[i], i + 1
            pages[-1].add(Block("rows", name, start, i, used))
        if room() < 1:
            new_page()
            pages[-1].add(Block("header", name))
        pages[-1].add(Block("total", name))
    return pages


# --- fixed-width text (the printed lines are set in a monospaced CJK font) --------------------

def text_width(text: str, advance: Callable[[str], int]) -> int:
    """Width of ``text`` in half-width cells; ``advance(ch)`` is 1 or 2."""
    return sum(advance(ch) for ch in text)


def fit(text: str, width: int, advance: Callable[[str], int], right: bool = False) -> str:
    """``text`` cut (ending in …) or padded with spaces to exactly ``width`` cells."""
    text = text or ""
    if text_width(text, advance) > width:
        room, kept, used = width - advance("…"), [], 0
        for ch in text:
            if used + advance(ch) > room:
                break
            kept.append(ch)
            used += advance(ch)
        text = "".join(kept) + "…"
    pad = " " * max(0, width - text_width(text, advance))
    return pad + text if right else text + pad


def wrap(text: str, width: int, advance: Callable[[str], int], max_lines: int = 2) -> list[str]:
    """``text`` broken into lines of at most ``width`` cells, at most ``max_lines`` of
    them (the last one cut, ending in …, when the text is longer)."""
    text = " ".join((text or "").split())
    lines, current, used = [], [], 0
    for ch in text:
        w = advance(ch)
        if used + w > width:
            lines.append("".join(current).rstrip())
            current, used = [], 0
            if ch == " ":
                continue
        current.append(ch)
        used += w
    lines.append("".join(current).rstrip())
    if len(lines) > max_lines:
        rest = "".join(lines[max_lines - 1:])
        lines = lines[:max_lines - 1] + [fit(rest, width, advance).rstrip()]
    return lines
