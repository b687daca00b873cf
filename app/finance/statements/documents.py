"""The statement as documents: a PDF (Chinese, company header, page numbers 第 x 页 /
共 y 页, section totals) and an .xlsx (the figures and every line).

Why the PDF looks the way it does (measured on this 2-core box, see bench/statements.py):
WeasyPrint lays out a table cell by cell, and a 5,000-line statement as one table took
~54 s and ~800 MB; splitting it into per-page tables, or rendering chunks of pages as
separate documents merged with ``Document.copy(pages)``, left it at ~0.3 s per page,
because the cost is the ~300 cell boxes a page holds, not the table's length. So the
lines are set as text in a monospaced CJK font (Noto Sans Mono CJK SC), one ``<pre>``
per page and section, columns padded in cells of half an em (a Chinese character takes
two): a page is a handful of boxes, 5,000 lines render in ~5 s and ~200 MB. The pages
are laid out here (``rules.paginate``) so that every page repeats the column header and
no block is split; page numbers come from WeasyPrint's own counters, so they stay right
even if a page were to overflow. Only two fonts are embedded (the sans for the header,
the mono for the lines): each embedded font costs a subset of a 20 MB collection.
"""
from __future__ import annotations

import gc
import logging
import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from flask import current_app, render_template
from flask_babel import gettext as _

from app.core.i18n import SHANGHAI
from app.core.money import fen
from app.core.tabular import Sheet, write_xlsx
from app.finance.statements import queries, rules

log = logging.getLogger(__name__)

MONO_FAMILY = "Noto Sans Mono CJK SC"
#: the printed page: A4 less margins, in line units of UNIT_MM
UNIT_MM = 4.4
PAGE_UNITS = 60
HEAD_UNITS = 21
#: the width of a printed line, in half-width cells of the mono font at 7.3 pt
LINE_CELLS = 142
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- character widths in the mono font ---------------------------------------------------------

_FONT_PATHS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
               "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
               "/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc")


@lru_cache(maxsize=1)
def _mono_advances() -> tuple[dict[int, int], int] | None:
    """Code point → advance width in the mono face, and its units per em (None when the
    font is not installed: widths then follow Unicode's East Asian Width)."""
    path = next((p for p in _FONT_PATHS if Path(p).exists()), None)
    if path is None:
        return None
    from fontTools.ttLib import TTCollection

    for face in TTCollection(path, lazy=True).fonts:
        if face["name"].getDebugName(1) == MONO_FAMILY:
            metrics = face["hmtx"].metrics
            return {cp: metrics[glyph][0] for cp, glyph in face.getBestCmap().items()}, face["head"].unitsPerEm
    return None


def _warm_up() -> None:
    """In a worker's parent process (before it forks its work horses): the mono font's
    metrics, and one sample statement laid out and printed, so that WeasyPrint's CSS,
    font and shaping caches are warm in every horse (the first statement a fresh horse
    printed cost ~40 % more without it)."""
    from datetime import date
    from types import SimpleNamespace

    _mono_advances()
    zero = Decimal(0)
    day = date(2026, 1, 1)
    kinds = list(queries.KIND_LABELS)
    lines = [rules.Line(i + 1, "receivable" if i < 20 else "rebate" if i < 26 else "accrual", day, kinds[i % len(kinds)],
                        "invoices", i, f"INV-20260101-{i:06d}", "SO-20260101-000001 · 上海医疗器械有限公司 货款",
                        Decimal("12345.67") if i % 2 else zero, zero if i % 2 else Decimal("2345.60"), Decimal("98765.43"))
             for i in range(30)]
    dealer = SimpleNamespace(name="华东医疗器械有限公司", code="D-SH-001", uscc="91310000MA1FL0000X")
    figures = {name: Decimal("1234567.89") for name in rules.FIGURES}
    sample = SimpleNamespace(number="ST-202601-000001-v1", version=1, period_start=day, period_end=day, dealer=dealer,
                             content_hash="0" * 64, previous_closing=None, previous_rebate_closing=None, **figures)
    render_pdf(sample, lines, "预热医疗科技有限公司", None)


