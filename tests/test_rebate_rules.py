"""Rebate rules (app/rebates/rules.py): hand-worked examples in the words a channel
finance team uses, and properties checked with hypothesis — tier boundaries retroactive
vs incremental, growth against a zero base, caps, conditions and stacking. No database."""
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.core.money import fen
from app.rebates import rules
from app.rebates.rules import Figures, PolicySpec, StackItem, Tier

D = Decimal
#: 50万 2 % / 100万 3 % / 200万 4 %
VOLUME = (Tier(D("500000"), D("0.02")), Tier(D("1000000"), D("0.03")), Tier(D("2000000"), D("0.04")))


def spec(kind="volume", method="retroactive", tiers=VOLUME, **kw):
    return PolicySpec(kind, method, tuple(tiers), **kw)


# --- hand-worked examples ------------------------------------------------------------------------

def test_华东医疗器械_q4_purchases_of_1_25m_retroactive_pays_3pct_on_everything():
    """采购额 ¥1,250,000 reaches the 100万 tier: 全额累进 pays 3 % on the whole ¥1,250,000."""
    out = rules.outcome(spec(), Figures(D("1250000.00")))
    assert out.tier == 1 and out.rate == D("0.03")
    assert out.amount == D("37500.00")
    assert out.next.threshold == D("2000000") and out.next.gap == D("750000.00") and out.next.rate == D("0.04")


def test_华东医疗器械_q4_purchases_of_1_25m_incremental_pays_each_band_at_its_rate():
    """分段累进: 50万–100万 at 2 % = ¥10,000, 100万–125万 at 3 % = ¥7,500; the first 50万 earns nothing."""
    out = rules.outcome(spec(method="incremental"), Figures(D("1250000.00")))
    bands = rules.bands(VOLUME, D("1250000.00"))
    assert [b.payout for b in bands] == [D("10000.0000"), D("7500.0000"), D("0")]
    assert out.amount == D("17500.00") and out.tier == 1


def test_a_dealer_at_750k_is_told_to_buy_250k_more_for_the_3pct_tier():
    """再采购 ¥250,000 即可达到 3% 档."""
    out = rules.outcome(spec(), Figures(D("750000.00")))
    assert out.amount == D("15000.00")
    assert (out.next.gap, out.next.rate) == (D("250000.00"), D("0.03"))
    assert out.next.progress == D("0.75")


def test_exactly_on_a_threshold_reaches_it_a_fen_below_does_not():
    assert rules.outcome(spec(), Figures(D("1000000.00"))).amount == D("30000.00")
    assert rules.outcome(spec(), Figures(D("999999.99"))).amount == D("19999.9998").quantize(D("0.01"))
    assert rules.outcome(spec(method="incremental"), Figures(D("1000000.00"))).amount == D("10000.00")
    assert rules.outcome(spec(method="incremental"), Figures(D("999999.99"))).amount == D("10000.00")  # 9999.9998


def test_below_the_first_tier_pays_nothing():
    out = rules.outcome(spec(), Figures(D("499999.99")))
    assert out.tier is None and out.amount == D("0.00") and out.next.gap == D("0.01")


def test_growth_against_the_same_quarter_last_year():
    """IVD 同比增长: ≥10 % → 1 %, ≥20 % → 2 % of this quarter's purchases. 去年同期 ¥400,000,
    今年 ¥460,000: growth 15 %, tier 1 %, ¥4,600; ¥20,000 more purchases reach 20 % (¥480,000)."""
    growth = spec("growth", tiers=(Tier(D("10"), D("0.01")), Tier(D("20"), D("0.02"))))
    out = rules.outcome(growth, Figures(D("460000.00"), last_year=D("400000.00")))
    assert out.tier == 0 and out.amount == D("4600.00")
    assert rules.growth_pct(D("460000.00"), D("400000.00")) == D("15.00")
    assert out.next.gap == D("20000.00") and out.next.target == D("480000.00")
    incremental = rules.outcome(spec("growth", "incremental", growth.tiers), Figures(D("460000.00"), D("400000.00")))
    assert incremental.amount == D("600.00")  # 1 % of the ¥60,000 increase (增量返利)


