"""Catalog codes and registration validity as pure rules: 医保耗材编码, GTIN-14 UDI-DI."""
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalog.rules import gtin_check_digit, gtin_valid, normalize_nhsa_code, nhsa_parts, registration_state

digits = st.text(alphabet="0123456789", min_size=1, max_size=40)
code26 = st.text(alphabet="0123456789", min_size=26, max_size=26)
separators = st.sampled_from(["", " ", "-", " - ", "\u3000"])


@given(code26, st.lists(st.integers(min_value=0, max_value=26), max_size=5), separators, st.booleans())
def test_nhsa_code_typed_with_spaces_hyphens_and_lower_case_is_the_compact_code(body, cuts, sep, lower):
    compact = "C" + body
    typed = ("c" if lower else "C") + body
    for cut in sorted(set(cuts), reverse=True):
        typed = typed[:cut + 1] + sep + typed[cut + 1:]
    assert normalize_nhsa_code(typed) == compact
    assert normalize_nhsa_code(compact) == compact  # idempotent


@given(code26)
def test_nhsa_parts_are_the_20_character_code_and_the_7_digit_suffix(body):
    code20, suffix = nhsa_parts("C" + body)
    assert len(code20) == 20 and code20.startswith("C") and len(suffix) == 7 and suffix.isdigit()
    assert code20 + suffix == "C" + body


@given(digits.filter(lambda d: len(d) != 26))
def test_nhsa_code_of_the_wrong_length_is_refused_with_its_length(body):
    with pytest.raises(ValueError, match="27 characters"):
        normalize_nhsa_code("C" + body)


@given(code26, st.sampled_from("ABDXYZ9"))
def test_nhsa_code_must_start_with_c(body, first):
    with pytest.raises(ValueError, match="letter C"):
        normalize_nhsa_code(first + body[1:] + "0")


@given(code26, st.integers(min_value=1, max_value=26), st.sampled_from("AbX.#一"))
def test_nhsa_code_has_only_digits_after_the_c(body, at, bad):
    with pytest.raises(ValueError, match="digits only"):
        normalize_nhsa_code("C" + body[:at - 1] + bad + body[at:])


def test_nhsa_code_empty_or_not_text_is_refused():
    for raw in ("", "   ", "--"):
        with pytest.raises(ValueError, match="empty"):
            normalize_nhsa_code(raw)
    with pytest.raises(ValueError):
        normalize_nhsa_code(None)


def test_known_gtins():
    assert gtin_valid("06901234567892")  # GS1 China prefix 690, check digit computed by hand
    assert gtin_check_digit("0690123456789") == 2
    assert gtin_valid("00012345600012")
    assert not gtin_valid("00012345600013")
    assert not gtin_valid("0001234560001")  # 13 digits
    assert not gtin_valid("0001234560001x")
    assert not gtin_valid("")
    assert not gtin_valid(None)


@given(st.text(alphabet="0123456789", min_size=13, max_size=13))
def test_every_13_digits_have_exactly_one_valid_check_digit(first13):
    valid = [d for d in "0123456789" if gtin_valid(first13 + d)]
    assert valid == [str(gtin_check_digit(first13))]


@given(st.text(alphabet="0123456789", min_size=13, max_size=13), st.integers(min_value=0, max_value=12),
       st.integers(min_value=1, max_value=9))
def test_a_single_wrong_digit_is_always_caught(first13, position, delta):
    good = first13 + str(gtin_check_digit(first13))
    wrong = good[:position] + str((int(good[position]) + delta) % 10) + good[position + 1:]
    assert not gtin_valid(wrong)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), st.integers(min_value=-2000, max_value=2000))
def test_registration_state_follows_days_left(day, offset):
    valid_until = day + timedelta(days=offset)
    expected = "expired" if offset < 0 else "expiring" if offset <= 90 else "valid"
    assert registration_state(valid_until, day) == expected


@given(st.dates())
def test_a_filing_without_end_date_never_expires(day):
    assert registration_state(None, day) == "valid"


def test_registration_is_valid_on_its_last_day_and_expired_the_day_after():
    last = date(2026, 3, 31)
    assert registration_state(last, last) == "expiring"
    assert registration_state(last, last + timedelta(days=1)) == "expired"
    assert registration_state(last, last - timedelta(days=91)) == "valid"
