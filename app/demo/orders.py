"""Demo stage 4: the order-to-delivery loop, written through the real operations (gates,
FEFO allocation, shipments, signatures, returns, sell-out, transfers, consignment), so
every portal opens on a believable picture:

- 华东医疗器械 (dealer1) has an order delivered straight to 中山医院 (signed by hospital1,
  one box damaged → a return waiting for approval), an order in transit to its own
  warehouse, an order allocated and waiting to ship, a back-ordered one, and a large one
  over its credit limit waiting for the channel manager; it has reported part of the
  delivered goods as sold (流向) and registered a project at 瑞金医院.
- 广州百仕达 (dealer2) has a delivered order, partly sold on.
- A transfer 苏州总仓 → 广州区域仓 is in transit; hospital1 has reported a surgery from
  the consignment stock at its cath lab, waiting for confirmation.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.inventory.models import Warehouse
from app.orders.models import Allocation, Order, OrderLine, ShipmentLine


def _user(session: Session, email: str) -> User:
    return session.scalar(select(User).where(User.email == email))


def _by_code(session: Session, model, code: str):
    return session.scalar(select(model).where(model.code == code))


def _ship_all(session: Session, order: Order, actor: User, carrier: str, tracking: str, days: int, direct: bool = False):
    """Pack and ship every allocated unit of the order, one shipment per warehouse."""
    from app.orders.fulfilment import create_shipment, ship_shipment

    by_warehouse: dict[int, dict[int, int]] = {}
    allocations = session.scalars(select(Allocation).where(
        Allocation.status == "allocated", Allocation.order_line_id.in_([line.id for line in order.lines]))
        .order_by(Allocation.id))
    for allocation in allocations:
        by_warehouse.setdefault(allocation.warehouse_id, {})[allocation.id] = allocation.quantity
    shipments = []
    for n, (warehouse_id, quantities) in enumerate(sorted(by_warehouse.items())):
        shipment = create_shipment(session, order, warehouse_id, quantities, actor=actor, carrier=carrier,
                                   tracking_no=f"{tracking}{n}", eta=shanghai_today() + timedelta(days=days),
                                   ship_direct=direct)
        shipments.append(ship_shipment(session, shipment, actor=actor))
    return shipments


def seed_orders(session: Session, slug: str) -> str:
    if slug != "acme":
        return _seed_small(session, slug)
    from app.inventory.sellout import record_sell_out
    from app.inventory.transfers import request_transfer, ship_transfer
    from app.orders.fulfilment import confirm_delivery
    from app.orders.operations import credit_position, place_order
    from app.pricing.queries import resolve_price
    from app.orders.projects import register_project
    from app.orders.quotes import request_quote
    from app.orders.surgery import report_surgery

    today = shanghai_today()
    dealer1, dealer2 = _by_code(session, Dealer, "D-SH-001"), _by_code(session, Dealer, "D-GD-001")
    zhongshan, ruijin = _by_code(session, Hospital, "H-SH-001"), _by_code(session, Hospital, "H-SH-002")
    owner1, owner2 = _user(session, f"dealer1@{slug}.test"), _user(session, f"dealer2@{slug}.test")
    channel, hospital1 = _user(session, f"channel@{slug}.test"), _user(session, f"hospital1@{slug}.test")
    sku = {s.code: s for s in session.scalars(select(Sku))}

    def line(code: str, quantity: int) -> dict:
        return {"sku_id": sku[code].id, "quantity": quantity}

    # 1. delivered straight to 中山医院, signed by the hospital; one damaged box opens a return
    delivered = place_order(session, dealer1, owner1, [line("CV-DES-3018", 10), line("CV-PTCA-2520", 8), line("CV-NC-3012", 20)],
                            hospital_id=zhongshan.id, idempotency_key=f"demo-{slug}-1", note="导管室月度备货")
    shipment = _ship_all(session, delivered, channel, "顺丰速运", "SF14402588", 1, direct=True)[0]
    damaged = next(sl for sl in shipment.lines if sl.sku_id == sku["CV-PTCA-2520"].id)
    confirm_delivery(session, shipment, hospital1, "张医工",
                     {damaged.id: {"received": damaged.quantity, "discrepancy": "damaged", "affected": 1,
                                   "note": "外包装破损，无菌屏障受损"}}, note="冷链温度记录正常")
    # the dealer reports most of it as sold to the hospital (流向)
    for sl in session.scalars(select(ShipmentLine).where(ShipmentLine.shipment_id == shipment.id)):
        record_sell_out(session, dealer1, owner1, {
            "sold_on": today, "hospital_id": zhongshan.id, "sku_id": sl.sku_id, "lot_id": sl.lot_id,
            "quantity": max(1, sl.quantity // 2), "unit_price": _resale(session, sl), "invoice_no": f"31002611{sl.id:04d}"})

    # 2. in transit to the dealer's own warehouse (for 中山医院), 3. allocated, waiting to ship
    in_transit = place_order(session, dealer1, owner1, [line("CV-DES-2518", 6), line("CV-PTCA-2015", 5)],
                             hospital_id=zhongshan.id, idempotency_key=f"demo-{slug}-2")
    _ship_all(session, in_transit, channel, "京东物流", "JDVA0391", 2)
    place_order(session, dealer1, owner1, [line("CV-SH-6F", 30), line("CV-GC-6JL4", 15)], idempotency_key=f"demo-{slug}-3",
                requested_delivery_on=today + timedelta(days=5))
    # 4. more than the serving warehouses hold: the rest is back-ordered
    dcb = sku["CV-DCB-3020"]
    place_order(session, dealer1, owner1, [line("CV-DCB-3020", _available_units(session, dealer1, dcb) + 20)],
                hospital_id=zhongshan.id, idempotency_key=f"demo-{slug}-4", note="集采执行量，部分待到货")
    # 5. more than the credit left: waits for the channel manager's approval
    price = resolve_price(session, dealer1.id, None, sku["CV-DES-3533"].id, today).price
    headroom = dealer1.credit_limit - credit_position(session, dealer1.id).open_amount
    place_order(session, dealer1, owner1, [line("CV-DES-3533", int(headroom / price) + 10)],
                idempotency_key=f"demo-{slug}-5", note="年度框架协议首批备货")

    # dealer2: a delivered order to its warehouse, partly sold on
    order2 = place_order(session, dealer2, owner2, [line("CV-DES-3028", 12), line("CV-PTCA-2015", 10)],
                         idempotency_key=f"demo-{slug}-6")
    for shipment2 in _ship_all(session, order2, channel, "顺丰速运", "SF14402601", 2):
        confirm_delivery(session, shipment2, owner2, "黄俊", {})
        guangzhou = session.scalar(select(Hospital).where(Hospital.code == "H-GD-001"))
        first = shipment2.lines[0]
        record_sell_out(session, dealer2, owner2, {
            "sold_on": today, "hospital_id": guangzhou.id, "sku_id": first.sku_id, "lot_id": first.lot_id,
            "quantity": min(4, first.quantity), "unit_price": _resale(session, first), "invoice_no": f"44002611{first.id:04d}"})

    # a project registration and a quote request by dealer1
    register_project(session, dealer1, owner1, {
        "hospital_id": ruijin.id, "department": (ruijin.departments or ["心内科"])[0], "expected_on": today + timedelta(days=45),
        "valid_until": today + timedelta(days=180), "note": "新院区导管室开业，预计首年PCI手术约1200台",
        "lines": [{"sku_id": sku["CV-DES-3018"].id, "expected_quantity": 600},
                  {"sku_id": sku["CV-DCB-3020"].id, "expected_quantity": 150}]}, today=today)
    request_quote(session, dealer1, owner1, [line("CV-DES-2523", 50), line("CV-INF-30", 4)], hospital_id=ruijin.id,
                  note="瑞金医院新院区开业备货，请报价")

    # a transfer in transit and a surgery report waiting for confirmation
    central, guangzhou_wh = _by_code(session, Warehouse, "WH-SZ"), _by_code(session, Warehouse, "WH-GZ")
    transfer = request_transfer(session, channel, {
        "from_warehouse_id": central.id, "to_warehouse_id": guangzhou_wh.id, "reason": "华南区域仓安全库存不足",
        "lines": [{"sku_id": sku["CV-DES-3018"].id, "quantity": 40}, {"sku_id": sku["CV-PTCA-2520"].id, "quantity": 30}]})
    if transfer.status == "approved":
        ship_transfer(session, transfer, channel, {"carrier": "顺丰冷运", "tracking_no": "SF5210338871",
                                                   "eta": (today + timedelta(days=2)).isoformat()})
    cath_lab = _by_code(session, Warehouse, "CS-H-SH-001")
    lot_id = next((b.lot_id for b in _available(session, cath_lab.id)), None)
    if lot_id is not None:
        report_surgery(session, hospital1, {
            "warehouse_id": cath_lab.id, "department": "心内科导管室", "surgery_on": today.isoformat(),
            "surgeon": "葛医生", "case_ref": f"PCI-{today:%Y%m%d}-07", "lines": [{"lot_id": lot_id, "quantity": 1}]})
    session.flush()
    orders = session.scalar(select(Order.id).order_by(Order.id.desc()).limit(1))
    return f"seeded the order-to-delivery loop (orders up to id {orders})"


def _resale(session: Session, shipment_line: ShipmentLine) -> Decimal:
    """The dealer's price to the hospital: its purchase price plus an 8 % margin."""
    bought = session.get(OrderLine, shipment_line.order_line_id).unit_price
    return (bought * Decimal("1.08")).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _available_units(session: Session, dealer: Dealer, sku: Sku) -> int:
    from sqlalchemy import func

    from app.inventory.models import StockBalance
    from app.inventory.operations import serving_warehouse_ids

    return session.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
        StockBalance.sku_id == sku.id, StockBalance.state == "available",
        StockBalance.warehouse_id.in_(serving_warehouse_ids(session, dealer.id)))) or 0