def cells(ch: str) -> int | None:
    """How many half-width cells ``ch`` takes in the mono face: 1 or 2, or None for a
    character it lacks or draws at an odd width (it would break the columns)."""
    table = _mono_advances()
    if table is None:
        return 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    advances, upm = table
    advance = advances.get(ord(ch))
    if advance is None:
        return None
    if advance == upm // 2:
        return 1
    if advance == upm:
        return 2
    return None


def printable(text: str | None) -> str:
    """``text`` with every character the columns can hold: full-width forms and the like
    folded (NFKC), the rest shown as ？ (never a fallback font with other widths)."""
    out = []
    for ch in unicodedata.normalize("NFKC", " ".join((text or "").split())):
        out.append(ch if cells(ch) else "？")
    return "".join(out)


def _advance(ch: str) -> int:
    return cells(ch) or 2


# --- the printed lines --------------------------------------------------------------------------

def _amount(value: Decimal) -> str:
    return "" if not value else f"{fen(value):,}"


def _columns(lines: list[rules.Line], totals: list[Decimal]) -> dict:
    money = max([len(_amount(v)) for ln in lines for v in (ln.debit, ln.credit, ln.balance)] +
                [len(_amount(v)) for v in totals] + [13])
    widths = {"no": max(4, len(str(len(lines) or 1))), "date": 5, "kind": 16, "number": 20, "money": money}
    fixed = widths["no"] + widths["date"] + widths["kind"] + widths["number"] + 3 * money + 7
    widths["indent"], widths["description"] = fixed, max(12, LINE_CELLS - fixed)
    return widths


def _row_text(widths: dict, no: str, day: str, kind: str, number: str, debit: str, credit: str, balance: str,
              description: str) -> str:
    w = widths
    return " ".join([rules.fit(no, w["no"], _advance, right=True), rules.fit(day, w["date"], _advance),
                     rules.fit(kind, w["kind"], _advance), rules.fit(number, w["number"], _advance),
                     rules.fit(debit, w["money"], _advance, right=True), rules.fit(credit, w["money"], _advance, right=True),
                     rules.fit(balance, w["money"], _advance, right=True), description])


def _printed_rows(lines: list[rules.Line], widths: dict) -> list[list[str]]:
    """Each line as one or two printed text lines (a long description wraps once)."""
    kinds = {k: str(v) for k, v in queries.KIND_LABELS.items()}
    indent = " " * widths["indent"]
    rows = []
    for ln in lines:
        description = rules.wrap(printable(ln.description), widths["description"], _advance)
        first = _row_text(widths, str(ln.line_no), ln.occurred_on.strftime("%m-%d"), kinds.get(ln.kind, ln.kind),
                          printable(ln.ref_number), _amount(ln.debit), _amount(ln.credit), f"{fen(ln.balance):,}",
                          description[0])
        rows.append([first] + [indent + more for more in description[1:]])
    return rows


def _section_totals(lines: list[rules.Line]) -> dict[str, tuple[Decimal, Decimal]]:
    totals = {name: (Decimal(0), Decimal(0)) for name in ("receivable", "rebate", "accrual")}
    for ln in lines:
        debit, credit = totals[ln.section]
        totals[ln.section] = (debit + ln.debit, credit + ln.credit)
    return totals


def layout(statement, lines: list[rules.Line]) -> dict:
    """Everything the PDF template needs besides the statement: the column header, the
    pages with their blocks of printed text, and each section's total line."""
    sums = _section_totals(lines)
    closing = {"receivable": statement.closing_balance, "rebate": statement.rebate_closing,
               "accrual": statement.rebate_accrued}
    widths = _columns(lines, [v for pair in sums.values() for v in pair] + list(closing.values()))
    printed = _printed_rows(lines, widths)
    by_section = {name: [] for name in ("receivable", "rebate", "accrual")}
    for ln, text_lines in zip(lines, printed):
        by_section[ln.section].append(text_lines)
    header = _row_text(widths, _("Line no."), _("Date"), _("Type"), _("Reference"), _("Debit"), _("Credit"), _("Balance"),
                       _("Description"))
    totals = {name: _row_text(widths, "", "", _("Total"), _("%(n)d line(s)", n=len(by_section[name])),
                              _amount(sums[name][0]) or "0.00", _amount(sums[name][1]) or "0.00",
                              f"{fen(closing[name]):,}", "")
              for name in by_section}
    order = [(name, [len(r) for r in by_section[name]]) for name in ("receivable", "rebate", "accrual")]
    pages = []
    for page in rules.paginate(order, PAGE_UNITS - HEAD_UNITS, PAGE_UNITS):
        blocks = []
        for block in page.blocks:
            if block.kind == "rows":
                chunk = by_section[block.section][block.start:block.end]
                blocks.append({"kind": "rows", "section": block.section, "units": block.units,
                               "text": "\n".join(t for row in chunk for t in row)})
            else:
                blocks.append({"kind": block.kind, "section": block.section, "units": block.units})
        pages.append(blocks)
    return {"pages": pages, "header": header, "totals": totals, "unit_mm": UNIT_MM, "head_units": HEAD_UNITS}


