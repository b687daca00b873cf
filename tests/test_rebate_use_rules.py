"""Pure rules of rebate use (返利使用): first-expiring-first consumption honouring what
each credit may pay for (票折 / 货补), expiry of what is left, and the replay of a ledger
into what is left of each credit — hypothesis for the invariants, hand-worked examples
in the business's terms."""
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.rebates.rules_use import (FREE_GOODS, OFFSET, PURPOSES, Credit, Movement, Shortfall, fifo_key, max_offset,
                                   plan_expiry, plan_use, position, shortfall)

DAY = date(2026, 12, 1)
BOTH, ONLY_OFFSET, ONLY_FREE = frozenset(PURPOSES), frozenset({OFFSET}), frozenset({FREE_GOODS})
Y = Decimal


def credit(id_, amount, expires_on=None, usable_as=BOTH, policy_id=None):
    return Credit(id_, Y(amount), Y(amount), expires_on, usable_as, policy_id)


# --- hand-worked examples -----------------------------------------------------------------

def test_huadong_uses_the_credit_that_expires_first():
    """华东医疗器械 holds ¥20,000 from Q2 (expires 12-31) and ¥50,000 from Q3 (expires next
    June): a ¥30,000 票折 takes all of Q2 and ¥10,000 of Q3."""
    q2, q3 = credit(1, "20000.00", date(2026, 12, 31)), credit(2, "50000.00", date(2027, 6, 30))
    takes = plan_use([q3, q2], {OFFSET: Y("30000.00")}, DAY)
    assert [(t.credit_id, t.amount) for t in takes] == [(1, Y("20000.00")), (2, Y("10000.00"))]


def test_credits_that_never_expire_are_used_last_and_ties_go_to_the_older():
    never, later, older, newer = (credit(1, "100", None), credit(2, "100", date(2027, 1, 1)),
                                  credit(3, "100", date(2026, 12, 31)), credit(4, "100", date(2026, 12, 31)))
    takes = plan_use([never, later, newer, older], {OFFSET: Y("250")}, DAY)
    assert [t.credit_id for t in takes] == [3, 4, 2]


def test_an_expired_credit_pays_for_nothing_even_before_the_expiry_run():
    stale = credit(1, "5000", DAY - timedelta(days=1))
    with pytest.raises(Shortfall) as refused:
        plan_use([stale], {OFFSET: Y("1")}, DAY)
    assert refused.value.available == 0
    # its last day is still a usable day
    assert plan_use([credit(1, "5000", DAY)], {OFFSET: Y("1")}, DAY)[0].amount == Y("1")


def test_free_goods_cannot_be_paid_by_an_offset_only_policy():
    """A 票折-only policy's ¥8,000 cannot pay for ¥3,000 of 货补."""
    with pytest.raises(Shortfall) as refused:
        plan_use([credit(1, "8000", usable_as=ONLY_OFFSET)], {FREE_GOODS: Y("3000")}, DAY)
    assert refused.value.purposes == (FREE_GOODS,) and refused.value.available == 0


def test_both_uses_at_once_leave_the_shared_credit_to_the_use_that_needs_it():
    """¥10,000 usable for both (expires first) and ¥10,000 票折-only: an order with ¥10,000
    票折 and ¥10,000 货补 can only work if the shared credit pays the 货补."""
    shared, offset_only = credit(1, "10000", date(2026, 12, 31), BOTH), credit(2, "10000", date(2027, 3, 31), ONLY_OFFSET)
    takes = plan_use([shared, offset_only], {OFFSET: Y("10000"), FREE_GOODS: Y("10000")}, DAY)
    assert {(t.credit_id, t.purpose, t.amount) for t in takes} == {(1, FREE_GOODS, Y("10000")), (2, OFFSET, Y("10000"))}


def test_together_more_than_the_balance_is_refused_naming_both():
    with pytest.raises(Shortfall) as refused:
        plan_use([credit(1, "10000")], {OFFSET: Y("6000"), FREE_GOODS: Y("6000")}, DAY)
    assert refused.value.purposes == (OFFSET, FREE_GOODS)
    assert (refused.value.wanted, refused.value.available) == (Y("12000"), Y("10000"))


def test_the_offset_cap_is_rounded_down_to_the_fen():
    """30 % of ¥120,000 is ¥36,000; 30 % of ¥333.33 is ¥99.999 → ¥99.99."""
    assert max_offset(Y("120000.00"), 30) == Y("36000.00")
    assert max_offset(Y("333.33"), 30) == Y("99.99")
    assert max_offset(Y("0"), 30) == 0 and max_offset(Y("100"), 0) == 0


