"""The payout statement (app/rebates/bases.py) and the rules (app/rebates/rules.py)
agree to the fen: random orders, returns and sell-out for fresh dealers, random
policies; each dealer's base is added up here in Python from the lines written, run
through ``rules.outcome``, and compared with what the SQL statement computed."""
from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from app.channel.models import Dealer, Region
from app.core.i18n import shanghai_today
from app.rebates import bases, rules
from app.rebates.models import RebatePolicy
from tests.rebate_world import credited_return, day_in, last_quarter, line_id, order, qualification, rebate_world, sell_out, sku  # noqa: F401

D = Decimal
LQ = last_quarter()
LY = rules.last_year_key(LQ)
SKUS = {"CV-DES-3018": "CV", "CV-DCB-3020": "CV", "SH-TAVR-23": "SH", "IVD-HSTNI-100": "IVD"}
ACCEPTED = ("approved", "allocated", "shipped", "delivered", "closed")

price = st.integers(min_value=0, max_value=5_000_000).map(lambda n: D(n) / 100)
when = st.sampled_from(["cur", "ly", "other"])
purchase = st.tuples(when, st.sampled_from(ACCEPTED + ("cancelled", "pending_approval", "rejected")), st.booleans(),
                     st.sampled_from(sorted(SKUS)), st.integers(1, 40), price)
returned = st.tuples(when, st.sampled_from(sorted(SKUS)), st.integers(1, 10), price)
sold = st.tuples(when, st.sampled_from(sorted(SKUS)), st.integers(1, 20), st.one_of(st.none(), price))
dealer_data = st.fixed_dictionaries({
    "tier": st.sampled_from(["agent", "tier1", "tier2"]), "east": st.booleans(), "expired": st.booleans(),
    "purchases": st.lists(purchase, max_size=6), "returns": st.lists(returned, max_size=2),
    "sold": st.lists(sold, max_size=4)})


@st.composite
def policies(draw):
    kind = draw(st.sampled_from(["volume", "growth", "mix"]))
    unit = {"volume": st.integers(0, 50_000_000).map(lambda n: D(n) / 100),
            "growth": st.integers(0, 30_000).map(lambda n: D(n) / 100),
            "mix": st.integers(0, 10_000).map(lambda n: D(n) / 100)}[kind]
    thresholds = sorted(set(draw(st.lists(unit, min_size=1, max_size=4))))
    rates = [draw(st.integers(0, 10_000)) for _ in thresholds]
    conditions = draw(st.dictionaries(st.sampled_from(rules.CONDITIONS), st.one_of(
        st.just({"effect": "gate"}), st.integers(0, 9999).map(lambda n: {"effect": "reduce", "rate": str(D(n) / 10000)}))))
    return dict(
        kind=kind, basis=draw(st.sampled_from(["purchase", "sell_out"])),
        method="retroactive" if kind == "mix" else draw(st.sampled_from(["retroactive", "incremental"])),
        tiers=[{"from": str(t), "rate": str(D(r) / 10000)} for t, r in zip(thresholds, rates)],
        dealer_tiers=draw(st.one_of(st.none(), st.lists(st.sampled_from(["agent", "tier1", "tier2"]), min_size=1,
                                                        max_size=2, unique=True))),
        east_only=draw(st.booleans()), cv_only=draw(st.booleans()),
        strategic=draw(st.lists(st.sampled_from(sorted(SKUS)), max_size=2, unique=True)),
        cap_rate=draw(st.one_of(st.none(), st.integers(1, 10_000).map(lambda n: D(n) / 10000))),
        cap_amount=draw(st.one_of(st.none(), st.integers(1, 10_000_000).map(lambda n: D(n) / 100))),
        conditions=conditions)


def _day(key_when: str):
    return {"cur": day_in(LQ, 17), "ly": day_in(LY, 17), "other": day_in(LQ, -20)}[key_when]


def expected(p: dict, data: dict) -> tuple[rules.Figures, bool]:
    """The dealer's figures added up here from the lines as written: (figures, whether
    any line counted at all — the statement lists only dealers with one)."""
    windows = ("cur", "ly") if p["kind"] == "growth" else ("cur",)  # last year only matters for growth
    sums = {"cur": D(0), "ly": D(0)}
    strat, counted = D(0), False

    def take(w, code, amount):
        nonlocal strat, counted
        if w not in windows or (p["cv_only"] and SKUS[code] != "CV"):
            return
        counted = True
        sums[w] += amount
        if w == "cur" and code in p["strategic"] and p["kind"] == "mix":  # only a mix policy counts strategic SKUs
            strat += amount

    if p["basis"] == "purchase":
        for w, status, free, code, qty, unit in data["purchases"]:
            if status in ACCEPTED and not free:
                take(w, code, qty * unit)
        for w, code, qty, unit in data["returns"]:
            take(w, code, -qty * unit)
    else:
        for w, code, qty, unit in data["sold"]:
            take(w, code, qty * (unit or D(0)))  # unpriced, and no lot bought: nothing to value it at
    base = max(sums["cur"], D(0))
    met = {"qualifications_valid": not data["expired"], "sell_out_on_time": True}
    return rules.Figures(base, max(sums["ly"], D(0)), min(max(strat, D(0)), base), met), counted