def page_label_css() -> str:
    """The CSS ``content`` of the page number (第 x 页 / 共 y 页), from its translation."""
    label = _("Page %(page)s of %(pages)s", page="\x00", pages="\x01")
    parts = []
    for piece in re.split("(\x00|\x01)", label):
        if piece == "\x00":
            parts.append("counter(page)")
        elif piece == "\x01":
            parts.append("counter(pages)")
        elif piece:
            parts.append('"' + piece.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(parts)


def render_pdf(statement, lines: list[rules.Line], tenant_name: str, previous_number: str | None) -> bytes:
    """The statement's PDF, from its lines as stored (never from the source records)."""
    from weasyprint import HTML

    from app.core.pdf import static_only_fetcher

    html = render_template("documents/statement.html", st=statement, dealer=statement.dealer, tenant_name=tenant_name,
                           previous_number=previous_number, figure_labels=queries.FIGURE_LABELS,
                           sections=queries.SECTION_LABELS, generated_at=datetime.now(SHANGHAI),
                           page_label=page_label_css(),
                           **layout(statement, lines))
    static_root = Path(current_app.static_folder)
    # The layout makes many short-lived objects and few cycles: collecting during it
    # costs time (a third of a large statement's layout when measured) and saves no memory.
    enabled = gc.isenabled()
    gc.disable()
    try:
        document = HTML(string=html, base_url=str(static_root) + "/",
                        url_fetcher=static_only_fetcher(static_root)).render()
        data = document.write_pdf()
    finally:
        if enabled:
            gc.enable()
    return data


def render_xlsx(statement, lines: list[rules.Line], tenant_name: str) -> bytes:
    """The statement as a workbook: its facts and figures, then every line."""
    facts = [
        (_("Issued by"), tenant_name), (_("Dealer"), statement.dealer.name), (_("Dealer code"), statement.dealer.code),
        (_("Unified social credit code"), statement.dealer.uscc or ""),
        (_("Period"), f"{statement.period_start.isoformat()} – {statement.period_end.isoformat()}"),
        (_("Statement"), statement.number), (_("Version"), statement.version),
        (_("Content fingerprint (SHA-256)"), statement.content_hash or ""),
    ] + [(str(queries.FIGURE_LABELS[name]), fen(getattr(statement, name))) for name in rules.FIGURES]
    kinds = {k: str(v) for k, v in queries.KIND_LABELS.items()}
    sections = {k: str(v) for k, v in queries.SECTION_LABELS.items()}
    rows = ([ln.line_no, sections[ln.section], ln.occurred_on, kinds.get(ln.kind, ln.kind), ln.ref_number or "",
             ln.description or "", ln.debit, ln.credit, ln.balance, ln.ref_type, ln.ref_id] for ln in lines)
    return write_xlsx([
        Sheet(_("Summary"), [_("Item"), _("Value")], facts, widths=[28, 60]),
        Sheet(_("Lines"), [_("Line no."), _("Section"), _("Date"), _("Type"), _("Reference"), _("Description"), _("Debit"),
                           _("Credit"), _("Balance"), _("Source"), _("Source id")], rows,
              widths=[7, 16, 12, 22, 22, 48, 15, 15, 16, 22, 10]),
    ])


def _register_warm_up() -> None:
    from app.core.pdf import WARM_UPS

    if _warm_up not in WARM_UPS:
        WARM_UPS.append(_warm_up)


_register_warm_up()
