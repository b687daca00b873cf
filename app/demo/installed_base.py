"""Demo stage: the installed base (装机) — chemiluminescence and point-of-care analyzers
at hospitals in 京津冀, 华东 and 华南, entered through ``create_unit`` as after-sales would
for equipment installed before MedChannel: recent installations still in warranty, older
ones on a service contract (维保合同) or out of warranty, a few with an unknown warranty
(records taken over without their papers). Dates count back from the demo day."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Hospital
from app.demo.seed import AUTHORED_ON, demo_day
from app.identity.models import User
from app.service.installed import create_unit, is_equipment

#: hospital code → [(SKU position among the tenant's instruments, days since installation,
#: warranty months (0: unknown), contract (months left, coverage) or None, department)]
UNITS = {
    "H-SH-001": [(0, 120, 24, None, "检验科"), (0, 1300, 24, (8, "parts_and_labour"), "检验科"),
                 (1, 60, 12, None, "急诊科"), (1, 500, 12, None, "心内科"), (1, 900, 12, (5, "labour"), "心内科CCU")],
    "H-SH-002": [(0, 400, 24, None, "检验科"), (1, 800, 12, None, "急诊科"), (1, 30, 12, None, "胸痛中心")],
    "H-SH-003": [(0, 1500, 24, (11, "parts_and_labour"), "检验科"), (1, 700, 12, None, "急诊科")],
    "H-JS-001": [(0, 200, 24, None, "检验科"), (1, 1000, 12, None, "急诊科")],
    "H-JS-002": [(0, 1100, 24, (2, "parts"), "检验科"), (1, 90, 12, None, "心内科")],
    "H-ZJ-001": [(0, 600, 24, None, "检验科"), (1, 1400, 0, None, "急诊科")],
    "H-ZJ-003": [(1, 250, 12, None, "胸痛中心")],
    "H-BJ-001": [(0, 1800, 24, (6, "parts_and_labour"), "检验科"), (1, 150, 12, None, "急诊科")],
    "H-BJ-002": [(0, 700, 24, None, "检验科"), (1, 1200, 12, (9, "parts_and_labour"), "心内科"),
                 (1, 20, 12, None, "胸痛中心")],
    "H-BJ-003": [(0, 950, 24, None, "检验科"), (1, 2000, 0, None, "急诊科")],
    "H-TJ-001": [(0, 330, 24, None, "检验科"), (1, 1600, 12, None, "急诊科")],
    "H-HE-001": [(1, 45, 12, None, "急诊科")],
    "H-GD-001": [(0, 1000, 24, (4, "parts_and_labour"), "检验科"), (1, 180, 12, None, "急诊科"),
                 (1, 760, 12, None, "心内科")],
    "H-GD-002": [(0, 260, 24, None, "检验科"), (1, 1900, 12, None, "胸痛中心")],
    "H-GD-004": [(0, 1250, 24, None, "检验科"), (1, 400, 12, (7, "labour"), "急诊科")],
    "H-FJ-001": [(0, 75, 24, None, "检验科"), (1, 2200, 0, None, "急诊科")],
}
#: serial prefixes by SKU code (the model's own serial format)
PREFIXES = {"IVD-CLIA-01": "CL2K", "IVD-POCT-01": "F100", "GX-CLIA-800": "GX8K", "GX-POCT-10": "GQ10"}


def seed_installed_base(session: Session, slug: str) -> str:
    instruments = [s for s in session.scalars(select(Sku).where(Sku.tracking == "serial").order_by(Sku.code))
                   if is_equipment(s)]
    # analyzers first (the big chemiluminescence instrument), then point-of-care
    instruments.sort(key=lambda s: ("POCT" in s.code, s.code))
    if not instruments:
        return "no equipment SKUs: no installed base"
    hospitals = {h.code: h for h in session.scalars(select(Hospital).where(Hospital.code.in_(list(UNITS))))}
    staff = session.scalar(select(User).where(User.email == f"service@{slug}.test"))
    today = demo_day(AUTHORED_ON)
    count = 0
    for code, units in UNITS.items():
        hospital = hospitals.get(code)
        if hospital is None:
            continue
        for n, (position, age, warranty_months, contract, department) in enumerate(units, 1):
            sku = instruments[position % len(instruments)]
            installed_on = today - timedelta(days=age)
            serial = f"{PREFIXES.get(sku.code, sku.code[-4:])}{installed_on:%y%m}{hospital.id:03d}{n:02d}"
            values = {"hospital_id": hospital.id, "sku_id": sku.id, "serial_no": serial, "department": department,
                      "location": f"{department} {n}号机位", "reason": "历史装机数据录入"}
            if warranty_months:
                values.update(installed_on=installed_on, warranty_start=installed_on,
                              warranty_end=installed_on + timedelta(days=round(warranty_months * 30.44)) - timedelta(days=1))
            else:
                values.update(no_warranty=True, note="原始装机资料缺失，保修期待核实")
            if contract is not None:
                months_left, coverage = contract
                ends = today + timedelta(days=months_left * 30)
                values.update(contract_no=f"WB-{ends:%Y}-{hospital.id:03d}{n:02d}", contract_start=ends - timedelta(days=364),
                              contract_end=ends, contract_coverage=coverage)
            create_unit(session, values, staff)
            count += 1
    return f"installed {count} units at {len(hospitals)} hospitals"