def test_growth_with_no_purchases_last_year_reaches_no_tier():
    """A new dealer has no 去年同期: growth cannot be measured, so no growth tier is reached
    (not the top tier) and the page has no amount to ask for."""
    growth = spec("growth", tiers=(Tier(D("0"), D("0.01")), Tier(D("20"), D("0.02"))))
    out = rules.outcome(growth, Figures(D("900000.00"), last_year=D("0")))
    assert out.tier is None and out.amount == D("0.00")
    assert out.next.gap is None and rules.growth_pct(D("900000.00"), D("0")) is None


def test_product_mix_share_of_strategic_skus():
    """药物球囊 (strategic) ¥180,000 of ¥1,000,000 = 18 %: the ≥15 % tier pays 1 % of everything;
    the 20 % tier needs x more strategic purchases with (180,000 + x) / (1,000,000 + x) = 20 %: x = 25,000."""
    mix = spec("mix", tiers=(Tier(D("15"), D("0.01")), Tier(D("20"), D("0.015"))))
    out = rules.outcome(mix, Figures(D("1000000.00"), strategic=D("180000.00")))
    assert out.tier == 0 and out.amount == D("10000.00")
    assert out.next.gap == D("25000.00")
    assert rules.reached_by_share(mix.tiers, D("205000.00"), D("1025000.00")) == 1


def test_conditions_gate_or_reduce_the_payout():
    """流向按时上报 gates; 资质有效 reduces to 50 %."""
    conditions = {"sell_out_on_time": {"effect": "gate"}, "qualifications_valid": {"effect": "reduce", "rate": "0.5"}}
    s = spec(conditions=conditions)
    base = D("1250000.00")
    assert rules.outcome(s, Figures(base, met={"sell_out_on_time": True, "qualifications_valid": True})).amount == D("37500.00")
    assert rules.outcome(s, Figures(base, met={"sell_out_on_time": True, "qualifications_valid": False})).amount == D("18750.00")
    assert rules.outcome(s, Figures(base, met={"sell_out_on_time": False, "qualifications_valid": True})).amount == D("0.00")


def test_caps_hold_the_payout_and_say_which_one_bound():
    base = D("3000000.00")  # 4 % → ¥120,000
    by_rate = rules.outcome(spec(cap_rate=D("0.03")), Figures(base))
    assert by_rate.amount == D("90000.00") and by_rate.capped_by == "cap_rate"
    by_amount = rules.outcome(spec(cap_rate=D("0.03"), cap_amount=D("80000.00")), Figures(base))
    assert by_amount.amount == D("80000.00") and by_amount.capped_by == "cap_amount"
    loose = rules.outcome(spec(cap_amount=D("200000.00")), Figures(base))
    assert loose.amount == D("120000.00") and loose.capped_by is None


def test_rounding_happens_once_to_the_fen_half_up():
    """2 % of ¥1,000,000.25 is ¥20,000.005: rounded once, half up, to ¥20,000.01."""
    assert rules.outcome(spec(tiers=(Tier(D("0"), D("0.02")),)), Figures(D("1000000.25"))).amount == D("20000.01")


def test_stacking_in_priority_order_with_an_exclusive_policy():
    """季度采购返利 (10) and 回款返利 (20) stack; 新品推广 (15, 不与其他政策同享) pays only
    where nothing before it paid, and once it pays nothing after it does."""
    items = [StackItem("COLLECT", 20, False, D("3000.00")), StackItem("VOLUME", 10, False, D("37500.00")),
             StackItem("LAUNCH", 15, True, D("8000.00"))]
    stacked = {s.code: s for s in rules.stack(items)}
    assert stacked["VOLUME"].amount == D("37500.00") and stacked["COLLECT"].amount == D("3000.00")
    assert stacked["LAUNCH"].amount == D("0") and stacked["LAUNCH"].excluded_by == "VOLUME"
    nothing_before = [StackItem("VOLUME", 10, False, D("0.00"))] + items[::2]
    stacked = {s.code: s for s in rules.stack(nothing_before)}
    assert stacked["LAUNCH"].amount == D("8000.00") and stacked["COLLECT"].excluded_by == "LAUNCH"


