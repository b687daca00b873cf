"""Pure inventory rules: reading GS1 UDI strings and choosing lots first expiry first out."""
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.inventory.rules import Candidate, UdiError, fefo_pick, parse_udi


def _check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin(body13: str) -> str:
    return body13 + _check_digit(body13)


GTIN = gtin("0690123456789")


@pytest.fixture(autouse=True)
def _app_context(app):
    with app.test_request_context():
        yield


def test_bracketed_udi_gives_device_and_production_identifiers():
    udi = parse_udi(f"(01){GTIN}(11)250115(17)271231(10)L2401(21)SN001")
    assert (udi.gtin, udi.lot, udi.serial) == (GTIN, "L2401", "SN001")
    assert udi.manufactured_on == date(2025, 1, 15) and udi.expires_on == date(2027, 12, 31)


def test_unbracketed_udi_with_group_separators_reads_the_same():
    assert parse_udi(f"01{GTIN}17271231" + "10L2401\x1d21SN001") == parse_udi(f"(01){GTIN}(17)271231(10)L2401(21)SN001")


def test_day_zero_means_the_last_day_of_the_month():
    assert parse_udi(f"(01){GTIN}(17)270200(10)A").expires_on == date(2027, 2, 28)


@pytest.mark.parametrize("text,why", [
    ("", "empty"),
    (f"(01){GTIN[:-1]}{(int(GTIN[-1]) + 1) % 10}(10)L1", "check digit"),
    (f"(01){GTIN}(17)271341(10)L1", "bad month"),
    (f"(01){GTIN}(17)270230(10)L1", "30 February"),
    (f"(01){GTIN}(17)27123(10)L1", "short date"),
    (f"(01){GTIN}(99)X(10)L1", "unknown AI"),
    (f"(01){GTIN}(17)271231", "no lot or serial"),
    ("(10)L1(21)S1", "no device identifier"),
    (f"(01){GTIN}(10)L1(10)L2", "AI twice"),
    (f"(01){GTIN}(11)271231(17)250101(10)L1", "expiry before manufacture"),
    (f"(01){GTIN}(10)" + "X" * 21, "lot too long"),
    (f"01{GTIN}99X", "unknown AI unbracketed"),
    (f"(01){GTIN}junk(10)L1", "text outside brackets"),
])
def test_malformed_udis_are_refused_with_a_reason(text, why):
    with pytest.raises(UdiError) as err:
        parse_udi(text)
    assert str(err.value), why


lots = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=20)


@given(body=st.text(alphabet="0123456789", min_size=13, max_size=13), lot=lots, serial=st.none() | lots,
       expires=st.dates(date(2000, 1, 1), date(2099, 12, 31)))
def test_any_well_formed_udi_round_trips(body, lot, serial, expires):
    text = f"(01){gtin(body)}(17){expires:%y%m%d}(10){lot}" + (f"(21){serial}" if serial else "")
    udi = parse_udi(text)
    assert (udi.gtin, udi.lot, udi.serial, udi.expires_on) == (gtin(body), lot, serial, expires)
    flat = f"01{gtin(body)}17{expires:%y%m%d}10{lot}" + (f"\x1d21{serial}" if serial else "")
    assert parse_udi(flat) == udi


# --- FEFO -------------------------------------------------------------------------------------

TODAY = date(2026, 6, 1)
candidates = st.lists(st.builds(
    Candidate, warehouse_id=st.integers(1, 3), lot_id=st.integers(1, 10_000),
    expires_on=st.none() | st.dates(TODAY - timedelta(days=60), TODAY + timedelta(days=900)),
    quantity=st.integers(0, 50)), max_size=12, unique_by=lambda c: (c.warehouse_id, c.lot_id))


@given(candidates, st.integers(0, 300), st.integers(0, 400))
def test_fefo_never_picks_expired_or_short_lived_lots_nor_more_than_there_is(cands, wanted, min_shelf):
    picks = fefo_pick(cands, wanted, TODAY, min_shelf)
    by_key = {(c.warehouse_id, c.lot_id): c for c in cands}
    horizon = TODAY + timedelta(days=min_shelf)
    usable = sum(c.quantity for c in cands if c.expires_on is None or c.expires_on > horizon)
    assert sum(p.quantity for p in picks) == min(wanted, usable)
    for p in picks:
        c = by_key[(p.warehouse_id, p.lot_id)]
        assert 0 < p.quantity <= c.quantity
        assert c.expires_on is None or c.expires_on > horizon
    assert len({(p.warehouse_id, p.lot_id) for p in picks}) == len(picks)


@given(candidates, st.integers(1, 300))
def test_fefo_takes_the_earliest_expiry_first(cands, wanted):
    picks = fefo_pick(cands, wanted, TODAY)
    by_key = {(c.warehouse_id, c.lot_id): c for c in cands}
    expiries = [by_key[(p.warehouse_id, p.lot_id)].expires_on or date.max for p in picks]
    assert expiries == sorted(expiries)
    # a lot is only touched once every lot expiring earlier is used up
    picked = {(p.warehouse_id, p.lot_id): p.quantity for p in picks}
    if picks:
        last = expiries[-1]
        for c in cands:
            earlier = (c.expires_on or date.max) < last and (c.expires_on is None or c.expires_on > TODAY)
            if earlier and c.quantity:
                assert picked.get((c.warehouse_id, c.lot_id)) == c.quantity


def test_fefo_hand_case():
    cands = [Candidate(1, 1, TODAY + timedelta(days=10), 5), Candidate(2, 2, TODAY + timedelta(days=5), 3),
             Candidate(1, 3, TODAY - timedelta(days=1), 9), Candidate(1, 4, None, 100)]
    picks = fefo_pick(cands, 10, TODAY)
    assert [(p.lot_id, p.quantity) for p in picks] == [(2, 3), (1, 5), (4, 2)]
    assert [(p.lot_id, p.quantity) for p in fefo_pick(cands, 10, TODAY, min_shelf_days=7)] == [(1, 5), (4, 5)]
