"""Pure rules of a recall (召回): who holds affected units, given the flows the stock
ledger, shipments and sell-out reports record, and how much of the trace has been
accounted for. No I/O: values in, values out.

Who holds what, per lot:

* a manufacturer warehouse: what its balances hold, in any state;
* a consignment location: its balances, held by the hospital (or dealer) it stands at;
* in transit: a shipped, not yet delivered shipment is held by whoever will sign for it;
* a dealer: delivered to it (``ship_to = dealer``) + bought from other dealers (分销流向)
  − its returns received back − sold to other dealers − what it sold to hospitals
  beyond what went to them straight from us;
* a hospital: per dealer, the larger of what was delivered straight to it (net of returns
  of those deliveries) and what that dealer reports selling to it — a direct delivery
  and the sell-out report describing it are the same units, not twice as many.

A dealer whose reports leave it below zero holds nothing; the shortfall is kept in the
holding's evidence (``overreported``) so the report can show the inconsistency.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

FLOW_KINDS = ("stock", "consigned", "in_transit", "to_dealer", "direct", "returned", "sold", "sold_to_dealer")


@dataclass(frozen=True)
class Flow:
    """One aggregated figure about one lot. ``kind``:

    stock           units in a manufacturer warehouse (``warehouse_id``)
    consigned       units at a consignment location (``hospital_id`` or ``dealer_id``)
    in_transit      shipped, not delivered, to ``dealer_id`` or ``hospital_id``
    to_dealer       delivered to ``dealer_id``
    direct          delivered straight to ``hospital_id`` on an order of ``dealer_id``
    returned        received back from ``dealer_id`` (from ``hospital_id``'s direct delivery, if set)
    sold            ``dealer_id`` reported selling to ``hospital_id``
    sold_to_dealer  ``dealer_id`` reported selling to ``buyer_dealer_id``
    """

    kind: str
    lot_id: int
    quantity: int
    warehouse_id: int | None = None
    dealer_id: int | None = None
    hospital_id: int | None = None
    buyer_dealer_id: int | None = None
    refs: tuple[str, ...] = ()


@dataclass
class Holding:
    holder_kind: str  # warehouse | dealer | hospital
    holder_id: int
    lot_id: int
    quantity: int = 0
    evidence: dict = field(default_factory=dict)
    refs: list[str] = field(default_factory=list)

    def add(self, part: str, quantity: int, refs=()) -> None:
        self.evidence[part] = self.evidence.get(part, 0) + quantity
        for ref in refs:
            if ref not in self.refs:
                self.refs.append(ref)


def trace_holdings(flows: list[Flow]) -> list[Holding]:
    """Every holder of every lot with the units it still holds (zero holdings left out),
    in a stable order: warehouses, dealers, hospitals; then by id and lot."""
    held: dict[tuple[str, int, int], Holding] = {}

    def holding(kind: str, holder_id: int, lot_id: int) -> Holding:
        key = (kind, holder_id, lot_id)
        if key not in held:
            held[key] = Holding(kind, holder_id, lot_id)
        return held[key]

    direct: dict[tuple[int, int, int], int] = defaultdict(int)   # (dealer, hospital, lot) → net direct units
    sold: dict[tuple[int, int, int], int] = defaultdict(int)     # (dealer, hospital, lot) → reported sold
    direct_refs: dict[tuple[int, int, int], list[str]] = defaultdict(list)
    dealer_net: dict[tuple[int, int], int] = defaultdict(int)    # (dealer, lot) → units in the dealer's hands
    for f in flows:
        if f.kind not in FLOW_KINDS:
            raise ValueError(f"unknown flow kind {f.kind!r}")
        if f.kind == "stock":
            holding("warehouse", f.warehouse_id, f.lot_id).add("stock", f.quantity, f.refs)
        elif f.kind in ("consigned", "in_transit"):
            kind, party = ("hospital", f.hospital_id) if f.hospital_id else ("dealer", f.dealer_id)
            holding(kind, party, f.lot_id).add(f.kind, f.quantity, f.refs)
        elif f.kind == "to_dealer":
            dealer_net[(f.dealer_id, f.lot_id)] += f.quantity
            holding("dealer", f.dealer_id, f.lot_id).add("delivered", f.quantity, f.refs)
        elif f.kind == "direct":
            direct[(f.dealer_id, f.hospital_id, f.lot_id)] += f.quantity
            direct_refs[(f.dealer_id, f.hospital_id, f.lot_id)].extend(f.refs)
        elif f.kind == "returned":
            if f.hospital_id:
                direct[(f.dealer_id, f.hospital_id, f.lot_id)] -= f.quantity
            else:
                dealer_net[(f.dealer_id, f.lot_id)] -= f.quantity
                holding("dealer", f.dealer_id, f.lot_id).add("returned", f.quantity, f.refs)
        elif f.kind == "sold":
            sold[(f.dealer_id, f.hospital_id, f.lot_id)] += f.quantity
        elif f.kind == "sold_to_dealer":
            dealer_net[(f.dealer_id, f.lot_id)] -= f.quantity
            holding("dealer", f.dealer_id, f.lot_id).add("sold_to_dealers", f.quantity, f.refs)
            dealer_net[(f.buyer_dealer_id, f.lot_id)] += f.quantity
            holding("dealer", f.buyer_dealer_id, f.lot_id).add("bought", f.quantity, f.refs)
    at_hospitals: dict[tuple[int, int], int] = defaultdict(int)  # (hospital, lot) → units
    for key in set(direct) | set(sold):
        dealer_id, hospital_id, lot_id = key
        net_direct, reported = max(direct.get(key, 0), 0), sold.get(key, 0)
        if max(net_direct, reported):
            at_hospitals[(hospital_id, lot_id)] += max(net_direct, reported)
            h = holding("hospital", hospital_id, lot_id)
            if net_direct:
                h.add("direct", net_direct, direct_refs.get(key, ()))
            if reported:
                h.add("sold_by_dealer", reported)
        if reported > net_direct:  # sold from the dealer's own stock
            dealer_net[(dealer_id, lot_id)] -= reported - net_direct
            holding("dealer", dealer_id, lot_id).add("sold", reported - net_direct)
    for h in held.values():
        carried = h.evidence.get("consigned", 0) + h.evidence.get("in_transit", 0)
        if h.holder_kind == "dealer":
            net = dealer_net.get((h.holder_id, h.lot_id), 0)
            h.quantity = max(net, 0) + carried
            if net < 0:
                h.evidence["overreported"] = -net
        elif h.holder_kind == "hospital":
            h.quantity = at_hospitals.get((h.holder_id, h.lot_id), 0) + carried
        else:
            h.quantity = h.evidence.get("stock", 0)
    order = {"warehouse": 0, "dealer": 1, "hospital": 2}
    return sorted((h for h in held.values() if h.quantity > 0),
                  key=lambda h: (order[h.holder_kind], h.holder_id, h.lot_id))


# --- accounting for the units -----------------------------------------------------------------

def accounted(expected: int, status: str, on_hand: int, returned: int, used: int) -> int:
    """Units of a notice accounted for: what its party reported (on hand, returned, used),
    never more than the trace expected; nothing before it reports."""
    if status != "reported":
        return 0
    return min(max(expected, 0), on_hand + returned + used)


def share(accounted_units: int, expected_units: int) -> Decimal:
    """Accounted for as a percentage with one decimal, half up; 100 when nothing is expected."""
    if expected_units <= 0:
        return Decimal("100.0")
    return (Decimal(accounted_units) * 100 / Decimal(expected_units)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Effectiveness:
    region_id: int | None
    expected: int
    accounted: int

    @property
    def percent(self) -> Decimal:
        return share(self.accounted, self.expected)

    @property
    def unaccounted(self) -> int:
        return self.expected - self.accounted


def effectiveness(rows) -> tuple[Effectiveness, list[Effectiveness]]:
    """``rows`` of (region_id, expected, accounted) → the campaign's total and one line
    per region that has units to account for (by region id, None last)."""
    per: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    for region_id, expected, done in rows:
        per[region_id][0] += expected
        per[region_id][1] += min(done, expected)
    regions = [Effectiveness(r, e, a) for r, (e, a) in per.items() if e > 0]
    regions.sort(key=lambda x: (x.region_id is None, x.region_id or 0))
    total = Effectiveness(None, sum(x.expected for x in regions), sum(x.accounted for x in regions))
    return total, regions


def complete(total: Effectiveness) -> bool:
    return total.accounted >= total.expected
