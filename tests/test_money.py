"""Money rounds the same way in Python and in PostgreSQL: to the fen, ties away from zero.

Python's built-in ``round()`` rounds half to even, so summing a year of rebate lines
rounded with it drifts from the same lines rounded in SQL; ``app.core.money.fen`` and
``sql_fen`` must agree on every value, and both must differ from ``round()``.
"""
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.core.money import FEN, fen, sql_fen

amounts = st.decimals(min_value=Decimal("-99999999.9999"), max_value=Decimal("99999999.9999"), places=4,
                      allow_nan=False, allow_infinity=False)
#: values exactly half a fen off: where the two rules part
halves = st.integers(min_value=-10**9, max_value=10**9).map(lambda n: Decimal(n) / 100 + Decimal("0.005"))


def test_fen_rounds_ties_away_from_zero():
    assert fen(Decimal("0.285")) == Decimal("0.29") and fen(Decimal("-0.285")) == Decimal("-0.29")
    assert fen(Decimal("2.675")) == Decimal("2.68")  # round(2.675, 2) on the float gives 2.67
    assert round(Decimal("0.125"), 2) == Decimal("0.12") and fen(Decimal("0.125")) == Decimal("0.13")
    assert fen("1.005") == Decimal("1.01") and fen(7) == Decimal("7.00")
    assert fen(Decimal("1.234")).as_tuple().exponent == -2 and FEN == Decimal("0.01")


def _sql_rounded(engine, values):
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT v, {sql_fen('v')} FROM unnest(CAST(:vs AS numeric[])) AS t(v)"),
                            {"vs": [str(v) for v in values]}).all()
    return {Decimal(str(v)): r for v, r in rows}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(amounts, halves), min_size=1, max_size=200))
def test_python_and_postgresql_round_every_value_alike(engine, values):
    in_sql = _sql_rounded(engine, values)
    for value in values:
        assert fen(value) == in_sql[value], value


def test_a_year_of_rebate_lines_sums_to_the_same_fen(engine):
    """365 daily rebate lines of 3 % on x.50 CNY (every one ends in half a fen):
    rounding each with round() (half to even) drops the ties on even fen that HALF_UP
    keeps; fen and SQL agree to the fen."""
    bases = [Decimal("0.50") + Decimal(i) for i in range(365)]  # 3 % of x.50 ends in …5
    lines = [b * Decimal("0.03") for b in bases]
    python_total = sum(fen(x) for x in lines)
    with engine.connect() as conn:
        sql_total = conn.execute(text(f"SELECT sum({sql_fen('b * 0.03')}) FROM unnest(CAST(:bs AS numeric[])) AS t(b)"),
                                 {"bs": [str(b) for b in bases]}).scalar()
    half_even_total = sum(round(x, 2) for x in lines)
    assert python_total == Decimal(sql_total)
    assert python_total - half_even_total == Decimal("1.82")  # every tie on an even fen lost by round()
