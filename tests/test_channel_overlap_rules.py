"""Authorization overlap, containment and coverage as pure rules (hypothesis)."""
from datetime import date, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from app.channel.rules import (Licence, Reach, conflicts, covers, overlaps, products_overlap, qualification_gaps,
                               territories_overlap, within)

# A small world: 3 product lines of 4 SKUs; a region tree of paths; hospitals in leaves.
SKU_LINE = {sku: 1 + (sku - 1) // 4 for sku in range(1, 13)}
PATHS = ["/1/", "/1/2/", "/1/2/5/", "/1/2/6/", "/1/3/", "/1/3/7/", "/1/3/8/", "/1/4/"]
HOSPITAL_PATH = {h: PATHS[2 + h % 6] for h in range(1, 19)}
BASE = date(2026, 1, 1)

products = st.one_of(st.sampled_from([1, 2, 3]), st.frozensets(st.sampled_from(sorted(SKU_LINE)), min_size=1, max_size=5))
territory = st.one_of(st.sampled_from(PATHS), st.frozensets(st.sampled_from(sorted(HOSPITAL_PATH)), min_size=1, max_size=5))


@st.composite
def window(draw):
    start = BASE + timedelta(days=draw(st.integers(0, 400)))
    return start, start + timedelta(days=draw(st.integers(0, 400)))


@st.composite
def reach(draw, dealer=None, exclusive=None):
    start, until = draw(window())
    return Reach(dealer_id=dealer if dealer is not None else draw(st.integers(1, 4)), products=draw(products),
                 territory=draw(territory), valid_from=start, valid_until=until,
                 exclusive=draw(st.booleans()) if exclusive is None else exclusive, key=draw(st.integers(1, 10**6)))


def ov(a, b):
    return overlaps(a, b, SKU_LINE, HOSPITAL_PATH)


@given(reach(), reach())
def test_overlap_is_symmetric(a, b):
    assert ov(a, b) == ov(b, a)


@given(reach())
def test_an_authorization_overlaps_itself(a):
    assert ov(a, a)


@given(reach(), reach(), st.integers(1, 100))
def test_a_window_that_ends_before_the_other_starts_never_overlaps(a, b, gap):
    start = a.valid_until + timedelta(days=gap)
    b = Reach(b.dealer_id, b.products, b.territory, start, start + (b.valid_until - b.valid_from), b.exclusive)
    assert not ov(a, b) and not conflicts(b, [a], SKU_LINE, HOSPITAL_PATH)


@given(reach(), st.lists(reach(), max_size=6))
def test_the_same_dealer_never_conflicts_with_itself(new, existing):
    mine = [Reach(new.dealer_id, e.products, e.territory, e.valid_from, e.valid_until, True, key=e.key) for e in existing]
    assert conflicts(new, mine, SKU_LINE, HOSPITAL_PATH) == []


@given(reach(), st.lists(reach(), max_size=6))
def test_conflicts_are_exactly_the_overlapping_exclusive_ones_of_other_dealers(new, existing):
    found = conflicts(new, existing, SKU_LINE, HOSPITAL_PATH)
    assert found == [e for e in existing if e.dealer_id != new.dealer_id and (e.exclusive or new.exclusive) and ov(new, e)]


@given(reach(exclusive=False), reach(exclusive=False))
def test_non_exclusive_authorizations_coexist(a, b):
    assert conflicts(a, [b], SKU_LINE, HOSPITAL_PATH) == []


@given(reach(), reach())
def test_conflict_is_symmetric(a, b):
    assert bool(conflicts(a, [b], SKU_LINE, HOSPITAL_PATH)) == bool(conflicts(b, [a], SKU_LINE, HOSPITAL_PATH))


@given(st.sampled_from(PATHS), st.sampled_from(PATHS))
def test_subtree_containment_implies_overlap(a, b):
    assume(a.startswith(b))
    assert territories_overlap(a, b, HOSPITAL_PATH) and territories_overlap(b, a, HOSPITAL_PATH)


@given(st.sampled_from(PATHS), st.sampled_from(sorted(HOSPITAL_PATH)))
def test_a_hospital_in_a_region_overlaps_that_region(path, hospital):
    assert territories_overlap(path, frozenset({hospital}), HOSPITAL_PATH) == HOSPITAL_PATH[hospital].startswith(path)


def test_sibling_regions_do_not_overlap_even_with_a_common_prefix_digit():
    assert not territories_overlap("/1/4/", "/1/45/", {})
    assert territories_overlap("/1/4/", "/1/4/45/", {})


@given(st.sampled_from([1, 2, 3]), st.frozensets(st.sampled_from(sorted(SKU_LINE)), min_size=1))
def test_a_line_overlaps_a_sku_set_when_one_sku_is_of_that_line(line, skus):
    assert products_overlap(line, skus, SKU_LINE) == any(SKU_LINE[s] == line for s in skus)


@st.composite
def nested(draw):
    """An outer authorization and one drawn inside it."""
    outer = draw(reach())
    if isinstance(outer.products, frozenset):
        inner_products = draw(st.frozensets(st.sampled_from(sorted(outer.products)), min_size=1))
    else:
        line_skus = sorted(s for s, line in SKU_LINE.items() if line == outer.products)
        inner_products = draw(st.one_of(st.just(outer.products), st.frozensets(st.sampled_from(line_skus), min_size=1)))
    if isinstance(outer.territory, frozenset):
        inner_territory = draw(st.frozensets(st.sampled_from(sorted(outer.territory)), min_size=1))
    else:
        inside = [p for p in PATHS if p.startswith(outer.territory)]
        hospitals = sorted(h for h, p in HOSPITAL_PATH.items() if p.startswith(outer.territory))
        options = [st.sampled_from(inside)]
        if hospitals:
            options.append(st.frozensets(st.sampled_from(hospitals), min_size=1))
        inner_territory = draw(st.one_of(*options))
    span = (outer.valid_until - outer.valid_from).days
    start = outer.valid_from + timedelta(days=draw(st.integers(0, span)))
    until = start + timedelta(days=draw(st.integers(0, (outer.valid_until - start).days)))
    return Reach(draw(st.integers(5, 9)), inner_products, inner_territory, start, until), outer


@given(nested())
def test_what_lies_within_overlaps_and_conflicts_with_an_exclusive_outer(pair):
    inner, outer = pair
    assert within(inner, outer, SKU_LINE, HOSPITAL_PATH)
    assert ov(inner, outer)
    exclusive_outer = Reach(outer.dealer_id, outer.products, outer.territory, outer.valid_from, outer.valid_until, True)
    assert conflicts(inner, [exclusive_outer], SKU_LINE, HOSPITAL_PATH) == [exclusive_outer]


@given(reach(), reach())
def test_within_implies_overlap(inner, outer):
    if within(inner, outer, SKU_LINE, HOSPITAL_PATH):
        assert ov(inner, outer)


@given(reach())
def test_a_narrower_window_in_a_subregion_lies_within(outer):
    assume(isinstance(outer.territory, str))
    child = next((p for p in PATHS if p.startswith(outer.territory)), outer.territory)
    inner = Reach(9, outer.products, child, outer.valid_from, outer.valid_from)
    assert within(inner, outer, SKU_LINE, HOSPITAL_PATH)


def test_a_dealer_never_conflicts_with_its_upstream():
    upstream = Reach(1, 1, "/1/2/", BASE, BASE + timedelta(days=365), exclusive=True)
    sub = Reach(2, frozenset({1, 2}), "/1/2/5/", BASE, BASE + timedelta(days=30), exclusive=False, upstream_id=1)
    rival = Reach(3, frozenset({2}), "/1/2/6/", BASE, BASE + timedelta(days=30))
    assert conflicts(sub, [upstream], SKU_LINE, HOSPITAL_PATH) == []
    assert conflicts(rival, [upstream], SKU_LINE, HOSPITAL_PATH) == [upstream]


@given(reach(), st.sampled_from(sorted(SKU_LINE)), st.sampled_from(sorted(HOSPITAL_PATH)),
       st.integers(-10, 900).map(lambda d: BASE + timedelta(days=d)))
def test_covering_a_sale_means_overlapping_a_one_day_authorization_for_it(a, sku, hospital, day):
    point = Reach(99, frozenset({sku}), frozenset({hospital}), day, day)
    assert covers(a, sku, SKU_LINE[sku], hospital, HOSPITAL_PATH[hospital], day) == ov(a, point)


DAY = date(2026, 6, 1)
LICENCE = Licence("business_license", frozenset(), None)
PERMIT3 = Licence("operating_permit", frozenset({"III"}), DAY)
FILING = Licence("class2_filing", frozenset({"II"}), None)


def test_class_three_needs_a_licence_and_a_permit_covering_three():
    assert qualification_gaps("III", [LICENCE, PERMIT3], DAY) == []
    assert qualification_gaps("III", [LICENCE, FILING], DAY) == ["operating_permit"]
    assert qualification_gaps("III", [PERMIT3], DAY) == ["business_license"]


def test_class_two_takes_a_permit_or_a_filing_and_expiry_counts():
    assert qualification_gaps("II", [LICENCE, FILING], DAY) == []
    assert qualification_gaps("II", [LICENCE, Licence("operating_permit", frozenset({"II", "III"}), DAY)], DAY) == []
    assert qualification_gaps("II", [LICENCE, PERMIT3], DAY) == ["class2_filing"]
    assert qualification_gaps("III", [LICENCE, PERMIT3], DAY + timedelta(days=1)) == ["operating_permit"]
    assert qualification_gaps("I", [LICENCE], DAY) == []
    assert qualification_gaps("I", [Licence("business_license", frozenset(), None, "pending")], DAY) == ["business_license"]
