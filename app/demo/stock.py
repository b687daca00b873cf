"""Demo stage 3: warehouses, lots and stock, written through the ledger like real
receipts, so the balances, alerts and FEFO allocation have something real to show.

Expiry dates are relative to the day the demo is seeded, so there is always stock near
expiry, some slow movers and one SKU below its safety stock."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital, Region
from app.core.i18n import shanghai_today
from app.inventory.models import DealerWarehouse, StockThreshold, Warehouse
from app.inventory.operations import lot_for, move, receive

# (code, name, kind, region code, address)
WAREHOUSES = {
    "acme": [
        ("WH-SZ", "苏州总仓", "central", "JS-SZ", "江苏省苏州市工业园区星湖街218号生物医药产业园B3栋"),
        ("WH-BJ", "北京区域仓", "regional", "BJ", "北京市大兴区经济技术开发区科创十三街18号"),
        ("WH-SH", "上海区域仓", "regional", "SH", "上海市浦东新区张江路665号3号库"),
        ("WH-GZ", "广州区域仓", "regional", "GD", "广州市黄埔区科学城开源大道11号C2栋"),
        ("WH-WH", "武汉区域仓", "regional", "HB", "武汉市东湖新技术开发区高新大道666号"),
        ("WH-CD", "成都区域仓", "regional", "SC", "成都市高新区天府大道中段1388号"),
    ],
    "globex": [
        ("GWH-SZ", "深圳总仓", "central", "GD-SZ", "深圳市南山区科技园南区高新南七道"),
        ("GWH-SH", "上海区域仓", "regional", "SH", "上海市闵行区新骏环路588号"),
    ],
}
# top-level region → the regional warehouse serving dealers there (with the central one)
SERVING = {"acme": {"JJJ": "WH-BJ", "NE": "WH-BJ", "EAST": "WH-SH", "SOUTH": "WH-GZ", "CENTRAL": "WH-WH",
                    "SW": "WH-CD", "NW": "WH-CD"},
           "globex": {"EAST": "GWH-SH"}}
# consignment locations (寄售点): (code, name, hospital code or None, dealer code or None)
CONSIGNMENT = {
    "acme": [("CS-H-SH-001", "中山医院导管室寄售库", "H-SH-001", None),
             ("CS-D-SH-001", "华东医疗器械跟台库", None, "D-SH-001")],
    "globex": [],
}


def _regions_by_code(session: Session) -> dict[str, Region]:
    return {r.code: r for r in session.scalars(select(Region))}


def seed_stock(session: Session, slug: str) -> str:
    today = shanghai_today()
    regions = _regions_by_code(session)
    warehouses: dict[str, Warehouse] = {}
    for code, name, kind, region, address in WAREHOUSES[slug]:
        warehouses[code] = Warehouse(code=code, name=name, kind=kind, region_id=regions[region].id, address=address,
                                     contact_name="仓库主管", contact_phone="400-820-" + str(3000 + len(warehouses)))
        session.add(warehouses[code])
    for code, name, hospital_code, dealer_code in CONSIGNMENT[slug]:
        hospital = session.scalar(select(Hospital).where(Hospital.code == hospital_code)) if hospital_code else None
        dealer = session.scalar(select(Dealer).where(Dealer.code == dealer_code)) if dealer_code else None
        region_id = (hospital or dealer).region_id
        warehouses[code] = Warehouse(code=code, name=name, kind="consignment", region_id=region_id,
                                     hospital_id=hospital.id if hospital else None, dealer_id=dealer.id if dealer else None)
        session.add(warehouses[code])
    session.flush()

    central = next(w for w in warehouses.values() if w.kind == "central")
    top_of = {r.id: regions_by_path_top(r, regions) for r in regions.values()}
    for dealer in session.scalars(select(Dealer).where(Dealer.status == "active")):
        regional = SERVING[slug].get(top_of[dealer.region_id])
        for code in filter(None, (regional, central.code)):
            session.add(DealerWarehouse(dealer_id=dealer.id, warehouse_id=warehouses[code].id))
    session.flush()

    skus = list(session.scalars(select(Sku).where(Sku.status == "active").order_by(Sku.code)))
    receipts = 0
    for n, sku in enumerate(skus):
        for w_index, warehouse in enumerate(w for w in warehouses.values() if w.kind != "consignment"):
            if warehouse.kind == "regional" and (n + w_index) % 3 == 0:
                continue  # not every SKU in every regional warehouse
            receipts += _stock_sku(session, sku, warehouse, today, n, w_index)
    # consignment: a few stents and balloons at the hospital and with the dealer
    for code in (c[0] for c in CONSIGNMENT[slug]):
        for sku in [s for s in skus if s.code.startswith(("CV-DES", "CV-PTCA"))][:4]:
            lot = lot_for(session, sku, f"C{today:%y%m}{sku.id:03d}", None, today - timedelta(days=60),
                          today + timedelta(days=600))
            receive(session, warehouses[code], lot, 6, "寄售补货")
            move(session, "qc_release", warehouses[code].id, lot, 6, "inspection", "available", "到货验收合格")
            receipts += 1
    # safety stock: most SKUs in the central warehouse, and one regional SKU set high to raise an alert
    for sku in skus[:12]:
        session.add(StockThreshold(warehouse_id=central.id, sku_id=sku.id, safety_quantity=20))
    regional = next((w for w in warehouses.values() if w.kind == "regional"), None)
    if regional is not None and skus:
        session.add(StockThreshold(warehouse_id=regional.id, sku_id=skus[1].id, safety_quantity=500))
    session.flush()
    return f"seeded {len(warehouses)} warehouses and {receipts} receipts of stock"


def regions_by_path_top(region: Region, regions: dict[str, Region]) -> str:
    """The code of the area (华东, 华南 …) a region lies in: the level below the country."""
    ids = [int(i) for i in region.path.strip("/").split("/")]
    area_id = ids[1] if len(ids) > 1 else ids[0]
    return next(r.code for r in regions.values() if r.id == area_id)


def _stock_sku(session: Session, sku: Sku, warehouse: Warehouse, today, n: int, w_index: int) -> int:
    """Two or three lots per SKU and warehouse: one near expiry, one comfortable, and in
    the central warehouse one still in inspection. Serial SKUs get a few single units."""
    if sku.tracking == "serial":
        for unit in range(3 if warehouse.kind == "central" else 1):
            lot = lot_for(session, sku, f"{today:%y}{w_index:02d}", f"SN{sku.id:03d}{w_index:02d}{unit:02d}",
                          today - timedelta(days=90),
                          today + timedelta(days=30 * sku.shelf_life_months - 90) if sku.shelf_life_months else None)
            receive(session, warehouse, lot, 1, "生产入库")
            move(session, "qc_release", warehouse.id, lot, 1, "inspection", "available", "出厂检验合格")
        return 1
    life = timedelta(days=30 * (sku.shelf_life_months or 36))
    plans = [(-300, 40 + n % 7 * 5, "available"), (-60, 120 + n % 5 * 20, "available")]
    if warehouse.kind == "central":
        plans.append((-5, 60, "inspection"))
    count = 0
    for age_days, quantity, state in plans:
        made = today + timedelta(days=age_days)
        expires = made + life
        if age_days == -300 and n % 4 == 0:
            expires = today + timedelta(days=20 + n)  # near expiry (近效期)
        lot = lot_for(session, sku, f"{made:%y%m%d}{w_index}{n % 10}", None, made, expires)
        movement = receive(session, warehouse, lot, quantity, "生产入库")
        if state == "available":
            move(session, "qc_release", warehouse.id, lot, quantity, "inspection", "available", "出厂检验合格")
        count += 1
        if age_days == -300 and n % 5 == 1:
            _age(session, movement.warehouse_id, lot.id, days=150)  # a slow mover
    return count


def _age(session: Session, warehouse_id: int, lot_id: int, days: int) -> None:
    """Back-date when a balance last moved (demo only: real balances age by themselves)."""
    session.execute(text("UPDATE stock_balances SET last_moved_at = now() - make_interval(days => :d) "
                         "WHERE warehouse_id = :w AND lot_id = :l"), {"d": days, "w": warehouse_id, "l": lot_id})
