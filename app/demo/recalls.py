"""Demo stage: recalls (召回) of the dry fluorescence immunoassay analyser (干式荧光免疫分析仪
MC-F100), on production batches of their own so no other demo figure moves:

* 2507 — a 三级 recall four months ago, closed at 100 % (one unit, returned);
* 2509 — a 二级 recall activated nine days ago: eight analysers went to 协和, 安贞,
  中山 (hospital1), 中山大学附属第一医院 (through dealer2), 江苏省人民医院 and a Jiangsu dealer's
  stock; one is still in the central warehouse (quarantined at activation). Some notices
  are reported, one acknowledged, the rest wait — hospital1 can acknowledge its own;
* a draft 一级 recall of one chemiluminescence analyser (MC-CL2000) under investigation.

The units' history is written as the ledger, shipments and sell-out reports would have
recorded it (dated in the past), then the campaigns go through the real operations.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.core.i18n import SHANGHAI
from app.core.numbering import assign_number
from app.inventory.models import Lot, SellOutLine, StockMovement, Warehouse
from app.inventory.operations import lot_for
from app.orders.models import Order, OrderLine, Shipment, ShipmentLine
from app.service import recall_queries as q
from app.service import recalls as ops


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI).astimezone(timezone.utc)


def _move(session: Session, kind: str, warehouse: Warehouse, lot: Lot, from_state, to_state, day: date,
          reason: str | None = None, ref=None) -> None:
    """One ledger row dated ``day`` (the ledger is append-only: the date is set on insert)."""
    session.add(StockMovement(kind=kind, warehouse_id=warehouse.id, lot_id=lot.id, sku_id=lot.sku_id,
                              from_state=from_state, to_state=to_state, quantity=1, reason=reason,
                              ref_type=ref[0] if ref else None, ref_id=ref[1] if ref else None, occurred_at=_at(day)))
    session.flush()


def _receive(session: Session, warehouse: Warehouse, lot: Lot, day: date) -> None:
    _move(session, "receipt", warehouse, lot, None, "inspection", day, "生产入库")
    _move(session, "qc_release", warehouse, lot, "inspection", "available", day + timedelta(days=1), "出厂检验合格")


def _deliver(session: Session, warehouse: Warehouse, dealer: Dealer, lot: Lot, day: date, price: Decimal,
             hospital: Hospital | None = None, status: str = "delivered") -> Shipment:
    """One analyser shipped from ``warehouse`` on ``day`` on the dealer's order: to the dealer,
    or straight to the hospital (装机现场) when one is named."""
    order = Order(dealer_id=dealer.id, hospital_id=hospital.id if hospital else None, status=status,
                  submitted_at=_at(day - timedelta(days=5)), note="设备采购")
    assign_number(session, order, "SO", day - timedelta(days=5))
    order.lines.append(OrderLine(line_no=1, sku_id=lot.sku_id, quantity=1, unit_price=price, amount=price,
                                 tax_rate=Decimal("0.13"), shipped_quantity=1,
                                 delivered_quantity=1 if status == "delivered" else 0))
    session.add(order)
    session.flush()
    _move(session, "shipment", warehouse, lot, "available", None, day, None, ("orders", order.id))
    shipment = Shipment(order_id=order.id, dealer_id=dealer.id, hospital_id=hospital.id if hospital else None,
                        ship_to="hospital" if hospital else "dealer", warehouse_id=warehouse.id, status=status,
                        carrier="顺丰速运", shipped_at=_at(day, 15),
                        delivered_at=_at(day + timedelta(days=2), 11) if status == "delivered" else None,
                        signed_by_name="设备科" if status == "delivered" else None)
    assign_number(session, shipment, "SH", day)
    shipment.lines.append(ShipmentLine(order_line_id=order.lines[0].id, sku_id=lot.sku_id, lot_id=lot.id, quantity=1,
                                       received_quantity=1 if status == "delivered" else None))
    session.add(shipment)
    session.flush()
    return shipment


def _sold(session: Session, dealer: Dealer, hospital: Hospital, lot: Lot, day: date, price: Decimal) -> None:
    session.add(SellOutLine(dealer_id=dealer.id, hospital_id=hospital.id, sku_id=lot.sku_id, lot_id=lot.id, quantity=1,
                            sold_on=day, unit_price=price, invoice_no=f"0441{lot.serial_no[-4:]}"))
    session.flush()


def _first(session: Session, model, code: str):
    return session.scalar(select(model).where(model.code == code))


def seed_recalls(session: Session, slug: str) -> str:
    from app.demo.seed import AUTHORED_ON, demo_day

    today = demo_day(AUTHORED_ON)
    analyser = _first(session, Sku, "IVD-POCT-01")
    central = session.scalar(select(Warehouse).where(Warehouse.kind == "central").order_by(Warehouse.id))
    if analyser is None or central is None:
        return "recalls: skipped (no MC-F100 analyser or central warehouse)"
    dealers = {c: _first(session, Dealer, c) for c in ("D-BJ-001", "D-SH-001", "D-GD-001", "D-JS-001", "D-ZJ-001")}
    hospitals = {c: _first(session, Hospital, c) for c in ("H-BJ-001", "H-BJ-002", "H-SH-001", "H-GD-001",
                                                           "H-JS-001", "H-ZJ-001")}
    if not all(dealers.values()) or not all(hospitals.values()):
        return "recalls: skipped (the demo dealers and hospitals are not there)"
    price, hospital_price = Decimal("35000.00"), Decimal("42800.00")
    made = today - timedelta(days=420)

    def unit(batch: str, n: int) -> Lot:
        return lot_for(session, analyser, batch, f"SN{batch}{n:03d}", made, None)

    # --- batch 2507: one unit, recalled (三级) four months ago and closed ---------------------
    old = unit("2507", 3)
    _receive(session, central, old, today - timedelta(days=300))
    _deliver(session, central, dealers["D-ZJ-001"], old, today - timedelta(days=280), price, hospitals["H-ZJ-001"])
    _sold(session, dealers["D-ZJ-001"], hospitals["H-ZJ-001"], old, today - timedelta(days=278), hospital_price)
    closed = ops.create_campaign(session, None, {
        "title": "MC-F100 说明书温度范围勘误", "classification": 3,
        "reason": "随机说明书第 4.2 节工作环境温度误印为 5–40 ℃，应为 10–30 ℃；不影响检测结果。",
        "actions_required": "核对并替换随机说明书；如已在 30 ℃ 以上环境使用，请联系售后复核质控记录。",
        "lines": [{"sku_id": analyser.id, "kind": "lot", "lot_no": "2507"}]})
    ops.activate_campaign(session, closed, None)
    for notice in q.notices(session, closed.id):
        ops.report(session, notice, None, {"on_hand": 0, "returned": 1, "used": 0, "note": "已换发新版说明书，旧版退回"})
    ops.close_campaign(session, closed, None, "全部说明书已更换")
    closed.activated_at = _at(today - timedelta(days=125))
    closed.closed_at = _at(today - timedelta(days=98))

    # --- batch 2509: eight units, a 二级 recall activated nine days ago ------------------------
    units = [unit("2509", n) for n in range(1, 9)]
    for i, u in enumerate(units):
        _receive(session, central, u, today - timedelta(days=200 - i))
    routes = [  # (unit, dealer, hospital straight from us or None, sold to, days ago)
        (0, "D-BJ-001", "H-BJ-001", "H-BJ-001", 170),   # 协和: delivered to the lab, reported
        (1, "D-BJ-001", "H-BJ-002", None, 160),         # 安贞 (hospital2): delivered, sale not reported yet
        (2, "D-SH-001", "H-SH-001", "H-SH-001", 150),   # 中山 (hospital1)
        (3, "D-GD-001", None, "H-GD-001", 140),         # dealer2 → 中山大学附属第一医院 from its stock
        (4, "D-JS-001", None, "H-JS-001", 130),         # 江苏恒康 → 江苏省人民医院
        (5, "D-JS-001", None, None, 120),               # still in 江苏恒康's stock
        (6, "D-BJ-001", None, None, 20),                # on its way to 北京康泰 when the recall came
    ]
    for index, dealer_code, direct, sold_to, days in routes:
        status = "shipped" if days < 30 else "delivered"
        _deliver(session, central, dealers[dealer_code], units[index], today - timedelta(days=days), price,
                 hospitals[direct] if direct else None, status=status)
        if sold_to:
            _sold(session, dealers[dealer_code], hospitals[sold_to], units[index], today - timedelta(days=days - 3),
                  hospital_price)
    active = ops.create_campaign(session, None, {
        "title": "MC-F100 光路模块自检偶发误报", "classification": 2,
        "reason": "批次 2509 的部分分析仪光路模块在低温开机时自检偶发误报“光强不足”，可能导致检测延迟；"
                  "未发现错误检测结果。",
        "actions_required": "暂停在 15 ℃ 以下环境开机使用；清点本单位持有的该批次设备并在系统中上报；"
                            "售后工程师将上门更换光路模块（约 2 小时），在库设备请隔离待返厂。",
        "lines": [{"sku_id": analyser.id, "kind": "lot", "lot_no": "2509"}]})
    ops.activate_campaign(session, active, None)
    active.activated_at = _at(today - timedelta(days=9))
    by_party = {(n.dealer or n.hospital).code: n for n in q.notices(session, active.id)}
    answers = {"H-BJ-001": {"used": 1, "note": "仪器在检验科使用中，已停用待更换模块"},
               "H-JS-001": {"on_hand": 1, "note": "已隔离"},
               "D-JS-001": {"on_hand": 1, "note": "库存 1 台已隔离，待返厂"}}
    for code, values in answers.items():
        if code in by_party:
            ops.report(session, by_party[code], None, values)
    for code in ("H-GD-001", "D-BJ-001"):
        if code in by_party:
            ops.acknowledge(session, by_party[code], None)

    # --- a draft 一级 recall under investigation --------------------------------------------------
    clia = _first(session, Sku, "IVD-CLIA-01")
    if clia is not None:
        serial = session.scalar(select(Lot.serial_no).where(Lot.sku_id == clia.id, Lot.serial_no.is_not(None))
                                .order_by(Lot.serial_no.desc()))
        if serial:
            ops.create_campaign(session, None, {
                "title": "MC-CL2000 加样针液位探测异常（调查中）", "classification": 1,
                "reason": "一台分析仪现场报告加样针液位探测失效，可能导致样本量不足而结果偏低；根本原因调查中。",
                "actions_required": "立即停用该序列号设备，改用备用仪器检测；保留样本与运行日志，等待售后联系。",
                "lines": [{"sku_id": clia.id, "kind": "serial", "serial_no": serial}]})
    session.flush()
    return "seeded 3 recall campaigns (closed, active with notices, draft)"
