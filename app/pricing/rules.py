"""Pure pricing rules (no I/O): which price applies, and whether it is inside its band.

Precedence, most binding first:
  1. a tender / volume-procurement award (招投标/集采) for the hospital itself;
  2. an award for an alliance (联盟) whose region contains the hospital, the most
     specific region first;
  3. the price list of the dealer's channel (agent → agent; tier1/tier2 → distribution;
     no dealer → direct) for the most specific region containing the reference region
     (the dealer's, or the hospital's when there is no dealer); national last.
Within one level the latest ``valid_from`` wins (then the highest record id).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

HOSPITAL_AWARD, ALLIANCE_AWARD, PRICE_LIST = "hospital_award", "alliance_award", "price_list"
LEVELS = (HOSPITAL_AWARD, ALLIANCE_AWARD, PRICE_LIST)

TIER_CHANNEL = {"agent": "agent", "tier1": "distribution", "tier2": "distribution"}


def channel_for(tier: str | None) -> str:
    """The price-list channel a dealer buys on; ``None`` (no dealer) buys direct."""
    return "direct" if tier is None else TIER_CHANNEL.get(tier, "distribution")


@dataclass(frozen=True)
class Candidate:
    """One price that might apply: an award or a price-list item."""

    kind: str  # HOSPITAL_AWARD | ALLIANCE_AWARD | PRICE_LIST
    price: Decimal
    valid_from: date
    valid_until: date | None
    record_id: int
    #: the award number or price-list code
    label: str = ""
    #: hospital awards: the hospital
    hospital_id: int | None = None
    #: alliance awards and price lists: the region's path; None for a national price list
    region_path: str | None = None
    #: price lists only
    channel: str | None = None
    #: for display (region, hospital or alliance name)
    scope_name: str = ""

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


def _depth(path: str | None) -> int:
    return 0 if not path else path.strip("/").count("/") + 1


def applicable(c: Candidate, day: date, hospital_id: int | None, hospital_path: str | None, channel: str,
               reference_path: str | None) -> bool:
    """Whether ``c`` may apply at all for this sale on ``day``."""
    if not c.valid_on(day):
        return False
    if c.kind == HOSPITAL_AWARD:
        return hospital_id is not None and c.hospital_id == hospital_id
    if c.kind == ALLIANCE_AWARD:
        return hospital_path is not None and c.region_path is not None and hospital_path.startswith(c.region_path)
    if c.kind == PRICE_LIST:
        if c.channel != channel:
            return False
        return c.region_path is None or (reference_path is not None and reference_path.startswith(c.region_path))
    return False


def rank(c: Candidate) -> tuple:
    """Sort key: smaller is more binding."""
    return (LEVELS.index(c.kind), -_depth(c.region_path), -c.valid_from.toordinal(), -c.record_id)


def ranked(candidates, day: date, hospital_id: int | None = None, hospital_path: str | None = None,
           dealer_tier: str | None = None, dealer_path: str | None = None) -> list[Candidate]:
    """The candidates that apply, most binding first."""
    channel = channel_for(dealer_tier)
    reference = dealer_path if dealer_tier is not None else hospital_path
    return sorted((c for c in candidates if applicable(c, day, hospital_id, hospital_path, channel, reference)), key=rank)


def choose_price(candidates, day: date, hospital_id: int | None = None, hospital_path: str | None = None,
                 dealer_tier: str | None = None, dealer_path: str | None = None) -> Candidate | None:
    """The price that applies (see the module's precedence), or None."""
    order = ranked(candidates, day, hospital_id, hospital_path, dealer_tier, dealer_path)
    return order[0] if order else None


@dataclass(frozen=True)
class Band:
    """价格带: floor and ceiling for a SKU, nationally (``region_path`` None) or in a region."""

    floor: Decimal
    ceiling: Decimal
    valid_from: date
    valid_until: date | None = None
    region_path: str | None = None
    record_id: int = 0

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


def choose_band(bands, day: date, path: str | None) -> Band | None:
    """The band valid on ``day`` for the most specific region containing ``path``."""
    fits = [b for b in bands if b.valid_on(day) and (b.region_path is None or (path or "").startswith(b.region_path))]
    return min(fits, key=lambda b: (-_depth(b.region_path), -b.valid_from.toordinal(), -b.record_id), default=None)


def band_check(price: Decimal | None, band) -> str:
    """'below_floor', 'above_ceiling', 'within', or 'no_band' (no band, or no price)."""
    if band is None or price is None:
        return "no_band"
    floor, ceiling = (band.floor, band.ceiling) if isinstance(band, Band) else band
    if price < floor:
        return "below_floor"
    if price > ceiling:
        return "above_ceiling"
    return "within"


# --- special prices (特价申请) -----------------------------------------------------------------
# A request's "discount" is how far its price goes below the band floor: the figure the
# approval chain routes on ("discount above 15 % goes to the channel manager"). A price
# inside the band is no discount at all (0 %). With no band for the SKU there is no floor,
# so the depth is measured against the reference price (what the dealer pays today).

PCT = Decimal("0.01")


def discount_pct(requested: Decimal, floor: Decimal | None, reference: Decimal | None) -> Decimal:
    """How far ``requested`` lies below the band ``floor`` (no band: below ``reference``),
    in %, rounded half up to 0.01; 0 when it is not below it (or there is nothing to
    measure against)."""
    from decimal import ROUND_HALF_UP

    base = floor if floor is not None else reference
    if base is None or base <= 0 or requested >= base:
        return Decimal("0.00")
    return ((base - requested) * 100 / base).quantize(PCT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SpecialPrice:
    """One approved special-price line as orders see it on a day: its price, its cap and
    what orders not cancelled or rejected already used of it."""

    line_id: int
    request_id: int
    number: str
    price: Decimal
    cap: int
    used: int
    valid_until: date

    @property
    def left(self) -> int:
        return max(self.cap - self.used, 0)


@dataclass(frozen=True)
class SpecialChoice:
    #: the special price the line gets (enough of its cap left), or None
    use: SpecialPrice | None = None
    #: when none has enough left: the one with the most left (the line is refused, naming it)
    short: SpecialPrice | None = None


def choose_special_price(offers, quantity: int) -> SpecialChoice:
    """Which approved special price a line of ``quantity`` units gets: among those with
    at least ``quantity`` units of cap left, the lowest price (then the one ending first,
    then the oldest line). None has enough: the one with the most left is named, so the
    dealer can be told how many units it still covers; a used-up cap no longer applies."""
    enough = [o for o in offers if o.left > 0 and o.left >= quantity]
    if enough:
        return SpecialChoice(use=min(enough, key=lambda o: (o.price, o.valid_until, o.line_id)))
    some = [o for o in offers if o.left > 0]
    if some:
        return SpecialChoice(short=max(some, key=lambda o: (o.left, -o.price, -o.line_id)))
    return SpecialChoice()
