"""Demo stages for special prices (特价申请) and two-invoice compliance (两票制), written
through the real operations:

- 华东医疗器械 (dealer1) asks for 2027 stent prices at 中山医院 with the tender documents
  (18 % below the band floor, over 500,000 CNY): waiting for the East regional manager
  (sales.east), then the channel manager and finance.
- 广州百仕达 (dealer2) asks for balloon prices at 中山大学附属第一医院: waiting for the
  South regional manager.
- dealer1's special prices for 瑞金医院's new cath lab were approved (signed by
  sales.east and finance) and an order for 瑞金医院 has used part of the stent cap.
- Two private hospitals (民营); dealer1 sold balloons from a delivered order to the
  Suzhou sub-dealer 苏州德尔, which sold them on to 苏州大学附属第一医院 (public): a
  two-invoice violation with its evidence chain.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.core.i18n import shanghai_today
from app.identity.models import User

#: the demo's private (民营) hospitals: the two-invoice rule does not apply to them
PRIVATE_HOSPITALS = ("武汉亚洲心脏病医院", "泰达国际心血管病医院")

#: (dealer user, hospital code, tender reference, reason, days valid, [(SKU, cap, price)], evidence file)
REQUESTS = {
    "acme": [
        ("dealer1", "H-SH-001", "SHZS-2027-GZ-0113 冠脉支架院内议价",
         "中山医院 2027 年度冠脉支架院内遴选，竞品报价 380 元/套，需特价参与议价以保住导管室份额。", 365,
         [("CV-DES-2518", 500, "375.00"), ("CV-DES-3018", 500, "375.00"), ("CV-DES-3028", 500, "375.00")],
         "中山医院2027年度冠脉支架遴选公告.pdf"),
        ("dealer2", "H-GD-001", "ZSYY-2026-QN-077 PTCA 球囊议价",
         "中山大学附属第一医院心内科球囊带量议价，需低于区域价格带下限约 8%。", 180,
         [("CV-PTCA-2015", 60, "1328.00"), ("CV-PTCA-2520", 60, "1328.00")], "中山一院球囊议价函.pdf"),
    ],
}
#: approved, and partly used by an order: (dealer user, hospital, tender, reason, days, lines, evidence, signers, order)
APPROVED = {
    "acme": ("dealer1", "H-SH-002", "RJ-XY-2026-018 新院区导管室首年采购",
             "瑞金医院新院区导管室开业，首年 PCI 约 1200 台，已完成项目报备；按中标价执行需特价支持。", 270,
             [("CV-DES-3018", 600, "430.00"), ("CV-DCB-3020", 150, "8300.00")], "瑞金医院新院区中标通知书.pdf",
             ("sales.east", "finance"), ("CV-DES-3018", 40)),
}


def _pdf(title: str) -> bytes:
    """A small, well-formed one-page PDF standing in for a scanned tender document."""
    text = title.encode("ascii", "replace")
    stream = b"BT /F1 14 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _user(session: Session, local: str, slug: str) -> User:
    return session.scalar(select(User).where(User.email == f"{local}@{slug}.test"))


def _submit(session: Session, slug: str, local, hospital_code, tender, why, days, lines, evidence):
    from app.pricing.special_prices import submit_price_request

    user = _user(session, local, slug)
    hospital = session.scalar(select(Hospital).where(Hospital.code == hospital_code))
    skus = {s.code: s.id for s in session.scalars(select(Sku))}
    today = shanghai_today()
    return submit_price_request(session, user.dealer, user, {
        "hospital_id": hospital.id, "valid_from": today, "valid_until": today + timedelta(days=days),
        "tender_ref": tender, "reason": why,
        "lines": [{"sku_id": skus[code], "quantity_cap": cap, "requested_price": Decimal(price)}
                  for code, cap, price in lines]},
        [(evidence, _pdf(f"{tender} - tender documents (demo)"))])


def seed_special_prices(session: Session, slug: str) -> str:
    """Requests in review, and an approved one an order has partly used."""
    from app.compliance import approvals
    from app.compliance.models import ApprovalRequest
    from app.demo.data import PASSWORD
    from app.orders.operations import place_order

    made = [_submit(session, slug, *spec) for spec in REQUESTS.get(slug, [])]
    spec = APPROVED.get(slug)
    if spec is not None:
        local, hospital_code, tender, why, days, lines, evidence, signers, (sku_code, quantity) = spec
        request = _submit(session, slug, local, hospital_code, tender, why, days, lines, evidence)
        approval = session.get(ApprovalRequest, request.approval_request_id)
        comments = {"sales.east": "已核实项目报备与中标通知，同意按特价执行。", "finance": "金额与毛利测算已复核，同意。"}
        for signer in signers:
            if approval.status != "in_review":
                break
            approvals.decide(session, approval, _user(session, signer, slug), "approve", PASSWORD,
                             comment=comments.get(signer))
        made.append(request)
        if request.status == "approved":
            owner = _user(session, local, slug)
            sku = session.scalar(select(Sku).where(Sku.code == sku_code))
            place_order(session, owner.dealer, owner, [{"sku_id": sku.id, "quantity": quantity}],
                        hospital_id=request.hospital_id, idempotency_key=f"demo-{slug}-special-price",
                        note="瑞金医院新院区导管室首批备货（特价）")
    session.flush()
    return f"seeded {len(made)} special-price requests"


def seed_two_invoice(session: Session, slug: str) -> str:
    """Private hospitals, and one sale through two dealers into a public hospital."""
    from app.inventory.models import SellOutLine
    from app.inventory.sellout import lot_position, record_sell_out

    for hospital in session.scalars(select(Hospital).where(Hospital.name.in_(PRIVATE_HOSPITALS))):
        hospital.ownership = "private"
    session.flush()
    if slug != "acme":
        return "marked the private hospitals"
    today = shanghai_today()
    agent = session.scalar(select(Dealer).where(Dealer.code == "D-SH-001"))
    sub_dealer = session.scalar(select(Dealer).where(Dealer.code == "D-JS-002"))
    suzhou = session.scalar(select(Hospital).where(Hospital.code == "H-JS-002"))
    sku = session.scalar(select(Sku).where(Sku.code == "CV-NC-3012"))
    # a lot of the balloons delivered to 中山医院 for dealer1 that it still holds
    lot_id = None
    for candidate in list(session.scalars(select(SellOutLine.lot_id).where(
            SellOutLine.dealer_id == agent.id, SellOutLine.sku_id == sku.id).distinct())):
        position = lot_position(session, agent.id, candidate)
        if position is not None and position.available >= 6:
            lot_id = candidate
            break
    if lot_id is None:
        return "marked the private hospitals (no stock for a two-invoice example)"
    owner = _user(session, "dealer1", slug)
    record_sell_out(session, agent, owner, {
        "sold_on": today, "buyer_dealer_id": sub_dealer.id, "sku_id": sku.id, "lot_id": lot_id, "quantity": 6,
        "unit_price": Decimal("1980.00"), "invoice_no": f"31002612{lot_id:04d}"})
    record_sell_out(session, sub_dealer, None, {
        "sold_on": today, "hospital_id": suzhou.id, "sku_id": sku.id, "lot_id": lot_id, "quantity": 4,
        "unit_price": Decimal("2150.00"), "invoice_no": f"32052612{lot_id:04d}"})
    return "marked the private hospitals and seeded a two-invoice violation"
