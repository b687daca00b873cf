"""Pure inventory rules: reading a GS1 UDI, and choosing lots first-expiry-first-out."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _

from app.catalog.rules import gtin_valid


class UdiError(ValueError):
    """A UDI string that cannot be read; the message is translated and says why."""


@dataclass(frozen=True)
class Udi:
    gtin: str
    lot: str | None = None
    serial: str | None = None
    manufactured_on: date | None = None
    expires_on: date | None = None


#: application identifier → (name, fixed length or None for variable up to max)
_AIS = {
    "01": ("gtin", 14, 14),
    "11": ("manufactured_on", 6, 6),
    "17": ("expires_on", 6, 6),
    "10": ("lot", None, 20),
    "21": ("serial", None, 20),
}
_BRACKETED = re.compile(r"\((\d{2})\)([^()]*)")
_GS = "\x1d"


def _gs1_date(value: str) -> date:
    """YYMMDD; DD 00 means the last day of the month (GS1 General Specifications 7.12).
    Years are 2000–2099, which covers every device on sale."""
    if not re.fullmatch(r"\d{6}", value):
        raise UdiError(_("A date must be six digits (YYMMDD)."))
    year, month, day_ = 2000 + int(value[:2]), int(value[2:4]), int(value[4:])
    if not 1 <= month <= 12:
        raise UdiError(_("The date %(value)s has no month %(month)s.", value=value, month=month))
    if day_ == 0:
        following = date(year + month // 12, month % 12 + 1, 1)
        return following - timedelta(days=1)
    try:
        return date(year, month, day_)
    except ValueError:
        raise UdiError(_("The date %(value)s does not exist.", value=value)) from None


def _pairs(text: str) -> list[tuple[str, str]]:
    text = text.strip()
    if text.startswith("("):
        pairs = _BRACKETED.findall(text)
        if "".join(f"({ai}){value}" for ai, value in pairs) != text:
            raise UdiError(_("Write the UDI as (01)… (17)… (10)… with every part in brackets."))
        return pairs
    # The unbracketed form: fixed-length parts run on, variable ones end at GS (or the end).
    pairs, rest = [], text.lstrip("]C1").lstrip("]d2")
    while rest:
        ai = rest[:2]
        if ai not in _AIS:
            raise UdiError(_("Unknown part (%(ai)s) in the UDI.", ai=ai))
        _name, fixed, longest = _AIS[ai]
        if fixed:
            value, rest = rest[2:2 + fixed], rest[2 + fixed:]
        else:
            value, _sep, rest = rest[2:].partition(_GS)
        pairs.append((ai, value))
        rest = rest.lstrip(_GS)
    return pairs


def parse_udi(text: str) -> Udi:
    """Read a GS1 UDI — ``(01)06901234567892(17)271231(10)L2401(21)SN001`` or the same
    without brackets, variable parts ended by GS — into its device identifier and
    production identifiers. Raises ``UdiError`` for anything malformed."""
    if not text or not text.strip():
        raise UdiError(_("The UDI is empty."))
    found: dict[str, str] = {}
    for ai, value in _pairs(text):
        if ai not in _AIS:
            raise UdiError(_("Unknown part (%(ai)s) in the UDI.", ai=ai))
        if ai in found:
            raise UdiError(_("The part (%(ai)s) appears twice.", ai=ai))
        _name, fixed, longest = _AIS[ai]
        if fixed and len(value) != fixed:
            raise UdiError(_("The part (%(ai)s) must be %(n)s characters long.", ai=ai, n=fixed))
        if not fixed and not 1 <= len(value) <= longest:
            raise UdiError(_("The part (%(ai)s) must be 1 to %(n)s characters long.", ai=ai, n=longest))
        found[ai] = value
    if "01" not in found:
        raise UdiError(_("The UDI has no device identifier (01)."))
    if not gtin_valid(found["01"]):
        raise UdiError(_("The device identifier (01) %(gtin)s fails its check digit.", gtin=found["01"]))
    made = _gs1_date(found["11"]) if "11" in found else None
    expires = _gs1_date(found["17"]) if "17" in found else None
    if made and expires and expires <= made:
        raise UdiError(_("The expiry date (17) must come after the manufacture date (11)."))
    if "10" not in found and "21" not in found:
        raise UdiError(_("The UDI names neither a lot (10) nor a serial number (21)."))
    return Udi(found["01"], found.get("10"), found.get("21"), made, expires)


# --- FEFO ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """Available units of one lot in one warehouse."""
    warehouse_id: int
    lot_id: int
    expires_on: date | None
    quantity: int


@dataclass(frozen=True)
class Pick:
    warehouse_id: int
    lot_id: int
    quantity: int


def fefo_pick(candidates: list[Candidate], wanted: int, today: date, min_shelf_days: int = 0) -> list[Pick]:
    """Take ``wanted`` units first-expiry-first-out, skipping lots that would not have
    ``min_shelf_days`` of shelf life left today (and expired ones). Lots without an
    expiry date come last. Ties go to the lower warehouse id, then lot id, so the choice
    is stable. May return fewer units than wanted: the rest is back-ordered."""
    if wanted <= 0:
        return []
    horizon = today + timedelta(days=min_shelf_days)
    usable = [c for c in candidates if c.quantity > 0 and (c.expires_on is None or c.expires_on > horizon)]
    usable.sort(key=lambda c: (c.expires_on is None, c.expires_on or date.max, c.warehouse_id, c.lot_id))
    picks, left = [], wanted
    for c in usable:
        if left == 0:
            break
        take = min(left, c.quantity)
        picks.append(Pick(c.warehouse_id, c.lot_id, take))
        left -= take
    return picks
