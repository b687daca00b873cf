"""Pure rules about catalog codes and registration validity: no I/O, no session.

- 医保医用耗材编码 (NHSA medical-consumable code): 27 characters, the 20-character code
  (the letter C and 19 digits: category, generic name, material, specification group,
  maker …) followed by the 7-digit specification/model suffix (规格型号码).
- UDI-DI as a GS1 GTIN-14: 14 digits, the last a mod-10 check digit.
- A registration certificate is valid, expiring (within 90 days) or expired on a day;
  a class I filing (备案凭证) has no end date and never expires.
"""
from __future__ import annotations

from datetime import date

NHSA_LENGTH = 27
NHSA_CODE_LENGTH = 20
EXPIRING_DAYS = 90

_SEPARATORS = str.maketrans("", "", " -\u00a0\u3000\t")


def normalize_nhsa_code(raw: str) -> str:
    """The compact upper-case form of a 医保耗材编码 typed with spaces or hyphens and a
    lower-case 'c'; ValueError (its message says what is wrong) otherwise."""
    if not isinstance(raw, str):
        raise ValueError("the code must be text")
    code = raw.translate(_SEPARATORS).upper()
    if not code:
        raise ValueError("the code is empty")
    if not code.startswith("C"):
        raise ValueError("the code starts with the letter C")
    if not code[1:].isascii() or not code[1:].isdigit():
        raise ValueError("after the letter C the code has digits only")
    if len(code) != NHSA_LENGTH:
        raise ValueError(f"the code has {NHSA_LENGTH} characters (C and 26 digits), not {len(code)}")
    return code


def nhsa_parts(code: str) -> tuple[str, str]:
    """(the 20-character code, the 7-digit specification suffix) of a valid code."""
    code = normalize_nhsa_code(code)
    return code[:NHSA_CODE_LENGTH], code[NHSA_CODE_LENGTH:]


def gtin_check_digit(first13: str) -> int:
    """The GS1 mod-10 check digit for the first 13 digits of a GTIN-14: weights 3 and 1
    alternate from the rightmost digit (which weighs 3)."""
    if len(first13) != 13 or not first13.isascii() or not first13.isdigit():
        raise ValueError("13 digits expected")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(first13)))
    return (10 - total % 10) % 10


def gtin_valid(udi_di: str) -> bool:
    """Whether ``udi_di`` is a GTIN-14: 14 digits with a correct check digit."""
    if not isinstance(udi_di, str) or len(udi_di) != 14 or not udi_di.isascii() or not udi_di.isdigit():
        return False
    return gtin_check_digit(udi_di[:13]) == int(udi_di[13])


def registration_state(valid_until: date | None, day: date, expiring_days: int = EXPIRING_DAYS) -> str:
    """'valid', 'expiring' (the last valid day is within ``expiring_days``) or 'expired'
    (the last valid day has passed). ``valid_until`` is the last day it is valid; None
    means it does not expire."""
    if valid_until is None:
        return "valid"
    if valid_until < day:
        return "expired"
    if (valid_until - day).days <= expiring_days:
        return "expiring"
    return "valid"
