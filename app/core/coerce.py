"""Reading an operation's ``values``: typed values pass through, text from a form or an
imported cell is parsed, and anything wrong is an ``InvalidInput`` naming the field."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from app.core.errors import InvalidInput


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(values: dict, field: str, required: bool = False, max_length: int = 200) -> str | None:
    value = values.get(field)
    if _blank(value):
        if required:
            raise InvalidInput(field, _("This field is required."))
        return None
    value = str(value).strip()
    if len(value) > max_length:
        raise InvalidInput(field, _("Use at most %(n)d characters.", n=max_length))
    return value


def day(values: dict, field: str, required: bool = False) -> date | None:
    value = values.get(field)
    if _blank(value):
        if required:
            raise InvalidInput(field, _("This field is required."))
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(field, _("Enter a date as YYYY-MM-DD.")) from None


def money(values: dict, field: str, required: bool = False) -> Decimal | None:
    """A positive amount in CNY, at most two decimals."""
    value = values.get(field)
    if _blank(value):
        if required:
            raise InvalidInput(field, _("This field is required."))
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", "").lstrip("¥"))
    except (InvalidOperation, ValueError):
        raise InvalidInput(field, _("Enter an amount such as 1280.00.")) from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput(field, _("Enter an amount greater than zero."))
    if amount.as_tuple().exponent < -2 or amount >= Decimal("1e12"):
        raise InvalidInput(field, _("Enter an amount such as 1280.00."))
    return amount


def as_id(value) -> int | None:
    """A row id from a URL or a form: ASCII digits that fit a bigint, else None ("²"
    passes str.isdigit, and 20 digits overflow PostgreSQL's bigint)."""
    text_value = str(value or "").strip()
    return int(text_value) if text_value.isascii() and text_value.isdigit() and len(text_value) <= 18 else None


def int_arg(args, name: str) -> int | None:
    """``as_id`` of a query-string or form argument."""
    return as_id(args.get(name))


def ident(values: dict, field: str, required: bool = False) -> int | None:
    value = values.get(field)
    if _blank(value) or value == 0 or value == "0":
        if required:
            raise InvalidInput(field, _("This field is required."))
        return None
    if isinstance(value, bool):
        raise InvalidInput(field, _("Choose a valid option."))
    if isinstance(value, int):
        return value
    if as_id(value) is None:
        raise InvalidInput(field, _("Choose a valid option."))
    return as_id(value)


def idents(values: dict, field: str) -> list[int] | None:
    """A list of ids: a list, or text separated by commas/spaces; None when empty."""
    value = values.get(field)
    if _blank(value) or value == []:
        return None
    items = value if isinstance(value, (list, tuple, set, frozenset)) else str(value).replace(",", " ").split()
    out = []
    for item in items:
        one = ident({field: item}, field)
        if one is not None and one not in out:
            out.append(one)
    return out or None


def whole(values: dict, field: str, low: int, high: int, default: int | None = None, required: bool = False) -> int | None:
    """A whole number from ``low`` to ``high``; ``default`` when empty."""
    value = values.get(field)
    if _blank(value):
        if required:
            raise InvalidInput(field, _("This field is required."))
        return default
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = int(value)
    else:
        # digits only (no sign, point, exponent, nan or inf); a length cap first, as int()
        # refuses text of more than 4,300 digits with a ValueError
        text_value = str(value).strip()
        if text_value.isascii() and text_value.isdigit() and len(text_value.lstrip("0")) <= 30:
            number = int(text_value.lstrip("0") or "0")
    if number is None or not low <= number <= high:
        raise InvalidInput(field, _("Enter a whole number from %(low)d to %(high)d.", low=low, high=high))
    return number


def choice(values: dict, field: str, choices, default: str | None = None) -> str:
    """One of ``choices``; ``default`` when empty (and one is given)."""
    value = values.get(field)
    value = value.strip() if isinstance(value, str) else value
    if _blank(value) and default is not None:
        return default
    if value not in choices:
        raise InvalidInput(field, _("Choose one of: %(choices)s.", choices=", ".join(choices)))
    return value


def flag(values: dict, field: str) -> bool:
    value = values.get(field)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y", "是")
    return bool(value)
