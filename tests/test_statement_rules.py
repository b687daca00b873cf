"""Reconciliation statements as pure rules: the figures add up to the fen (hypothesis and
a hand-worked month), the signed content, months, and the printed layout."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.finance.statements import rules
from app.finance.statements.rules import Line

KINDS = {
    "receivable": ["invoice", "credit_note_return", "credit_note_rebate_offset", "credit_note_price_adjustment",
                   "credit_note_other", "payment"],
    "rebate": ["rebate_settled", "rebate_adjusted", "rebate_claim", "rebate_price_protection", "rebate_released",
               "rebate_used", "rebate_expired"],
    "accrual": ["rebate_accrued"],
}
cents = st.integers(0, 10**11).map(lambda n: Decimal(n) / 100)
entries = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 6), st.integers(0, 10**11), st.booleans()), max_size=24)


@st.composite
def month_of_lines(draw):
    """Lines as the generator writes them: numbered through the sections, each section's
    running balance from its opening; an invoice a debit, a credit note or payment a
    credit, a rebate entry either way."""
    opening, rebate_opening = draw(cents) - draw(cents), draw(cents)
    running = {"receivable": opening, "rebate": rebate_opening, "accrual": Decimal(0)}
    lines, no = [], 0
    for s_index, k_index, amount, up in sorted(draw(entries), key=lambda e: e[0]):
        section = ("receivable", "rebate", "accrual")[s_index]
        kind = KINDS[section][k_index % len(KINDS[section])]
        amount = Decimal(amount) / 100
        if kind == "invoice" or (section != "receivable" and up):
            debit, credit = amount, Decimal(0)
        else:
            debit, credit = Decimal(0), amount
        running[section] += debit - credit
        no += 1
        lines.append(Line(no, section, date(2026, 10, 1 + no % 28), kind, "invoices", no, f"R{no}", None, debit,
                          credit, running[section]))
    return opening, rebate_opening, lines


@given(month_of_lines())
@settings(max_examples=300)
def test_figures_of_any_month_balance_to_the_fen(month):
    opening, rebate_opening, lines = month
    figures = rules.figures_of(opening, rebate_opening, lines)
    assert figures.closing_balance == opening + figures.invoiced - figures.credited - figures.paid
    assert figures.rebate_closing == (rebate_opening + figures.rebate_earned - figures.rebate_used
                                      - figures.rebate_expired)
    receivable = [ln for ln in lines if ln.section == "receivable"]
    if receivable:
        assert figures.closing_balance == receivable[-1].balance
    assert rules.balance_problems(figures, opening, rebate_opening, lines) == []


@given(month_of_lines(), st.integers(1, 100))
def test_a_figure_one_fen_off_is_caught(month, which):
    opening, rebate_opening, lines = month
    figures = rules.figures_of(opening, rebate_opening, lines)
    name = rules.FIGURES[which % len(rules.FIGURES)]
    wrong = rules.Figures(**dict(figures.as_dict(), **{name: getattr(figures, name) + Decimal("0.01")}))
    assert rules.balance_problems(wrong, opening, rebate_opening, lines)


@given(month_of_lines())
def test_a_running_balance_one_fen_off_is_caught(month):
    opening, rebate_opening, lines = month
    if not lines:
        return
    figures = rules.figures_of(opening, rebate_opening, lines)
    bad = list(lines)
    last = bad[-1]
    bad[-1] = Line(*[getattr(last, f) for f in Line.__dataclass_fields__][:-1], last.balance + Decimal("0.01"))
    assert any(p.startswith(f"line {last.line_no}") for p in rules.balance_problems(figures, opening, rebate_opening, bad))


def test_hand_worked_month_for_a_dealer():
    """华东医疗器械 2026 年 10 月：期初应收 100,000.00；开票 58,000.00 与 41,300.50；退货红字发票
    3,200.00；回款 80,000.00 → 期末应收 116,100.50。返利期初 5,000.00，季度返利结算 12,860.00，票折
    使用 5,000.00，过期 300.00 → 期末返利 12,560.00；预提 3,420.50 只作备忘。"""
    d = date(2026, 10, 1)
    lines = [
        Line(1, "receivable", d, "invoice", "invoices", 1, "INV-1", None, Decimal("58000.00"), Decimal(0), Decimal("158000.00")),
        Line(2, "receivable", d, "payment", "payments", 1, "PAY-1", None, Decimal(0), Decimal("80000.00"), Decimal("78000.00")),
        Line(3, "receivable", d, "invoice", "invoices", 2, "INV-2", None, Decimal("41300.50"), Decimal(0), Decimal("119300.50")),
        Line(4, "receivable", d, "credit_note_return", "invoices", 3, "CN-1", None, Decimal(0), Decimal("3200.00"), Decimal("116100.50")),
        Line(5, "rebate", d, "rebate_settled", "rebate_ledger_entries", 1, "2026-Q3", None, Decimal("12860.00"), Decimal(0), Decimal("17860.00")),
        Line(6, "rebate", d, "rebate_used", "rebate_ledger_entries", 2, "SO-1", None, Decimal(0), Decimal("5000.00"), Decimal("12860.00")),
        Line(7, "rebate", d, "rebate_expired", "rebate_ledger_entries", 3, "2026-Q1", None, Decimal(0), Decimal("300.00"), Decimal("12560.00")),
        Line(8, "accrual", d, "rebate_accrued", "rebate_ledger_entries", 4, "2026-Q4", None, Decimal("3420.50"), Decimal(0), Decimal("3420.50")),
    ]
    f = rules.figures_of(Decimal("100000.00"), Decimal("5000.00"), lines)
    assert (f.invoiced, f.credited, f.paid, f.closing_balance) == (Decimal("99300.50"), Decimal("3200.00"),
                                                                    Decimal("80000.00"), Decimal("116100.50"))
    assert (f.rebate_earned, f.rebate_used, f.rebate_expired, f.rebate_closing, f.rebate_accrued) == (
        Decimal("12860.00"), Decimal("5000.00"), Decimal("300.00"), Decimal("12560.00"), Decimal("3420.50"))
    assert rules.balance_problems(f, Decimal("100000.00"), Decimal("5000.00"), lines) == []


def test_a_rebate_adjusted_down_is_a_credit_that_lowers_what_was_earned():
    d = date(2026, 10, 5)
    lines = [Line(1, "rebate", d, "rebate_settled", "rebate_ledger_entries", 1, None, None, Decimal("1000.00"), Decimal(0), Decimal("1000.00")),
             Line(2, "rebate", d, "rebate_adjusted", "rebate_ledger_entries", 2, None, None, Decimal(0), Decimal("150.25"), Decimal("849.75"))]
    f = rules.figures_of(Decimal(0), Decimal(0), lines)
    assert f.rebate_earned == Decimal("849.75") and f.rebate_closing == Decimal("849.75")


def _content(lines, figures=None, previous=(None, None)):
    figures = figures or rules.figures_of(Decimal(0), Decimal(0), lines)
    return rules.content(7, date(2026, 10, 1), date(2026, 10, 31), figures, previous, lines)


def test_content_hash_is_stable_and_changes_with_any_line_or_figure():
    d = date(2026, 10, 3)
    line = Line(1, "receivable", d, "invoice", "invoices", 9, "INV-9", "SO-1", Decimal("10.00"), Decimal(0), Decimal("10.00"))
    base = rules.content_hash(_content([line]))
    assert base == rules.content_hash(_content([line]))
    same_value = Line(1, "receivable", d, "invoice", "invoices", 9, "INV-9", "SO-1", Decimal("10"), Decimal("0.00"), Decimal("10.0"))
    assert rules.content_hash(_content([same_value])) == base  # 10 and 10.00 are the same money
    moved = Line(1, "receivable", d + timedelta(days=1), "invoice", "invoices", 9, "INV-9", "SO-1", Decimal("10.00"), Decimal(0), Decimal("10.00"))
    assert rules.content_hash(_content([moved])) != base
    assert rules.content_hash(_content([line], previous=(Decimal("5.00"), None))) != base


def test_what_a_confirmation_signs_carries_the_fingerprint_of_the_lines():
    figures = rules.Figures(opening_balance=Decimal("1.00"), closing_balance=Decimal("1.00"))
    version = rules.signed_version("ST-202610-000001-v2", 2, "D-SH-001", date(2026, 10, 1), figures, "ab" * 32)
    assert version["content_hash"] == "ab" * 32 and version["version"] == 2 and version["period"] == "2026-10"
    assert version["figures"]["opening_balance"] == "1.00"


@pytest.mark.parametrize("text, expected", [
    ("2026-10", date(2026, 10, 1)), ("2026-1", date(2026, 1, 1)), (" 2031-12 ", date(2031, 12, 1)),
    ("2026-13", None), ("9999-12", None), ("1999-12", None), ("2026-00", None), ("", None), (None, None),
    ("²⁰²⁶-10", None), ("2026-10-01", None), ("nan", None)])
def test_months_are_read_strictly(text, expected):
    assert rules.parse_month(text) == expected


def test_a_month_can_be_stated_once_it_has_ended():
    assert rules.closable(date(2026, 10, 1), date(2026, 11, 1))
    assert not rules.closable(date(2026, 10, 1), date(2026, 10, 31))
    assert rules.month_end(date(2028, 2, 1)) == date(2028, 2, 29)
    assert rules.previous_month(date(2026, 1, 1)) == date(2025, 12, 1)


# --- the printed layout -------------------------------------------------------------------

sections = st.lists(st.lists(st.integers(1, 2), max_size=150), min_size=3, max_size=3).map(
    lambda rows: list(zip(("receivable", "rebate", "accrual"), rows)))


@given(sections, st.integers(8, 60), st.integers(8, 70))
@settings(max_examples=300)
def test_pages_never_overflow_and_show_every_row_once_in_order(secs, first, per_page):
    pages = rules.paginate(secs, first, per_page)
    for i, page in enumerate(pages):
        assert page.used <= (first if i == 0 else per_page) or (
            len(page.blocks) <= 2 and any(b.kind == "rows" and b.end - b.start == 1 for b in page.blocks))
    for name, heights in secs:
        shown = [(b.start, b.end) for p in pages for b in p.blocks if b.section == name and b.kind == "rows"]
        covered = [i for start, end in shown for i in range(start, end)]
        assert covered == list(range(len(heights)))
        for p in pages:
            for b in p.blocks:
                if b.section == name and b.kind == "rows":
                    assert b.units == sum(heights[b.start:b.end])
        assert sum(1 for p in pages for b in p.blocks if b.section == name and b.kind == "total") == 1


@given(sections, st.integers(8, 60), st.integers(8, 70))
def test_every_page_of_rows_has_the_column_header_and_titles_are_never_orphaned(secs, first, per_page):
    for page in rules.paginate(secs, first, per_page):
        seen_header = set()
        for k, block in enumerate(page.blocks):
            if block.kind == "header":
                seen_header.add(block.section)
            if block.kind in ("rows", "total"):
                assert block.section in seen_header
            if block.kind == "title":
                assert page.blocks[k + 1].kind == "header" and page.blocks[k + 2].kind in ("rows", "total")


def test_a_long_statement_is_laid_out_as_the_bench_expects():
    pages = rules.paginate([("receivable", [1] * 5000), ("rebate", [1] * 40), ("accrual", [1] * 10)], 39, 60)
    assert 84 <= len(pages) <= 90


def test_fixed_width_columns():
    adv = lambda ch: 2 if ord(ch) > 0x2E80 else 1  # noqa: E731
    assert rules.fit("发票", 8, adv) == "发票    "
    assert rules.fit("12.00", 8, adv, right=True) == "   12.00"
    cut = rules.fit("红字发票（退货）多余", 12, adv)
    assert rules.text_width(cut, adv) == 12 and cut.startswith("红字发票")
    assert rules.wrap("上海 货款 INV-20261103-000028 第二笔", 10, adv) == ["上海 货款", "INV-20261…"]
    assert rules.wrap("", 10, adv) == [""]
    for text in ("广州百仕达医疗器械有限公司 货款 INV-1", "a" * 50, "混合 mixed 文本 text " * 5):
        for line in rules.wrap(text, 12, adv, max_lines=3):
            assert rules.text_width(line, adv) <= 12
