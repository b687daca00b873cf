"""Demo stage: service tickets (工单) and SLA policies — three months of faults on the
installed analyzers in 京津冀, 华东 and 华南, raised by the hospitals' equipment
departments (and a few by dealers and after-sales), answered, worked and confirmed with a
rating, some resolved and waiting for the hospital, some still open and some overdue
(escalated). Every ticket goes through ``app.service.tickets`` with its own clock, so the
timelines, SLA figures and the region view are what the operations make of them. Dates
count back from the demo day."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.channel.models import Region
from app.demo.seed import AUTHORED_ON, demo_day
from app.identity.models import User
from app.service import tickets as tk
from app.service.models import InstalledUnit
from app.service.sla import SHANGHAI

#: (urgency, response h, resolution h, business hours) for every region; 华南 gets more
#: time for critical faults (engineers travel further between cities)
POLICIES = [("critical", 2, 24, False), ("high", 4, 48, False), ("normal", 8, 27, True), ("low", 16, 54, True)]
SOUTH_CRITICAL = (3, 36, False)

ANALYZER_FAULTS = [
    ("试剂针堵塞报警，无法加样", "早班开机后试剂针反复报堵塞（报警码 R-102），已按手册冲洗两次无效，急诊免疫项目暂停。"),
    ("光路本底偏高，质控失控", "近三天发光本底持续偏高，肌钙蛋白质控连续两次超出 2SD，已停用该项目。"),
    ("反应杯装载机构卡杯", "反应杯传送带卡杯，每隔约 30 个测试需人工取出，影响出报告时间。"),
    ("温控模块报警 E-31", "孵育盘温度波动超过 ±0.5℃，仪器提示 E-31 后自动暂停测试。"),
    ("清洗液压力不足", "清洗站压力不足报警，已更换清洗液桶，报警仍存在。"),
    ("样本针液面检测失败", "部分样本管液面检测失败，需手工重测，疑似液面感应板故障。"),
]
POCT_FAULTS = [
    ("读卡器无法识别试剂卡", "插入试剂卡后提示“无法识别批号”，更换新批号试剂卡同样报错。"),
    ("LIS 通讯中断", "仪器结果无法上传 LIS，网口指示灯不亮，急诊需手工录入结果。"),
    ("开机自检失败", "开机自检停在光学模块检测，屏幕提示 SELF TEST 07。"),
    ("内置打印机不出纸", "打印机走纸但无字迹，已更换热敏纸。"),
]
RATING_COMMENTS = {5: "工程师当天到场，处理专业", 4: "响应及时，维修后运行正常", 3: "维修时间偏长", 2: "多次上门才解决"}

#: scenario per ticket: (urgency, days ago, hour raised, via, outcome, answer minutes, fix minutes, rating)
#: outcome: confirmed | resolved | in_progress | assigned | open | cancelled
SCENARIOS = [
    ("critical", 84, 8, "hospital", "confirmed", 35, 300, 5),
    ("normal", 80, 10, "hospital", "confirmed", 200, 1500, 4),
    ("high", 76, 15, "dealer", "confirmed", 0, 1700, 4),
    ("normal", 71, 9, "hospital", "confirmed", 600, 4200, 3),
    ("low", 66, 14, "hospital", "confirmed", 300, 2600, 5),
    ("critical", 62, 21, "hospital", "confirmed", 150, 1900, 3),
    ("high", 57, 11, "manufacturer", "confirmed", 0, 900, 5),
    ("normal", 52, 16, "hospital", "confirmed", 90, 1300, 4),
    ("high", 47, 8, "hospital", "confirmed", 420, 3400, 2),
    ("normal", 43, 10, "dealer", "confirmed", 0, 2100, 4),
    ("critical", 38, 7, "hospital", "confirmed", 40, 600, 5),
    ("low", 34, 13, "hospital", "cancelled", 0, 0, None),
    ("normal", 30, 9, "hospital", "confirmed", 240, 1700, 4),
    ("high", 26, 17, "hospital", "confirmed", 180, 2500, 3),
    ("normal", 21, 11, "hospital", "confirmed", 100, 1200, 5),
    ("critical", 17, 9, "hospital", "confirmed", 25, 420, 4),
    ("normal", 13, 15, "manufacturer", "confirmed", 0, 2000, 4),
    ("high", 9, 10, "hospital", "resolved", 60, 1500, None),
    ("normal", 7, 14, "hospital", "resolved", 300, 2400, None),
    ("low", 6, 9, "dealer", "resolved", 0, 3000, None),
    ("critical", 5, 8, "hospital", "in_progress", 30, 0, None),        # overdue: escalates
    ("high", 4, 16, "hospital", "assigned", 200, 0, None),
    ("normal", 3, 10, "hospital", "in_progress", 120, 0, None),
    ("high", 3, 9, "hospital", "open", 0, 0, None),                     # nobody answered: escalates
    ("normal", 2, 11, "dealer", "in_progress", 0, 0, None),
    ("low", 1, 15, "hospital", "open", 0, 0, None),
    ("normal", 1, 9, "hospital", "assigned", 45, 0, None),
]
#: hospitals with a hospital user of their own in the demo raise their own tickets;
#: the first units of these hospitals get tickets first
FIRST = ("H-SH-001", "H-BJ-002", "H-GD-004")


def _when(days_ago: int, hour: int, now: datetime) -> datetime:
    day = demo_day(AUTHORED_ON) - timedelta(days=days_ago)
    at = datetime.combine(day, time(hour, 0), SHANGHAI).astimezone(timezone.utc)
    return min(at, now - timedelta(hours=2 + days_ago))


def _across_regions(session: Session, units: list[InstalledUnit]) -> list[InstalledUnit]:
    """The units taken in turn from each area (京津冀, 华东, 华南 …), the hospitals with
    portal users of their own first within an area, so tickets spread over the regions."""
    areas = list(session.scalars(select(Region).where(Region.level == 1).order_by(Region.id)))
    paths = {r.id: r.path for r in session.scalars(select(Region))}
    groups: dict[int, list[InstalledUnit]] = {a.id: [] for a in areas}
    for unit in sorted(units, key=lambda u: (u.hospital.code not in FIRST, u.id)):
        path = paths.get(unit.hospital.region_id, "")
        area = next((a.id for a in areas if path.startswith(a.path)), None)
        if area is not None:
            groups[area].append(unit)
    ordered, lists = [], [g for g in groups.values() if g]
    while any(lists):
        for group in lists:
            if group:
                ordered.append(group.pop(0))
    return ordered or units


def seed_tickets(session: Session, slug: str) -> str:
    south = session.scalar(select(Region.id).where(Region.code == "SOUTH"))
    for urgency, response, resolution, business in POLICIES:
        tk.save_policy(session, {"urgency": urgency, "response_hours": response, "resolution_hours": resolution,
                                 "business_hours": "1" if business else ""})
    if south:
        response, resolution, business = SOUTH_CRITICAL
        tk.save_policy(session, {"urgency": "critical", "region_id": south, "response_hours": response,
                                 "resolution_hours": resolution, "business_hours": "1" if business else ""})
    units = list(session.scalars(select(InstalledUnit).where(InstalledUnit.status == "active")
                                 .order_by(InstalledUnit.hospital_id, InstalledUnit.id)))
    if not units:
        return "no installed base: SLA policies only"
    units = _across_regions(session, units)
    users = {u.email.split("@")[0]: u for u in session.scalars(select(User))}
    service = users.get("service") or users["admin"]
    hospital_users = {u.hospital_id: u for u in users.values() if u.portal == "hospital" and u.active}
    dealer_users = {u.dealer_id: u for u in users.values() if u.portal == "dealer" and u.has_role(*tk.DEALER_ROLES)}
    now = datetime.now(timezone.utc)
    made = 0
    for n, (urgency, days_ago, hour, via, outcome, answer, fix, rating) in enumerate(SCENARIOS):
        unit = units[n % len(units)]
        faults = POCT_FAULTS if "POCT" in unit.sku.code else ANALYZER_FAULTS
        title, description = faults[n % len(faults)]
        raiser = {"hospital": hospital_users.get(unit.hospital_id), "dealer": dealer_users.get(unit.hospital.serving_dealer_id),
                  "manufacturer": service}.get(via) or service
        if via == "hospital" and raiser is service:
            description += "（设备科电话报修，售后代为登记）"
        raised = _when(days_ago, hour, now)
        ticket = tk.raise_ticket(session, raiser, {"hospital_id": unit.hospital_id, "unit_id": unit.id, "urgency": urgency,
                                                   "title": title, "description": description}, now=raised)
        made += 1
        if outcome == "cancelled":
            tk.cancel(session, ticket, service, {"cancel_reason": "与前一张工单重复报修"}, now=raised + timedelta(minutes=40))
            continue
        if outcome == "open":
            continue
        answered = raised + timedelta(minutes=answer or 30)
        if answered >= now:
            continue
        tk.assign(session, ticket, service, service.id, "已安排区域工程师跟进", now=answered)
        if outcome == "assigned":
            continue
        tk.add_note(session, ticket, service, "工程师已到场，正在排查", now=answered + timedelta(minutes=90))
        if outcome == "in_progress":
            continue
        fixed = raised + timedelta(minutes=max(fix, answer + 120))
        if fixed >= now:
            continue
        labour = "600.00" if ticket.chargeable else ""
        tk.resolve(session, ticket, service, {"resolution": f"已排除故障：{title}。更换相关组件并校准，质控在控后交付使用。",
                                              "labour_amount": labour}, now=fixed)
        if outcome == "confirmed" and ticket.raised_by_id:
            confirmer = hospital_users.get(unit.hospital_id)
            if confirmer is not None:
                tk.confirm(session, ticket, confirmer, {"rating": rating, "rating_comment": RATING_COMMENTS.get(rating, "")},
                           now=fixed + timedelta(hours=20))
    escalated = tk.escalate_overdue(session, now)
    return f"SLA policies and {made} service tickets ({escalated} escalated)"
