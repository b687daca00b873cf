"""Demo stage: rebate policies (返利政策) written through the rebate operations, last
quarter's purchases, last quarter settled and closed, this quarter accrued.

acme runs five policies from the start of last quarter: a retroactive volume rebate for
tier-1 dealers on cardiovascular products (sell-out reported on time, or nothing), an
incremental one for agents on cardiovascular and structural heart (reduced by half when
sell-out is late, capped at 3 % of purchases), a growth rebate on IVD against the same
quarter a year earlier, a collection-speed rebate (paid within 30 days of the invoice)
and a product-mix rebate on the strategic products (药物涂层球囊, TAVR; only with valid
qualifications). A draft of the tier-1 policy's next version waits to be simulated.

The history the settlement runs on — last quarter's and the year-earlier quarter's
orders — is the kind of record a manufacturer brings over from its previous system
(历史订单): closed orders with their lines, dated when they were placed, written as rows
rather than replayed through today's order gates and stock. This quarter's figures are
the demo's live orders (the order stage). globex has one policy, accrued.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import ProductLine, Sku
from app.channel.models import Dealer
from app.core.i18n import SHANGHAI, shanghai_today
from app.identity.models import User
from app.orders.models import Order, OrderLine
from app.rebates import accrual, policies, rules, settlement

#: last quarter's purchases: dealer → [(SKU, quantity, unit price)]
LAST_QUARTER = {
    "D-SH-002": [("CV-DES-3018", 90, "9800.00"), ("CV-PTCA-2520", 120, "1850.00"), ("CV-NC-3012", 60, "2300.00")],
    "D-JS-001": [("CV-DES-2523", 55, "9800.00"), ("CV-GW-0141", 80, "620.00"), ("CV-DCB-3020", 20, "6500.00")],
    "D-ZJ-001": [("CV-DES-3028", 38, "9800.00"), ("CV-GC-6JL4", 60, "450.00")],
    "D-GD-002": [("CV-DES-3018", 52, "9800.00"), ("CV-PTCA-2015", 40, "1850.00")],
    "D-BJ-002": [("CV-DES-2518", 18, "9800.00"), ("CV-SH-6F", 50, "380.00")],
    "D-TJ-001": [("CV-DES-3533", 32, "9800.00"), ("CV-INF-30", 12, "2600.00")],
    "D-SH-001": [("CV-DES-3018", 80, "9300.00"), ("CV-DCB-3020", 60, "6200.00"), ("SH-TAVR-26", 2, "128000.00"),
                 ("CV-PTCA-2520", 100, "1750.00")],
    "D-GD-001": [("CV-DES-3028", 70, "9300.00"), ("SH-LAAO-27", 4, "46000.00")],
    "D-SC-001": [("CV-DES-2523", 40, "9300.00"), ("CV-DCB-3020", 15, "6200.00")],
    "D-SD-001": [("IVD-HSTNI-100", 160, "1650.00"), ("IVD-NTPRO-100", 90, "1900.00")],
    "D-HB-001": [("IVD-HSTNI-100", 110, "1650.00"), ("IVD-DD-100", 60, "780.00")],
    "D-FJ-001": [("IVD-CKMB-100", 80, "980.00")],
}
#: the same quarter a year earlier (what growth compares with)
YEAR_EARLIER = {
    "D-SD-001": [("IVD-HSTNI-100", 140, "1650.00"), ("IVD-NTPRO-100", 70, "1900.00")],
    "D-HB-001": [("IVD-HSTNI-100", 118, "1650.00"), ("IVD-DD-100", 50, "780.00")],
}
GLOBEX_LAST_QUARTER = {"G-GD-001": [("GX-TSH-100", 120, "1200.00")], "G-SH-001": [("GX-PCT-50", 60, "1500.00")]}


def _at(day: date) -> datetime:
    return datetime.combine(day, time(10, 30), tzinfo=SHANGHAI).astimezone(timezone.utc)


def _history(session: Session, purchases: dict, day: date) -> int:
    """Closed orders placed on ``day``, as brought over from the previous system."""
    from app.core.numbering import assign_number

    skus = {s.code: s for s in session.scalars(select(Sku))}
    dealers = {d.code: d for d in session.scalars(select(Dealer).where(Dealer.code.in_(list(purchases))))}
    n = 0
    for k, (code, lines) in enumerate(sorted(purchases.items())):
        if code not in dealers:
            continue
        order = Order(dealer_id=dealers[code].id, status="closed", submitted_at=_at(day + timedelta(days=k % 20)),
                      note="历史订单（上线前系统导入）")
        assign_number(session, order, "SO")
        order.number = f"SO-{day + timedelta(days=k % 20):%Y%m%d}-{order.id:06d}"
        total = Decimal("0")
        for no, (sku_code, quantity, price) in enumerate(lines, 1):
            sku = skus[sku_code]
            amount = Decimal(price) * quantity
            order.lines.append(OrderLine(line_no=no, sku_id=sku.id, quantity=quantity, unit_price=Decimal(price),
                                         amount=amount, tax_rate=sku.tax_rate, shipped_quantity=quantity,
                                         delivered_quantity=quantity, price_note="历史订单"))
            total += amount
        order.total_amount = total
        session.add(order)
        n += 1
    session.flush()
    return n


def _publish(session: Session, user, **values) -> int:
    draft = policies.save_draft(session, values)
    return policies.publish(session, draft, user).id


def seed_rebates(session: Session, slug: str) -> str:
    today = shanghai_today()
    this_quarter = rules.period_key("quarter", today)
    last = rules.shift_key(this_quarter, -1)
    start = rules.parse_period(last)[1]
    lines = {p.code: p.id for p in session.scalars(select(ProductLine))}
    channel = session.scalar(select(User).where(User.email == f"channel@{slug}.test"))
    finance = session.scalar(select(User).where(User.email == f"finance@{slug}.test"))
    if slug != "acme":
        _publish(session, channel, code="GX-IVD-Q", name="经销商季度采购返利（IVD/POCT）", period="quarter", kind="volume",
                 basis="purchase", method="retroactive", valid_from=start, priority=10, expires_after_days=365,
                 tiers=[{"from": "100000", "rate": "1"}, {"from": "300000", "rate": "2"}],
                 product_line_ids=[lines[c] for c in ("IVD", "POCT") if c in lines])
        _history(session, GLOBEX_LAST_QUARTER, start + timedelta(days=12))
        settlement.settle_now(session, last, finance, today)
        accrual.accrue(session, today)
        return f"1 rebate policy, {last} settled, {this_quarter} accrued"

    strategic = [s.id for s in session.scalars(select(Sku).where(
        Sku.code.in_(("CV-DCB-3020", "SH-TAVR-23", "SH-TAVR-26", "SH-TAVR-29"))).order_by(Sku.code))]
    common = dict(period="quarter", basis="purchase", valid_from=start, expires_after_days=365)
    t1 = _publish(session, channel, code="ACME-T1-CV", name="一级经销商心血管季度采购返利", kind="volume",
                  method="retroactive", dealer_tiers=["tier1"], product_line_ids=[lines["CV"]], priority=10,
                  tiers=[{"from": "300000", "rate": "2"}, {"from": "600000", "rate": "3"}, {"from": "1200000", "rate": "4"}],
                  conditions={"sell_out_on_time": {"effect": "gate"}},
                  description="季度内心血管产品采购额达到门槛，按达到档位的返利率对全部采购额返利（全额累进）。流向须按时上报。",
                  **common)
    _publish(session, channel, code="ACME-AGENT", name="代理商分段累进返利", kind="volume", method="incremental",
             dealer_tiers=["agent"], product_line_ids=[lines["CV"], lines["SH"]], priority=10, cap_rate="3",
             tiers=[{"from": "1000000", "rate": "1.5"}, {"from": "3000000", "rate": "2.5"}, {"from": "8000000", "rate": "3.5"}],
             conditions={"sell_out_on_time": {"effect": "reduce", "rate": "0.5"}},
             description="代理商心血管及结构性心脏病产品采购额分段计算返利；流向逾期上报的季度按 50% 发放；封顶为采购额的 3%。",
             **common)
    _publish(session, channel, code="ACME-IVD-GROWTH", name="IVD 同比增长返利", kind="growth", method="retroactive",
             product_line_ids=[lines["IVD"]], priority=20,
             tiers=[{"from": "10", "rate": "1"}, {"from": "20", "rate": "2"}],
             description="IVD 采购额较去年同期增长 10% 返 1%，增长 20% 返 2%（按本季采购额）。去年同期无采购的经销商不适用。",
             **common)
    _publish(session, channel, code="ACME-COLLECT", name="回款及时返利", kind="collection", method="retroactive",
             paid_within_days=30, priority=30, tiers=[{"from": "200000", "rate": "0.5"}, {"from": "500000", "rate": "1"}],
             description="开票后 30 天内回款的金额达到门槛即返利。", **common)
    _publish(session, channel, code="ACME-MIX", name="战略产品结构返利", kind="mix", method="retroactive",
             strategic_sku_ids=strategic, product_line_ids=[lines["CV"], lines["SH"]], priority=40,
             tiers=[{"from": "10", "rate": "1"}, {"from": "20", "rate": "1.5"}],
             conditions={"qualifications_valid": {"effect": "gate"}},
             description="药物涂层球囊和 TAVR 瓣膜占心血管及结构性心脏病采购额的比例达到 10% 返 1%，达到 20% 返 1.5%。须无过期资质。",
             **common)
    orders = _history(session, LAST_QUARTER, start + timedelta(days=8))
    orders += _history(session, YEAR_EARLIER, rules.parse_period(rules.last_year_key(last))[1] + timedelta(days=8))
    run = settlement.settle_now(session, last, finance, today)
    settlement.close_period(session, last, finance, today)
    summary = accrual.accrue(session, today)
    # the next version of the tier-1 policy, to simulate: a lower middle tier, a higher top rate
    draft = policies.revise(session, session.get(policies.RebatePolicy, t1))
    values = dict(policies.form_values(draft), tiers=[{"from": "300000", "rate": "2"}, {"from": "500000", "rate": "3"},
                                                      {"from": "1000000", "rate": "4.5"}])
    policies.save_draft(session, values, draft)
    return (f"5 rebate policies and a draft, {orders} history orders, {last} settled ({run.settled_entries} lines, "
            f"¥{run.total_amount:,}) and closed, {this_quarter} accrued (¥{summary.estimate:,})")