def _available(session: Session, warehouse_id: int):
    from app.inventory.models import StockBalance

    return session.scalars(select(StockBalance).where(StockBalance.warehouse_id == warehouse_id,
                                                      StockBalance.state == "available", StockBalance.quantity > 0)
                           .order_by(StockBalance.lot_id))


def _seed_small(session: Session, slug: str) -> str:
    """globex: one delivered order, so its portals are not empty."""
    from app.orders.fulfilment import confirm_delivery
    from app.orders.operations import OrderRefused, place_order

    dealer = session.scalar(select(Dealer).join(User, User.dealer_id == Dealer.id).where(User.email == f"dealer1@{slug}.test"))
    owner, channel = _user(session, f"dealer1@{slug}.test"), _user(session, f"admin@{slug}.test")
    skus = list(session.scalars(select(Sku).where(Sku.status == "active", Sku.tracking == "lot").order_by(Sku.code).limit(2)))
    try:
        order = place_order(session, dealer, owner, [{"sku_id": s.id, "quantity": 5} for s in skus],
                            idempotency_key=f"demo-{slug}-1")
    except OrderRefused as refused:
        return "no demo order: " + "; ".join(p[2] for p in refused.problems)
    for shipment in _ship_all(session, order, channel, "顺丰速运", "SF20990011", 2):
        confirm_delivery(session, shipment, owner, owner.name, {})
    return "seeded one delivered order"