def test_replay_links_uses_releases_and_expiry_to_their_credit():
    """Settled ¥30,000 (policy 7); an order uses ¥12,000 of it; the order is cancelled
    (released); another uses ¥5,000; the credit expires with ¥25,000 left."""
    rows = [Movement(1, "settled", Y("30000"), date(2026, 11, 30), BOTH, 7),
            Movement(2, "accrued", Y("9999"), None, BOTH, 7),
            Movement(3, "used", Y("-12000"), policy_id=7, credit_id=1),
            Movement(4, "released", Y("12000"), policy_id=7, credit_id=1),
            Movement(5, "used", Y("-5000"), policy_id=7, credit_id=1)]
    pos = position(rows)
    assert pos.credit(1).remaining == Y("25000") and pos.balance == Y("25000")
    assert [(t.credit_id, t.amount) for t in plan_expiry(pos.credits, DAY)] == [(1, Y("25000"))]
    after = position(rows + [Movement(6, "expired", Y("-25000"), credit_id=1)])
    assert after.balance == 0 and plan_expiry(after.credits, DAY) == []


def test_an_adjustment_down_takes_from_its_own_policy_first_and_a_deficit_is_paid_by_the_next_credit():
    rows = [Movement(1, "settled", Y("1000"), date(2026, 12, 31), BOTH, 1),
            Movement(2, "settled", Y("500"), date(2027, 12, 31), BOTH, 2),
            Movement(3, "adjusted", Y("-700"), policy_id=2)]
    pos = position(rows)
    assert (pos.credit(1).remaining, pos.credit(2).remaining, pos.deficit) == (Y("800"), Y("0"), Y("0"))
    pos = position(rows + [Movement(4, "adjusted", Y("-1000"), policy_id=1)])
    assert (pos.credit(1).remaining, pos.deficit, pos.balance) == (Y("0"), Y("200"), Y("-200"))
    pos = position(rows + [Movement(4, "adjusted", Y("-1000"), policy_id=1), Movement(5, "claim", Y("300"))])
    assert (pos.credit(5).remaining, pos.deficit, pos.balance) == (Y("100"), Y("0"), Y("100"))


# --- properties ------------------------------------------------------------------------------

def fen_amounts(low: int, high: int):
    """Amounts in CNY drawn as whole fen (fast to generate and shrink)."""
    return st.integers(min_value=low, max_value=high).map(lambda n: Y(n) / 100)


amounts = fen_amounts(1, 5_000_000)
uses = st.sampled_from([BOTH, ONLY_OFFSET, ONLY_FREE])
expiries = st.one_of(st.none(), st.integers(min_value=-30, max_value=400).map(lambda d: DAY + timedelta(days=d)))


@st.composite
def credit_lists(draw, max_size=8):
    n = draw(st.integers(min_value=0, max_value=max_size))
    out = []
    for i in range(n):
        amount = draw(amounts)
        used = draw(fen_amounts(0, int(amount * 100)))
        out.append(Credit(i + 1, amount, amount - used, draw(expiries), draw(uses), draw(st.sampled_from([None, 1, 2]))))
    return out


demand_sets = st.fixed_dictionaries({}, optional={OFFSET: fen_amounts(0, 12_000_000),
                                                  FREE_GOODS: fen_amounts(0, 12_000_000)})


@given(credit_lists(), demand_sets)
@settings(max_examples=400)
def test_a_use_takes_exactly_the_demand_from_credits_that_may_pay_or_refuses_whole(credits, demands):
    try:
        takes = plan_use(credits, demands, DAY)
    except Shortfall as missing:
        assert missing.wanted > missing.available
        assert shortfall(credits, demands, DAY) is not None
        return
    by_id = {c.id: c for c in credits}
    for purpose in PURPOSES:
        assert sum((t.amount for t in takes if t.purpose == purpose), Y(0)) == demands.get(purpose, Y(0))
    for t in takes:
        c = by_id[t.credit_id]
        assert t.amount > 0 and t.purpose in c.usable_as and c.usable_on(DAY)
    for c in credits:  # never more than is left of a credit
        assert sum((t.amount for t in takes if t.credit_id == c.id), Y(0)) <= c.remaining


@given(credit_lists(), demand_sets)
@settings(max_examples=300)
def test_whatever_the_balance_can_pay_is_paid(credits, demands):
    """Refused only when no split of the credits could pay: for one purpose, the usable
    total is short; for two, one of them alone or both together are short."""
    feasible = all(demands.get(p, Y(0)) <= sum((c.remaining for c in credits if c.may_pay(p, DAY)), Y(0))
                   for p in PURPOSES) and sum(demands.values(), Y(0)) <= sum(
        (c.remaining for c in credits if c.usable_on(DAY) and c.remaining > 0 and c.usable_as & set(
            p for p in PURPOSES if demands.get(p, Y(0)) > 0)), Y(0))
    try:
        plan_use(credits, demands, DAY)
        assert feasible
    except Shortfall:
        assert not feasible


@given(credit_lists(), fen_amounts(1, 10_000_000), st.sampled_from(PURPOSES))
@settings(max_examples=300)
def test_one_purpose_is_paid_first_expiring_first(credits, amount, purpose):
    try:
        takes = plan_use(credits, {purpose: amount}, DAY)
    except Shortfall:
        return
    eligible = sorted((c for c in credits if c.may_pay(purpose, DAY)), key=fifo_key)
    taken = {t.credit_id: t.amount for t in takes}
    last = max(eligible.index(next(c for c in eligible if c.id == i)) for i in taken)
    for c in eligible[:last]:  # every credit before the last one touched is used up
        assert taken.get(c.id) == c.remaining


