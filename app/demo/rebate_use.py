"""Demo stage: rebate use (返利使用) written through the real operations, after the rebate
engine's stage — it adds only what that stage does not:

- the approval chains of rebate claims and price protection;
- 华东医疗器械 (dealer1) holds the balance the engine's stage settled for last quarter,
  and an older claim credit it let expire unused;
- dealer1 places an order paying ¥30,000 of it as an invoice offset (票折), and another
  with a free-goods line (货补);
- a market-activity claim approved for less than was claimed, and one in review;
- after the 冠脉支架 volume-procurement award the stent CV-DES-3028 is cut in price: dealer1
  receives and partly sells a delivery of it first, then finance starts a price
  protection that waits for the channel manager.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.compliance import approvals
from app.compliance.models import ApprovalRequest
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.rebates import ledger

CHAINS = {
    "rebate_claim": [
        ("渠道经理审核", "channel_manager", False, None, None, None, 48),
        ("财务审核（金额超过 5 万元）", "finance", False, "amount", "gt", "50000", 48),
    ],
    "price_protection": [
        ("渠道经理审核", "channel_manager", False, None, None, None, 48),
        ("财务审核（金额超过 20 万元）", "finance", False, "amount", "gt", "200000", 48),
    ],
}

#: a tiny one-page PDF: the demo's evidence scans (the content check reads the magic bytes)
EVIDENCE_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
                b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
EVIDENCE_PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
                b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def _user(session: Session, email: str) -> User:
    return session.scalar(select(User).where(User.email == email))


def _by_code(session: Session, model, code: str):
    return session.scalar(select(model).where(model.code == code))


def quarter_key(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def seed_chains(session: Session) -> None:
    step = approvals.StepSpec
    for kind, steps in CHAINS.items():
        if approvals.chain_steps(session, kind):
            continue
        for name, role, same_region, field, op, value, sla in steps:
            approvals.add_step(session, kind, step(name, role, same_region, field, op,
                                                   None if value is None else Decimal(value), sla))


def _expired_claim_credit(session: Session, dealer: Dealer, today: date) -> None:
    """An earlier promotion's claim credit left unused past its last day: the daily
    expiry writes it off, so the ledger shows an ``expired`` row too."""
    ledger.add_credit(session, dealer.id, "claim", Decimal("6000.00"), today - timedelta(days=400),
                      expires_on=today - timedelta(days=35),
                      note="2025 年华东区冠脉介入年会展位补贴（未在有效期内使用）")
    ledger.expire_due(session, today)


def seed_rebate_use(session: Session, slug: str) -> str:
    seed_chains(session)
    if slug != "acme":
        return "approval chains of rebate claims and price protection in place"
    from app.demo.orders import _ship_all
    from app.inventory.sellout import record_sell_out
    from app.orders.fulfilment import confirm_delivery
    from app.orders.operations import place_order
    from app.pricing.queries import resolve_price
    from app.rebates import claims, protection

    today = shanghai_today()
    dealers = {c: _by_code(session, Dealer, c) for c in ("D-SH-001", "D-GD-001")}
    dealer1 = dealers["D-SH-001"]
    owner1, channel = _user(session, f"dealer1@{slug}.test"), _user(session, f"channel@{slug}.test")
    finance = _user(session, f"finance@{slug}.test")
    zhongshan = _by_code(session, Hospital, "H-SH-001")
    sku = {s.code: s for s in session.scalars(select(Sku))}
    _expired_claim_credit(session, dealer1, today)

    def line(code: str, quantity: int, free: bool = False) -> dict:
        return {"sku_id": sku[code].id, "quantity": quantity, **({"free_goods": True} if free else {})}

    # 票折: ¥30,000 of the balance on an order of about ¥120,000 (within the 30 % cap)
    usable = ledger.usable(session, dealer1.id, "offset", today)
    paid = [("CV-NC-3012", 40), ("CV-PTCA-2520", 30)]
    cap = ledger.rules.max_offset(_order_value(session, dealer1, sku, paid, today), ledger.offset_cap_pct(session))
    offset_order = place_order(session, dealer1, owner1, [line(code, n) for code, n in paid],
                               idempotency_key=f"demo-{slug}-rebate-1", note="季度备货，使用返利票折",
                               rebate_offset=min(Decimal("30000.00"), usable, cap))
    # 货补: two pressure pumps as free goods with a paid order
    place_order(session, dealer1, owner1, [line("CV-NC-3012", 10), line("CV-INF-30", 2, free=True)],
                hospital_id=zhongshan.id, idempotency_key=f"demo-{slug}-rebate-2", note="返利货补：球囊扩张压力泵")

    # claims: one approved for less than claimed, one in review
    approved = claims.submit_claim(session, dealer1, owner1, {
        "program": "2026 年华东区冠脉介入学术推广会", "activity_on": (today - timedelta(days=21)).isoformat(),
        "amount": "28000.00", "description": "在复旦大学附属中山医院举办区域PCI技术培训会，参会医生 46 人；附会议照片、签到表与场地发票。"},
        [("会议签到表.pdf", EVIDENCE_PDF), ("会场照片.png", EVIDENCE_PNG)], today=today)
    claims.set_approved_amount(session, approved, channel, "25000.00", "场地费发票金额低于申报，按实际发生额核定")
    request = session.get(ApprovalRequest, approved.approval_request_id)
    approvals.decide(session, request, channel, "approve", _password(), None, "活动资料齐全，按核定金额批准")
    claims.submit_claim(session, dealer1, owner1, {
        "program": "瑞金医院新院区开业推广活动", "activity_on": (today - timedelta(days=6)).isoformat(),
        "amount": "12800.00", "description": "新院区导管室开业学术沙龙及产品演示，附活动方案与现场照片。"},
        [("活动方案.pdf", EVIDENCE_PDF)], today=today)

    # price protection after the stent award: dealer1 first receives stents at the agent price and sells some
    stock_order = place_order(session, dealer1, owner1, [line("CV-DES-3028", 12)], idempotency_key=f"demo-{slug}-rebate-3",
                              note="支架备货（集采降价前）")
    for shipment in _ship_all(session, stock_order, channel, "顺丰速运", "SF14409901", 1):
        confirm_delivery(session, shipment, owner1, "陈志强", {})
        first = shipment.lines[0]
        record_sell_out(session, dealer1, owner1, {
            "sold_on": today, "hospital_id": zhongshan.id, "sku_id": first.sku_id, "lot_id": first.lot_id,
            "quantity": 3, "unit_price": first_price(session, first), "invoice_no": f"31002612{first.id:04d}"})
    old = resolve_price(session, dealer1.id, None, sku["CV-DES-3028"].id, today).price
    new = (old * Decimal("0.6")).quantize(Decimal("1"))
    protection.start_protection(session, finance, {
        "sku_id": sku["CV-DES-3028"].id, "old_price": str(old), "new_price": str(new),
        "effective_on": today.isoformat(),
        "reason": "国家组织冠脉支架集中带量采购（接续）中选，渠道价格自生效日起下调；对经销商在途未售库存按差价补偿。"})
    session.flush()
    return f"seeded rebate use: a 票折 on {offset_order.number}, a 货补 line, two claims and a price protection"


def _password() -> str:
    from app.demo.data import PASSWORD

    return PASSWORD


def _order_value(session: Session, dealer: Dealer, sku: dict, lines, day: date) -> Decimal:
    from app.pricing.queries import resolve_price

    return sum((resolve_price(session, dealer.id, None, sku[code].id, day).price * quantity for code, quantity in lines),
               Decimal(0))


def first_price(session: Session, shipment_line) -> Decimal:
    """The dealer's resale price to the hospital: its purchase price plus 8 %."""
    from app.orders.models import OrderLine

    bought = session.get(OrderLine, shipment_line.order_line_id).unit_price
    return (bought * Decimal("1.08")).quantize(Decimal("0.01"))
