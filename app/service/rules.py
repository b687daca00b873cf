"""Pure after-sales rules: warranty standing and what it covers, calendar arithmetic for
maintenance plans. Values in, values out; no I/O."""
from __future__ import annotations

import calendar
from datetime import date

#: what each coverage pays for: (parts, labour)
COVERS = {"parts_and_labour": (True, True), "parts": (True, False), "labour": (False, True)}


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def warranty_end_for(start: date, months: int) -> date:
    """The last day of a warranty of ``months`` starting on ``start`` (12 months from
    1 March end on the last day of February)."""
    from datetime import timedelta

    return add_months(start, months) - timedelta(days=1)


def warranty_standing(unit, day: date) -> str:
    """How ``unit`` stands on ``day``: ``'warranty'`` (within the manufacturer's
    warranty, or delivered and not yet started: a new unit's faults are the maker's),
    ``'contract'`` (a service contract runs that day), ``'out_of_warranty'`` (the
    warranty ended and no contract runs), or ``'unknown'`` (no warranty end recorded and
    no contract). The warranty wins over a contract running beside it.

    ``unit`` is anything with ``warranty_start``, ``warranty_end``, ``contract_start``
    and ``contract_end`` (an ``InstalledUnit``)."""
    if unit is None:
        return "unknown"
    if unit.warranty_end is not None and day <= unit.warranty_end:
        return "warranty"
    if unit.contract_start is not None and unit.contract_end is not None and unit.contract_start <= day <= unit.contract_end:
        return "contract"
    if unit.warranty_end is not None:
        return "out_of_warranty"
    return "unknown"


def coverage(unit, day: date) -> str | None:
    """What pays on ``day``: the warranty's coverage, the contract's, or None (the
    hospital pays, or nobody knows)."""
    standing = warranty_standing(unit, day)
    if standing == "warranty":
        return unit.warranty_coverage or "parts_and_labour"
    if standing == "contract":
        return unit.contract_coverage or "parts_and_labour"
    return None


def covered(unit, day: date) -> tuple[bool, bool]:
    """(parts covered, labour covered) on ``day``: what the ticket must not charge."""
    return COVERS.get(coverage(unit, day), (False, False))
