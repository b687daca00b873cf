"""The pure rules of invoices and collections: the VAT split of a tax-inclusive amount, a
proportional split to the fen, aging buckets at their boundaries, reminder kinds, DSO
and collection rate, and the automatic matching plan — with hypothesis and with
hand-worked examples in the business's own terms."""
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.money import fen
from app.finance import rules
from app.finance.rules import OpenItem

D = Decimal
amounts = st.decimals(min_value=D("0"), max_value=D("999999999.99"), places=2, allow_nan=False, allow_infinity=False)
rates = st.sampled_from([D("0"), D("0.01"), D("0.03"), D("0.06"), D("0.09"), D("0.13")]) | st.decimals(
    min_value=D("0"), max_value=D("0.9999"), places=4, allow_nan=False, allow_infinity=False)


# --- VAT ----------------------------------------------------------------------------------------

@given(amounts, rates)
def test_net_plus_tax_is_the_amount_for_any_amount_and_rate(amount, rate):
    net, tax = rules.split_vat(amount, rate)
    assert net + tax == amount
    assert net >= 0 and tax >= 0
    assert net == fen(net) and tax == fen(tax)
    # the tax is what the tax system computes per line (net × rate), give or take the rounding of the net
    assert abs(tax - net * rate) <= D("0.005") * (1 + rate)


def test_vat_split_hand_worked():
    # 药物洗脱支架 10 套 × ¥5,314.00 含税 at 13 %: net 53,140 / 1.13 = 47,026.548… → 47,026.55
    assert rules.split_vat(D("53140.00"), D("0.13")) == (D("47026.55"), D("6113.45"))
    # 体外诊断试剂 at the simplified 3 %: 1,030.00 → 1,000.00 + 30.00 exactly
    assert rules.split_vat(D("1030.00"), D("0.03")) == (D("1000.00"), D("30.00"))
    # one fen at 13 %: 0.01 / 1.13 = 0.00885 → net 0.01, no tax
    assert rules.split_vat(D("0.01"), D("0.13")) == (D("0.01"), D("0.00"))
    # free goods (货补) at zero stay zero
    assert rules.split_vat(D("0.00"), D("0.13")) == (D("0.00"), D("0.00"))
    # a service line at 6 %: ¥10,600.00 → ¥10,000.00 + ¥600.00
    assert rules.split_vat(D("10600.00"), D("0.06")) == (D("10000.00"), D("600.00"))
    # 9 %: ¥99.99 / 1.09 = 91.733… → 91.73 + 8.26
    assert rules.split_vat(D("99.99"), D("0.09")) == (D("91.73"), D("8.26"))


# --- proportional split ----------------------------------------------------------------------------

@given(st.lists(amounts, min_size=1, max_size=12), st.data())
def test_a_proportional_split_adds_up_and_never_exceeds_a_weight(weights, data):
    whole = sum(weights, D("0"))
    total = data.draw(st.decimals(min_value=D("0"), max_value=whole, places=2, allow_nan=False, allow_infinity=False))
    parts = rules.split_proportionally(total, weights)
    assert sum(parts, D("0")) == total
    assert all(D("0") <= p <= w for p, w in zip(parts, weights))
    assert all(p == fen(p) for p in parts)


@settings(max_examples=200)
@given(st.lists(st.tuples(amounts, rates), min_size=1, max_size=8), st.data())
def test_a_rebate_offset_credit_note_never_exceeds_the_invoice_and_its_vat_adds_up(lines, data):
    """票折 over an invoice with mixed VAT rates: each part is split at its line's rate,
    and the credit note's net + VAT is its amount, at most the invoice's."""
    invoice = sum((a for a, _r in lines), D("0"))
    offset = data.draw(st.decimals(min_value=D("0"), max_value=invoice * 2 + 1, places=2, allow_nan=False,
                                   allow_infinity=False))
    credit = min(offset, invoice)
    parts = rules.split_proportionally(credit, [a for a, _r in lines])
    split = [rules.split_vat(p, r) for p, (_a, r) in zip(parts, lines)]
    assert sum((n + t for n, t in split), D("0")) == credit <= invoice
    for (net, tax), (amount, rate) in zip(split, lines):
        line_net, line_tax = rules.split_vat(amount, rate)
        assert net <= line_net + D("0.01") and tax <= line_tax + D("0.01")


def test_proportional_split_hand_worked():
    # ¥1,000 票折 over lines of ¥10,000 (13 %) and ¥5,000 (3 %): 666.666… and 333.333…
    assert rules.split_proportionally(D("1000.00"), [D("10000.00"), D("5000.00")]) == [D("666.67"), D("333.33")]
    # three equal lines share one fen left over: the first takes it
    assert rules.split_proportionally(D("0.10"), [D("1"), D("1"), D("1")]) == [D("0.04"), D("0.03"), D("0.03")]
    # a free-goods line (weight 0) gets nothing
    assert rules.split_proportionally(D("50.00"), [D("0"), D("100.00")]) == [D("0.00"), D("50.00")]


# --- aging and reminders ------------------------------------------------------------------------------

