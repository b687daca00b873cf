"""Demo stage: preventive maintenance (维保计划) for the installed base — chemiluminescence
analyzers every 6 months by the manufacturer's engineer, point-of-care analyzers every 12
months by the dealer that services them — started in the past, so each unit has reported
visits (one with a failed item and its finding), a few visits overdue and the next ones on
the calendar. Written through ``create_plan``/``generate_visits``/``report_visit``."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.demo.seed import AUTHORED_ON, demo_day
from app.identity.models import User
from app.service import plans as ops
from app.service.models import InstalledUnit, ServiceVisit
from app.service.rules import add_months

ANALYZER_CHECKLIST = ["外观及清洁检查", "电气安全检测（接地电阻、漏电流）", "加样针及清洗系统检查", "光路及温控系统校准",
                      "质控品测试在控", "软件版本及数据备份"]
POCT_CHECKLIST = ["外观及清洁检查", "电池及电源适配器检查", "内置质控卡测试", "打印及数据上传检查"]


def seed_service_plans(session: Session, slug: str) -> str:
    today = demo_day(AUTHORED_ON)
    engineer = session.scalar(select(User).where(User.email == f"service@{slug}.test"))
    if engineer is None:
        return "no after-sales engineer: no plans"
    units = list(session.scalars(select(InstalledUnit).join(Sku, Sku.id == InstalledUnit.sku_id)
                                 .where(InstalledUnit.status == "active", InstalledUnit.installed_on.is_not(None))
                                 .order_by(InstalledUnit.id)))
    plans = visits = 0
    for n, unit in enumerate(units):
        analyzer = "POCT" not in unit.sku.code
        interval = 6 if analyzer else 12
        # the first visit a few months after installation, so that some already happened
        starts_on = add_months(unit.installed_on, interval)
        if starts_on > today + timedelta(days=200):
            continue
        dealer_id = unit.dealer_id if not analyzer or n % 3 == 0 else None
        plan = ops.create_plan(session, unit, {
            "name": f"{unit.sku.name}{'半年' if analyzer else '年度'}预防性维护", "interval_months": interval,
            "starts_on": starts_on, "checklist": ANALYZER_CHECKLIST if analyzer else POCT_CHECKLIST,
            "engineer_id": engineer.id if analyzer or dealer_id is None else None, "dealer_id": dealer_id,
            "reason": "按维保合同/保修条款建立维护计划"}, engineer, today=today)
        ops.generate_visits(session, plan, today, since=max(starts_on, today - timedelta(days=800)))
        plans += 1
        past = list(session.scalars(select(ServiceVisit).where(ServiceVisit.plan_id == plan.id,
                                                               ServiceVisit.due_on < today).order_by(ServiceVisit.due_on)))
        # every third unit's latest visit is left undone: overdue on the calendar
        if past and n % 3 == 1 and today - past[-1].due_on > timedelta(days=3):
            past = past[:-1]
        for k, visit in enumerate(past):
            failed = k == len(past) - 1 and n % 4 == 0
            values = {"done_on": min(today, visit.due_on + timedelta(days=(n + k) % 6)),
                      "findings": "加样针轻微磨损，已调整并清洗；建议下次维护时更换" if failed else None}
            for i, _item in enumerate(plan.checklist):
                values[f"result-{i}"] = "fail" if failed and i == 2 else "pass"
            ops.report_visit(session, visit, engineer, values, today=today)
            visits += 1
    return f"{plans} maintenance plans, {visits} visits reported"