def test_period_keys():
    assert rules.period_key("quarter", date(2026, 11, 25)) == "2026-Q4"
    assert rules.parse_period("2026-Q4") == ("quarter", date(2026, 10, 1), date(2026, 12, 31))
    assert rules.parse_period("2024-02") == ("month", date(2024, 2, 1), date(2024, 2, 29))
    assert rules.last_year_key("2026-Q4") == "2025-Q4" and rules.last_year_key("2026-01") == "2025-01"
    assert rules.shift_key("2026-Q1", -1) == "2025-Q4" and rules.shift_key("2026", 1) == "2027"
    for bad in ("2026-Q5", "2026-13", "26-Q1", "２０２６", "2026-Q", "9999-01", ""):
        try:
            rules.parse_period(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


# --- properties ---------------------------------------------------------------------------------

money = st.integers(min_value=0, max_value=10**10).map(lambda n: D(n) / 100)
rate = st.integers(min_value=0, max_value=10000).map(lambda n: D(n) / 10000)


@st.composite
def ladders(draw, ascending_rates=True, unit=money):
    n = draw(st.integers(min_value=1, max_value=5))
    thresholds = sorted(set(draw(st.lists(unit, min_size=n, max_size=n))))
    rates = draw(st.lists(rate, min_size=len(thresholds), max_size=len(thresholds)))
    if ascending_rates:
        rates = sorted(rates)
    return tuple(Tier(t, r) for t, r in zip(thresholds, rates))


@settings(max_examples=300)
@given(ladders(), money)
def test_retroactive_pays_at_least_incremental_when_rates_rise(tiers, base):
    retro = rules.outcome(spec(tiers=tiers), Figures(base)).amount
    incr = rules.outcome(spec(tiers=tiers, method="incremental"), Figures(base)).amount
    assert incr <= retro
    reached = rules.reached_by_amount(tiers, base)
    assert retro == (D("0.00") if reached is None else fen(base * tiers[reached].rate))


@settings(max_examples=300)
@given(ladders(ascending_rates=False), st.data())
def test_at_each_boundary_retroactive_jumps_and_incremental_does_not(tiers, data):
    k = data.draw(st.integers(min_value=0, max_value=len(tiers) - 1))
    at = tiers[k].threshold
    assume(at >= D("0.01"))
    below = at - D("0.01")
    assert rules.reached_by_amount(tiers, at) == k
    assert rules.reached_by_amount(tiers, below) == (k - 1 if k > 0 else None)
    # incremental moves by at most one fen's worth of the highest rate across a boundary
    step = rules.incremental(tiers, at) - rules.incremental(tiers, below)
    assert D(0) <= step <= D("0.01") * max(t.rate for t in tiers)


@settings(max_examples=300)
@given(ladders(ascending_rates=False), money)
def test_bands_add_up_to_what_lies_above_the_first_threshold(tiers, base):
    parts = rules.bands(tiers, base)
    assert sum(b.amount for b in parts) == max(base - tiers[0].threshold, D(0))
    assert rules.incremental(tiers, base) == sum(b.payout for b in parts)


growth_pct = st.integers(min_value=0, max_value=10000).map(lambda n: D(n) / 100)


@settings(max_examples=300)
@given(ladders(unit=growth_pct), money, money)
def test_growth_tier_is_reached_exactly_when_growth_is_at_least_its_threshold(tiers, this, last):
    reached = rules.reached_by_growth(tiers, this, last)
    if last == 0:
        assert reached is None  # no base a year ago: no growth tier
        assert rules.outcome(spec("growth", tiers=tiers), Figures(this, last_year=last)).amount == D("0.00")
        return
    growth = (Fraction(this) - Fraction(last)) * 100 / Fraction(last)
    expected = max((i for i, t in enumerate(tiers) if growth >= Fraction(t.threshold)), default=None)
    assert reached == expected


@settings(max_examples=200)
@given(ladders(unit=growth_pct), money, money)
def test_the_growth_gap_is_exactly_enough(tiers, this, last):
    assume(last > 0)
    out = rules.outcome(spec("growth", tiers=tiers), Figures(this, last_year=last))
    if out.next is None:
        return
    assert out.next.gap >= 0
    reached = rules.reached_by_growth(tiers, this + out.next.gap, last)
    assert reached is not None and reached >= out.next.index
    if out.next.gap > 0:
        short = rules.reached_by_growth(tiers, this + out.next.gap - D("0.01"), last)
        assert short is None or short < out.next.index


share_pct = st.integers(min_value=0, max_value=9999).map(lambda n: D(n) / 100)


@settings(max_examples=200)
@given(ladders(unit=share_pct), money, st.data())
def test_the_mix_gap_is_enough_strategic_purchases(tiers, whole, data):
    part = data.draw(st.integers(min_value=0, max_value=int(whole * 100)).map(lambda n: D(n) / 100))
    out = rules.outcome(spec("mix", tiers=tiers), Figures(whole, strategic=part))
    if out.next is None or out.next.gap is None:
        return
    reached = rules.reached_by_share(tiers, part + out.next.gap, whole + out.next.gap)
    assert reached is not None and reached >= out.next.index


@settings(max_examples=300)
@given(ladders(), money, st.one_of(st.none(), rate.filter(lambda r: r > 0)), st.one_of(st.none(), money.filter(lambda m: m > 0)),
       st.sampled_from(["retroactive", "incremental"]))
def test_caps_are_never_exceeded_and_amounts_are_fen(tiers, base, cap_rate, cap_amount, method):
    out = rules.outcome(spec(tiers=tiers, method=method, cap_rate=cap_rate, cap_amount=cap_amount), Figures(base))
    assert out.amount.as_tuple().exponent == -2 and out.amount >= 0
    if cap_rate is not None:
        assert out.amount <= fen(cap_rate * base)
    if cap_amount is not None:
        assert out.amount <= cap_amount
    if out.capped_by is None:
        assert out.amount == fen(out.raw)


conditions = st.dictionaries(st.sampled_from(rules.CONDITIONS), st.one_of(
    st.just({"effect": "gate"}), rate.map(lambda r: {"effect": "reduce", "rate": str(r)})))


@settings(max_examples=300)
@given(ladders(), money, conditions, st.dictionaries(st.sampled_from(rules.CONDITIONS), st.booleans()))
def test_an_unmet_gate_pays_nothing_and_reductions_never_raise(tiers, base, conds, met):
    full = rules.outcome(spec(tiers=tiers), Figures(base)).amount
    out = rules.outcome(spec(tiers=tiers, conditions=conds), Figures(base, met=met))
    assert out.amount <= full
    if any(c["effect"] == "gate" and not met.get(name, True) for name, c in conds.items()):
        assert out.amount == D("0.00")
    if all(met.get(name, True) for name in conds):
        assert out.amount == full


stack_items = st.lists(st.builds(StackItem, st.text("ABCDEFG", min_size=1, max_size=3), st.integers(1, 50), st.booleans(),
                                 money), max_size=6, unique_by=lambda i: i.code)


@settings(max_examples=300)
@given(stack_items, st.randoms())
def test_stacking_is_order_free_and_an_exclusive_payer_pays_alone(items, rnd):
    stacked = rules.stack(items)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert rules.stack(shuffled) == stacked
    paid = {s.code: s.amount for s in stacked if s.amount > 0}
    assert sum(s.amount for s in stacked) <= sum(i.amount for i in items)
    exclusive = {i.code for i in items if i.exclusive}
    if exclusive & set(paid):
        assert len(paid) == 1
    if not exclusive:
        assert [s.amount for s in stacked] == [i.amount for i in sorted(items, key=lambda i: (i.priority, i.code))]


@settings(max_examples=200)
@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)), st.sampled_from(rules.PERIODS),
       st.integers(min_value=-30, max_value=30))
def test_period_keys_tile_the_calendar(day, kind, n):
    key = rules.period_key(kind, day)
    _kind, start, end = rules.parse_period(key)
    assert start <= day <= end and _kind == kind
    assert rules.parse_period(rules.shift_key(key, 1))[1] == end + timedelta(days=1)
    shifted = rules.shift_key(key, n)
    assume(2000 <= int(shifted[:4]) <= 2100)
    assert rules.shift_key(shifted, -n) == key
    assert rules.is_period_start(kind, start) and rules.is_period_end(kind, end)