@given(st.integers(min_value=-10_000, max_value=10_000))
def test_every_day_has_exactly_one_bucket_and_buckets_follow_lateness(days):
    bucket = rules.aging_bucket(days)
    assert bucket in rules.BUCKETS
    assert rules.BUCKETS.index(rules.aging_bucket(days + 1)) >= rules.BUCKETS.index(bucket)


def test_aging_buckets_at_their_boundaries():
    expected = {-30: "not_due", -1: "not_due", 0: "not_due", 1: "d0_30", 30: "d0_30", 31: "d31_60", 60: "d31_60",
                61: "d61_90", 90: "d61_90", 91: "d90_plus", 400: "d90_plus"}
    assert {d: rules.aging_bucket(d) for d in expected} == expected


def test_reminder_kinds_at_their_boundaries():
    expected = {-8: None, -7: "due_in_7", -1: "due_in_7", 0: "due_today", 6: "due_today", 7: "overdue_7",
                29: "overdue_7", 30: "overdue_30", 365: "overdue_30"}
    assert {d: rules.reminder_kind(d) for d in expected} == expected


# --- DSO and collection rate ----------------------------------------------------------------------------

def test_dso_and_collection_rate_hand_worked():
    # 应收 ¥300,000 at the end of a quarter in which ¥900,000 was invoiced: 300/900 × 90 = 30 days
    assert rules.dso(D("300000"), D("900000"), 90) == D("30.0")
    # nothing invoiced in the period: no DSO; a credit balance counts as nothing owed
    assert rules.dso(D("1000"), D("0"), 90) is None
    assert rules.dso(D("-500"), D("1000"), 30) == D("0.0")
    # 回款率: opening ¥200,000 + invoiced ¥800,000, collected ¥750,000 → 75.0 %
    assert rules.collection_rate(D("750000"), D("200000"), D("800000")) == D("75.0")
    assert rules.collection_rate(D("10"), D("0"), D("0")) is None
    # paid in advance: over 100 %
    assert rules.collection_rate(D("1200"), D("0"), D("1000")) == D("120.0")


@given(amounts, amounts.filter(lambda a: a > 0), st.sampled_from([30, 90, 180, 365]))
def test_dso_is_never_negative_and_scales_with_the_period(receivable, sales, days):
    value = rules.dso(receivable, sales, days)
    assert value is not None and value >= 0


# --- automatic matching ------------------------------------------------------------------------------

ITEMS = [OpenItem(1, "INV-20261001-000101", D("11300.00"), "25312000000012345678"),
         OpenItem(2, "INV-20261015-000102", D("5650.00")),
         OpenItem(3, "INV-20261101-000103", D("2260.00"))]


def test_a_remark_naming_an_invoice_applies_up_to_its_open_amount_then_to_the_next_named():
    # “货款 INV-20261015-000102 及 INV20261001000101”: the second named is the oldest, but
    # the remark's order decides
    plan = rules.plan_auto_match(D("8000.00"), "货款 INV-20261015-000102 及 INV20261001000101", ITEMS)
    assert plan == [(2, D("5650.00")), (1, D("2350.00"))]
    # more than the named invoices: the rest stays unapplied
    assert rules.plan_auto_match(D("6000.00"), "inv-20261101-000103", ITEMS) == [(3, D("2260.00"))]


def test_a_remark_naming_the_tax_invoice_number_matches_too():
    assert rules.plan_auto_match(D("11300.00"), "发票号码25312000000012345678", ITEMS) == [(1, D("11300.00"))]


def test_a_number_inside_a_longer_one_names_nothing():
    assert rules.named_in("INV-20261015-0001021", ITEMS) == []
    assert rules.named_in("000102", ITEMS) == []


def test_by_amount_one_exact_invoice_or_all_of_them_otherwise_nothing():
    assert rules.plan_auto_match(D("5650.00"), "货款", ITEMS) == [(2, D("5650.00"))]
    assert rules.plan_auto_match(D("19210.00"), None, ITEMS) == [(1, D("11300.00")), (2, D("5650.00")),
                                                                  (3, D("2260.00"))]
    assert rules.plan_auto_match(D("5000.00"), "货款", ITEMS) == []
    twins = ITEMS + [OpenItem(4, "INV-20261102-000104", D("5650.00"))]
    assert rules.plan_auto_match(D("5650.00"), None, twins) == []  # two candidates: a clerk decides


@given(amounts, st.lists(amounts.filter(lambda a: a > 0), max_size=6), st.text(max_size=60))
def test_an_automatic_plan_never_applies_more_than_the_payment_or_an_invoice_has_open(available, opens, remark):
    items = [OpenItem(i + 1, f"INV-20261101-{i + 1:06d}", a) for i, a in enumerate(opens)]
    remark = remark + " ".join(i.number for i in items[:2])
    plan = rules.plan_auto_match(available, remark, items)
    assert sum((a for _i, a in plan), D("0")) <= available
    by_id = {i.id: i for i in items}
    assert all(D("0") < a <= by_id[i].open_amount for i, a in plan)
    assert len({i for i, _a in plan}) == len(plan)
