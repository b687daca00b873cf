"""Pure channel rules: the unified social credit code checksum, what a scan is by its
bytes, and which qualifications a dealer lacks."""
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.channel.rules import USCC_ALPHABET, scan_kind, uscc_check_char, uscc_valid
from app.channel.rules import held_qualification_gaps as qualification_gaps  # renamed in the merge with wt/pricing

first17 = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)


@given(first17)
def test_codes_made_with_their_check_character_are_valid(body):
    assert uscc_valid(body + uscc_check_char(body))


@given(first17, st.integers(min_value=0, max_value=17), st.sampled_from(USCC_ALPHABET + "IOSVZ?a "))
def test_any_single_character_change_is_caught(body, position, replacement):
    code = body + uscc_check_char(body)
    changed = code[:position] + replacement + code[position + 1:]
    if changed != code:
        assert not uscc_valid(changed)


@given(st.text(max_size=30))
def test_wrong_lengths_and_alphabets_are_refused(text):
    if len(text) != 18 or any(c not in USCC_ALPHABET for c in text):
        assert not uscc_valid(text)


def test_a_real_code_is_valid():
    assert uscc_valid("91350100M000100Y43")
    assert not uscc_valid("91350100M000100Y44")


def test_scans_are_known_by_their_first_bytes():
    assert scan_kind(b"%PDF-1.7\n...") == ("pdf", "application/pdf")
    assert scan_kind(b"\xff\xd8\xff\xe0JFIF") == ("jpg", "image/jpeg")
    assert scan_kind(b"\x89PNG\r\n\x1a\nIHDR") == ("png", "image/png")
    assert scan_kind(b"MZ\x90\x00 a Windows program") is None
    assert scan_kind(b"<!doctype html><script>") is None
    assert scan_kind(b"") is None


TODAY = date(2026, 6, 1)
kinds = st.sampled_from(("business_license", "operating_permit", "class2_filing"))
validity = st.one_of(st.none(), st.integers(min_value=-400, max_value=400).map(lambda d: TODAY + timedelta(days=d)))


@given(st.lists(st.tuples(kinds, validity), max_size=6))
def test_a_dealer_trades_only_with_a_valid_licence_and_a_valid_device_permit(held):
    gaps = qualification_gaps(held, TODAY)
    valid = {k for k, until in held if until is None or until >= TODAY}
    assert ("business_license" in gaps) == ("business_license" not in valid)
    assert ("device_permit" in gaps) == (not valid & {"operating_permit", "class2_filing"})


def test_expiry_day_itself_is_still_valid():
    assert qualification_gaps([("business_license", TODAY), ("class2_filing", None)], TODAY) == []
    assert qualification_gaps([("business_license", TODAY - timedelta(days=1)), ("class2_filing", None)],
                              TODAY) == ["business_license"]