def pin_on_a_boundary(p: dict, dealers: list, draw) -> None:
    """Often put a threshold exactly where a dealer's measure lands: boundaries are where
    a `>` for a `>=` would hide, and random thresholds almost never hit them."""
    pins = []
    for data in dealers:
        fig, counted = expected(p, data)
        if not counted or fig.base <= 0:
            continue
        measure = {"volume": fig.base,
                   "growth": (fig.base - fig.last_year) * 100 / fig.last_year if fig.last_year else None,
                   "mix": fig.strategic * 100 / fig.base if fig.base else None}[p["kind"]]
        if measure is not None and measure > 0 and measure == measure.quantize(D("0.01")):
            pins.append(measure.quantize(D("0.01")))
    if not pins or draw.draw(st.integers(0, 3), label="pin a threshold") == 0:
        return
    pin = draw.draw(st.sampled_from(pins), label="pin")
    rate = p["tiers"][0]["rate"]
    tiers = {D(t["from"]): t["rate"] for t in p["tiers"]}
    tiers[pin] = rate
    p["tiers"] = [{"from": str(k), "rate": v} for k, v in sorted(tiers.items())]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(policies(), st.lists(dealer_data, min_size=1, max_size=3), st.data())
def test_sql_payout_equals_the_rules_on_random_data(rworld, as_tenant, p, dealers, draw):
    pin_on_a_boundary(p, dealers, draw)
    with as_tenant(rworld) as session:
        regions = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(("SH", "GD", "EAST"))))}
        ids = []
        for n, data in enumerate(dealers):
            code = "HY-" + uuid.uuid4().hex[:10].upper()
            dealer_id = session.execute(insert(Dealer).values(
                code=code, name=f"随机经销商{n}", tier=data["tier"], region_id=regions["SH" if data["east"] else "GD"].id)
                .returning(Dealer.id)).scalar()
            ids.append(dealer_id)
            for w, status, free, sku_code, qty, unit in data["purchases"]:
                order(session, code, _day(w), [(sku_code, qty, unit, free)], status=status)
            for w, sku_code, qty, unit in data["returns"]:
                credited_return(session, code, _day(w), sku_code, qty, unit)
            for w, sku_code, qty, unit in data["sold"]:
                sell_out(session, code, _day(w), sku_code, qty, unit)
            if data["expired"]:
                qualification(session, code, rules.parse_period(LQ)[2] - timedelta(days=1))
        policy = RebatePolicy(
            code="HYP", version=1, name="随机政策", status="published", period="quarter", kind=p["kind"],
            basis=p["basis"], method=p["method"], tiers=p["tiers"], conditions=p["conditions"],
            dealer_tiers=p["dealer_tiers"], region_id=regions["EAST"].id if p["east_only"] else None,
            product_line_ids=[line_id(session, "CV")] if p["cv_only"] else None,
            params={"strategic_sku_ids": [sku(session, c).id for c in p["strategic"]]}, cap_rate=p["cap_rate"],
            cap_amount=p["cap_amount"], valid_from=rules.parse_period(LQ)[1])
        rows = {r.dealer_id: r for r in bases.policy_rows(session, policy, bases.Window.of(LQ), shanghai_today(), ids)}
        session.rollback()  # nothing of this example stays
    spec = rules.PolicySpec.of(policy)
    for dealer_id, data in zip(ids, dealers):
        in_scope = (not p["dealer_tiers"] or data["tier"] in p["dealer_tiers"]) and (data["east"] or not p["east_only"])
        figures, counted = expected(p, data)
        want = rules.outcome(spec, figures)
        row = rows.get(dealer_id)
        if not in_scope:
            assert row is None
            continue
        if row is None:
            assert not counted and want.amount == D("0.00")
            continue
        assert (row.base, row.last_year, row.strategic) == (figures.base, figures.last_year, figures.strategic)
        assert row.tier == want.tier and row.amount == want.amount, (row, want)
        assert row.capped_by == want.capped_by and row.factor == want.factor
