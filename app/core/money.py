"""Money: CNY as ``Decimal``, stored ``NUMERIC(14, 2)``, rounded to the fen half up.

Python's ``round()`` rounds half to even and PostgreSQL's ``round(numeric, 2)`` half away
from zero; ``decimal.ROUND_HALF_UP`` is also "ties away from zero", so ``fen`` here and
``round(x::numeric, 2)`` in SQL give the same fen for every value, negative ones included
(tests/test_money.py proves it against the server). Never round a float: SQL that
computes money keeps its operands ``numeric`` (a ``double precision`` slipped in would
round 0.285 to 0.28).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
#: amounts are NUMERIC(14, 2): everything stays below this
MAX_AMOUNT = Decimal(10) ** 12


def fen(value) -> Decimal:
    """``value`` rounded to the fen, ties away from zero (as SQL's ``round(x, 2)``)."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def sql_fen(expression: str) -> str:
    """The SQL twin of ``fen`` for an expression in set-based statements."""
    return f"round(({expression})::numeric, 2)"
