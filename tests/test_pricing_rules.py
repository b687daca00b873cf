"""Price precedence and price bands as pure rules (hypothesis)."""
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.pricing.rules import (ALLIANCE_AWARD, HOSPITAL_AWARD, PRICE_LIST, Band, Candidate, band_check, channel_for,
                               choose_band, choose_price, rank, ranked)

BASE = date(2026, 1, 1)
PATHS = [None, "/1/", "/1/2/", "/1/2/5/", "/1/3/", "/1/3/7/"]
HOSPITAL_PATHS = ["/1/2/5/", "/1/3/7/", "/1/3/"]
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
days = st.integers(0, 200).map(lambda d: BASE + timedelta(days=d))


@st.composite
def candidate(draw):
    kind = draw(st.sampled_from([HOSPITAL_AWARD, ALLIANCE_AWARD, PRICE_LIST]))
    start = draw(days)
    until = draw(st.one_of(st.none(), st.integers(0, 200).map(lambda d: start + timedelta(days=d))))
    if kind != PRICE_LIST and until is None:
        until = start + timedelta(days=90)
    return Candidate(kind=kind, price=draw(prices), valid_from=start, valid_until=until, record_id=draw(st.integers(1, 10**6)),
                     hospital_id=draw(st.integers(1, 3)) if kind == HOSPITAL_AWARD else None,
                     region_path=None if kind == HOSPITAL_AWARD else draw(st.sampled_from(PATHS[1:] if kind == ALLIANCE_AWARD else PATHS)),
                     channel=draw(st.sampled_from(["distribution", "direct", "agent"])) if kind == PRICE_LIST else None)


sale = st.fixed_dictionaries({
    "day": days,
    "hospital_id": st.one_of(st.none(), st.integers(1, 3)),
    "hospital_path": st.sampled_from(HOSPITAL_PATHS),
    "dealer_tier": st.sampled_from([None, "agent", "tier1", "tier2"]),
    "dealer_path": st.sampled_from(HOSPITAL_PATHS),
})


def _args(s):
    return dict(s, hospital_path=s["hospital_path"] if s["hospital_id"] else None)


@given(st.lists(candidate(), max_size=12), sale)
def test_the_answer_is_one_of_the_candidates_valid_on_the_day(cands, s):
    chosen = choose_price(cands, **_args(s))
    assert chosen is None or (chosen in cands and chosen.valid_on(s["day"]))


@given(st.lists(candidate(), max_size=12), sale)
def test_nothing_applicable_beats_the_answer(cands, s):
    order = ranked(cands, **_args(s))
    chosen = choose_price(cands, **_args(s))
    assert chosen == (order[0] if order else None)
    assert all(rank(chosen) <= rank(c) for c in order)


@given(st.lists(candidate(), max_size=12), sale, prices, st.integers(0, 30))
def test_a_hospitals_own_award_beats_everything(cands, s, price, age):
    s = dict(s, hospital_id=s["hospital_id"] or 1)
    cands = cands + [Candidate(HOSPITAL_AWARD, price, s["day"] - timedelta(days=age), s["day"], 0, hospital_id=s["hospital_id"])]
    own = [c for c in cands if c.kind == HOSPITAL_AWARD and c.hospital_id == s["hospital_id"] and c.valid_on(s["day"])]
    chosen = choose_price(cands, **_args(s))
    assert chosen.kind == HOSPITAL_AWARD and chosen.valid_from == max(c.valid_from for c in own)


@given(st.lists(candidate(), max_size=12), sale)
def test_price_lists_are_of_the_dealers_channel_and_more_specific_region_wins(cands, s):
    chosen = choose_price(cands, **_args(s))
    if chosen is None or chosen.kind != PRICE_LIST:
        return
    assert chosen.channel == channel_for(s["dealer_tier"])
    reference = s["dealer_path"] if s["dealer_tier"] else _args(s)["hospital_path"]
    for c in ranked(cands, **_args(s)):
        if c.kind == PRICE_LIST and c.region_path and len(c.region_path) > len(chosen.region_path or ""):
            raise AssertionError(f"{c} is more specific than {chosen}")
        assert c.region_path is None or reference.startswith(c.region_path)


def _pl(path, price, start=BASE, rid=1, channel="distribution"):
    return Candidate(PRICE_LIST, Decimal(price), start, None, rid, region_path=path, channel=channel)


def test_precedence_by_example():
    national = _pl(None, "100")
    east = _pl("/1/2/", "95", rid=2)
    shanghai = _pl("/1/2/5/", "90", rid=3)
    alliance = Candidate(ALLIANCE_AWARD, Decimal("80"), BASE, BASE + timedelta(days=365), 4, region_path="/1/2/")
    award = Candidate(HOSPITAL_AWARD, Decimal("70"), BASE, BASE + timedelta(days=365), 5, hospital_id=1)
    kw = dict(day=BASE + timedelta(days=10), hospital_path="/1/2/5/", dealer_tier="tier1", dealer_path="/1/2/5/")
    everything = [national, east, shanghai, alliance, award]
    assert choose_price(everything, hospital_id=1, **kw) is award
    assert choose_price(everything, hospital_id=2, **kw) is alliance
    assert choose_price(everything[:3], hospital_id=2, **kw) is shanghai
    assert choose_price([national, east], hospital_id=2, **kw) is east
    assert choose_price([national], hospital_id=None, **dict(kw, dealer_tier="agent")) is None
    newer = _pl("/1/2/5/", "85", start=BASE + timedelta(days=5), rid=6)
    assert choose_price([shanghai, newer], hospital_id=None, **kw) is newer


def test_channel_follows_the_dealer_tier():
    assert [channel_for(t) for t in ("agent", "tier1", "tier2", None)] == ["agent", "distribution", "distribution", "direct"]


@given(prices, prices, prices)
def test_band_check_agrees_with_floor_and_ceiling(p, a, b):
    floor, ceiling = min(a, b), max(a, b)
    result = band_check(p, Band(floor, ceiling, BASE))
    assert (result == "within") == (floor <= p <= ceiling)
    assert (result == "below_floor") == (p < floor)
    assert (result == "above_ceiling") == (p > ceiling)
    assert band_check(p, None) == "no_band" and band_check(None, (floor, ceiling)) == "no_band"


@given(st.lists(st.tuples(st.sampled_from(PATHS), days), max_size=8), days, st.sampled_from(HOSPITAL_PATHS))
def test_the_band_is_the_most_specific_valid_one(specs, day, path):
    bands = [Band(Decimal("1"), Decimal("2"), start, None, p, i) for i, (p, start) in enumerate(specs)]
    chosen = choose_band(bands, day, path)
    fitting = [b for b in bands if b.valid_on(day) and (b.region_path is None or path.startswith(b.region_path))]
    assert (chosen is None) == (not fitting)
    if chosen:
        assert all(len(chosen.region_path or "") >= len(b.region_path or "") for b in fitting)