@given(credit_lists(), demand_sets, st.randoms(use_true_random=False))
@settings(max_examples=200)
def test_the_order_credits_are_listed_in_does_not_matter(credits, demands, rnd):
    shuffled = list(credits)
    rnd.shuffle(shuffled)
    try:
        first = plan_use(credits, demands, DAY)
    except Shortfall:
        with pytest.raises(Shortfall):
            plan_use(shuffled, demands, DAY)
        return
    assert plan_use(shuffled, demands, DAY) == first


@given(credit_lists(), st.integers(min_value=-10, max_value=500))
def test_expiry_takes_only_what_is_left_of_credits_past_their_last_day(credits, offset_days):
    day = DAY + timedelta(days=offset_days)
    expiring = plan_expiry(credits, day)
    by_id = {c.id: c for c in credits}
    for t in expiring:
        c = by_id[t.credit_id]
        assert c.expires_on < day and t.amount == c.remaining > 0
    assert {t.credit_id for t in expiring} == {c.id for c in credits if c.expires_on and c.expires_on < day
                                                and c.remaining > 0}


@st.composite
def ledgers(draw):
    """A dealer's ledger written the way the ledger module writes it: credits, uses
    (planned by plan_use on random days), releases of earlier uses, expiry runs and
    unlinked adjustments down, in id order."""
    rows: list[Movement] = []
    spent: list[Movement] = []
    next_id = 1
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        step = draw(st.sampled_from(["credit", "credit", "use", "use", "release", "expire", "adjust", "accrue"]))
        day = DAY + timedelta(days=draw(st.integers(min_value=0, max_value=200)))
        pos = position(rows)
        if step == "credit":
            rows.append(Movement(next_id, draw(st.sampled_from(["settled", "claim", "price_protection", "adjusted"])),
                                 draw(amounts), draw(expiries), draw(uses), draw(st.sampled_from([None, 1, 2]))))
            next_id += 1
        elif step == "use":
            try:
                takes = plan_use(pos.credits, draw(demand_sets), day)
            except Shortfall:
                continue
            for t in takes:
                row = Movement(next_id, "used", -t.amount, credit_id=t.credit_id)
                rows.append(row)
                spent.append(row)
                next_id += 1
        elif step == "release" and spent:
            row = spent.pop(draw(st.integers(min_value=0, max_value=len(spent) - 1)))
            rows.append(Movement(next_id, "released", -row.amount, credit_id=row.credit_id))
            next_id += 1
        elif step == "expire":
            for t in plan_expiry(pos.credits, day):
                rows.append(Movement(next_id, "expired", -t.amount, credit_id=t.credit_id))
                next_id += 1
        elif step == "adjust":
            rows.append(Movement(next_id, "adjusted", -draw(amounts), policy_id=draw(st.sampled_from([None, 1, 2]))))
            next_id += 1
        elif step == "accrue":
            rows.append(Movement(next_id, "accrued", draw(amounts)))
            next_id += 1
    return rows


@given(ledgers(), st.randoms(use_true_random=False))
@settings(max_examples=300)
def test_the_balance_is_the_sum_of_the_ledger_and_no_credit_goes_below_zero(rows, rnd):
    pos = position(rows)
    assert pos.balance == sum((r.amount for r in rows if r.kind != "accrued"), Y(0))
    assert all(Y(0) <= c.remaining for c in pos.credits) and pos.deficit >= 0
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert position(shuffled) == pos  # replayed in id order whatever order the rows come in


@given(ledgers(), st.integers(min_value=0, max_value=400))
@settings(max_examples=200)
def test_expiry_run_twice_expires_nothing_the_second_time(rows, days):
    day = DAY + timedelta(days=days)
    first = plan_expiry(position(rows).credits, day)
    written = rows + [Movement(10_000 + n, "expired", -t.amount, credit_id=t.credit_id) for n, t in enumerate(first)]
    assert plan_expiry(position(written).credits, day) == []
    assert sum(t.amount for t in first) <= max(Y(0), position(rows).balance + position(rows).deficit)


def test_random_order_of_a_hand_built_ledger_replays_the_same():
    rows = [Movement(i, "settled", Y(100 * i), DAY + timedelta(days=i)) for i in range(1, 6)]
    rows += [Movement(10 + i, "used", Y(-50), credit_id=i) for i in range(1, 6)]
    shuffled = rows[:]
    random.Random(4).shuffle(shuffled)
    assert position(shuffled) == position(rows) and position(rows).balance == Y(1250)


def test_unknown_purpose_or_negative_demand_is_a_programming_error():
    with pytest.raises(ValueError):
        plan_use([], {"cash": Y(1)}, DAY)
    with pytest.raises(ValueError):
        plan_use([], {OFFSET: Y(-1)}, DAY)
