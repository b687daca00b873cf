"""Preventive maintenance (维保计划): plans put visits on the calendar (at creation and
by the daily job), pausing and ending cancel what is still to come, a visit not done by
its date is overdue, and the visit report records checklist results and findings. The
pages show each party only its own units and visits."""
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.core.errors import InvalidInput
from app.core.i18n import SHANGHAI, shanghai_today
from app.identity.models import User
from app.service import plans as ops
from app.service import queries as q
from app.service.installed import create_unit
from app.service.parts import parts_of
from app.service.models import InstalledUnit, ServicePlan, ServiceVisit
from app.service.rules import add_months
from tests.order_world import ids


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return ids(s)


def _user(s, acme, local):
    return s.get(User, acme[local])


def _unit(s, acme, hospital="H-SH-001", dealer="D-SH-001", sku="IVD-CLIA-01", **kw):
    return create_unit(s, {"hospital_id": acme[hospital], "sku_id": acme[sku], "dealer_id": acme[dealer] if dealer else None,
                           "serial_no": "T" + uuid.uuid4().hex[:10].upper(), "installed_on": "2025-01-10",
                           "department": "检验科", **kw}, _user(s, acme, "service"))


def _plan(s, acme, unit, **kw):
    values = {"name": "半年度预防性维护", "interval_months": 6, "starts_on": shanghai_today(),
              "checklist": "外观检查\n电气安全检测\n质控测试", "engineer_id": acme["service"], **kw}
    return ops.create_plan(s, unit, values, _user(s, acme, "service"))


def _dates(s, plan, status="scheduled"):
    return list(s.scalars(select(ServiceVisit.due_on).where(ServiceVisit.plan_id == plan.id, ServiceVisit.status == status)
                          .order_by(ServiceVisit.due_on)))


# --- the calendar --------------------------------------------------------------------------------

def test_due_dates_count_from_the_start_and_keep_month_ends():
    assert ops.due_dates(date(2026, 1, 31), 1, date(2026, 5, 1)) == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert ops.due_dates(date(2026, 1, 15), 6, date(2030, 1, 1), ends_on=date(2027, 1, 14)) == [
        date(2026, 1, 15), date(2026, 7, 15)]


def test_a_new_plan_puts_a_year_of_visits_on_the_calendar_from_today(as_tenant, acme):
    with as_tenant("acme") as s:
        today = shanghai_today()
        plan = _plan(s, acme, _unit(s, acme), interval_months=3, starts_on=today - timedelta(days=200))
        start = plan.starts_on
        expected = [d for d in ops.due_dates(start, 3, add_months(today, ops.HORIZON_MONTHS)) if d >= today]
        assert _dates(s, plan) == expected and 4 <= len(expected) <= 5
        visit = s.scalar(select(ServiceVisit).where(ServiceVisit.plan_id == plan.id).limit(1))
        assert visit.engineer_id == acme["service"] and visit.unit_id == plan.unit_id


def test_the_daily_job_extends_calendars_once_and_counts_overdue_visits(as_tenant, acme, engine):
    with as_tenant("acme") as s:
        plan = _plan(s, acme, _unit(s, acme), interval_months=1)
        plan_id, before = plan.id, len(_dates(s, plan))
    later = shanghai_today() + timedelta(days=65)
    with as_tenant("acme") as s:
        added, overdue = ops.extend_calendars(s, later)
        plan = s.get(ServicePlan, plan_id)
        assert len(_dates(s, plan)) == before + 2 and added >= 2 and overdue >= 2
        assert ops.extend_calendars(s, later)[0] == 0  # safe to run twice
        s.rollback()
    now = datetime.combine(shanghai_today(), time(9), tzinfo=SHANGHAI).astimezone(timezone.utc)
    ops.daily_visits(engine, now=now)
    assert ops.daily_visits(engine, now=now) == []  # the day is done


def test_pausing_cancels_the_visits_to_come_and_resuming_brings_them_back(as_tenant, acme):
    with as_tenant("acme") as s:
        plan = _plan(s, acme, _unit(s, acme))
        scheduled = _dates(s, plan)
        ops.set_plan_status(s, plan, "paused", _user(s, acme, "service"), reason_text="医院设备科暂停")
        assert _dates(s, plan) == [] and _dates(s, plan, "cancelled") == scheduled
        ops.set_plan_status(s, plan, "active", _user(s, acme, "service"))
        assert _dates(s, plan) == scheduled
        ops.set_plan_status(s, plan, "ended", _user(s, acme, "service"))
        assert _dates(s, plan) == [] and plan.ends_on == shanghai_today()
        with pytest.raises(InvalidInput):
            ops.set_plan_status(s, plan, "active", _user(s, acme, "service"))


@pytest.mark.parametrize("change, field", [
    ({"name": ""}, "name"), ({"interval_months": "0"}, "interval_months"), ({"interval_months": "abc"}, "interval_months"),
    ({"starts_on": ""}, "starts_on"), ({"ends_on": "2000-01-01"}, "ends_on"), ({"checklist": "  \n "}, "checklist"),
    ({"engineer_id": ""}, "engineer_id"), ({"engineer_id": "dealer1"}, "engineer_id"), ({"dealer_id": "999999999"}, "dealer_id"),
])
def test_a_wrong_plan_is_refused_next_to_its_field(as_tenant, acme, change, field):
    with as_tenant("acme") as s:
        if change.get("engineer_id") == "dealer1":
            change = {"engineer_id": acme["dealer1"]}
        with pytest.raises(InvalidInput) as refused:
            _plan(s, acme, _unit(s, acme), **change)
        assert refused.value.field == field


# --- the visit report ----------------------------------------------------------------------------

def _overdue_visit(s, acme, **kw):
    plan = _plan(s, acme, _unit(s, acme), starts_on=shanghai_today() - timedelta(days=20), **kw)
    ops.generate_visits(s, plan, since=plan.starts_on)
    return s.scalar(select(ServiceVisit).where(ServiceVisit.plan_id == plan.id).order_by(ServiceVisit.due_on).limit(1))


def test_a_visit_past_its_date_is_overdue_until_reported(as_tenant, acme):
    with as_tenant("acme") as s:
        visit = _overdue_visit(s, acme)
        today = shanghai_today()
        assert ops.visit_state(visit, today) == "overdue"
        hospital1 = _user(s, acme, "hospital1")
        assert visit.id in [v.id for v in q.visits(s, hospital1, "overdue", today)]
        values = {"result-0": "pass", "result-1": "fail", "result-2": "pass"}
        with pytest.raises(InvalidInput) as refused:
            ops.report_visit(s, visit, _user(s, acme, "service"), {"result-0": "pass"})
        assert refused.value.field == "result-1"
        with pytest.raises(InvalidInput) as refused:
            ops.report_visit(s, visit, _user(s, acme, "service"), values)
        assert refused.value.field == "findings"
        with pytest.raises(InvalidInput) as refused:
            ops.report_visit(s, visit, _user(s, acme, "service"), {**values, "done_on": "2999-01-01", "findings": "x"})
        assert refused.value.field == "done_on"
        ops.report_visit(s, visit, _user(s, acme, "service"), {**values, "findings": "漏电流偏高，已更换电源模块", "note-1": "复测合格"})
        assert visit.status == "done" and visit.done_on == today and visit.reported_by_id == acme["service"]
        assert [r["result"] for r in visit.results] == ["pass", "fail", "pass"] and visit.results[1]["note"] == "复测合格"
        assert ops.visit_state(visit, today) == "done"
        assert visit.id in [v.id for v in q.visits(s, hospital1, "past", today)]
        with pytest.raises(InvalidInput):
            ops.report_visit(s, visit, _user(s, acme, "service"), {**values, "findings": "again"})


def test_only_the_assigned_dealer_reports_a_visit(as_tenant, acme):
    with as_tenant("acme") as s:
        visit = _overdue_visit(s, acme, engineer_id="", dealer_id=acme["D-SH-001"])
        done = {"result-0": "pass", "result-1": "pass", "result-2": "n/a"}
        for local in ("dealer2", "hospital1", "channel"):
            with pytest.raises(InvalidInput):
                ops.report_visit(s, visit, _user(s, acme, local), done)
        ops.report_visit(s, visit, _user(s, acme, "dealer1"), done)
        assert visit.status == "done" and visit.reported_by_id == acme["dealer1"]


def test_a_visit_is_moved_or_cancelled_with_a_reason(as_tenant, acme):
    with as_tenant("acme") as s:
        visit = _overdue_visit(s, acme)
        service = _user(s, acme, "service")
        new_day = shanghai_today() + timedelta(days=3)
        ops.reschedule_visit(s, visit, service, {"due_on": new_day.isoformat(), "engineer_id": acme["service"],
                                                 "dealer_id": acme["D-SH-001"], "reason": "医院要求改期"})
        assert visit.due_on == new_day and visit.dealer_id == acme["D-SH-001"]
        with pytest.raises(InvalidInput) as refused:
            ops.cancel_visit(s, visit, service, " ")
        assert refused.value.field == "cancel_reason"
        ops.cancel_visit(s, visit, service, "设备已停用")
        assert visit.status == "cancelled"


# --- the pages -----------------------------------------------------------------------------------

def _world(as_tenant):
    """A unit at 中山医院 (hospital1) serviced by 华东医疗器械 (dealer1), with a plan whose
    first visit is overdue and assigned to dealer1."""
    with as_tenant("acme") as s:
        acme = ids(s)
        unit = _unit(s, acme)
        plan = _plan(s, acme, unit, starts_on=shanghai_today() - timedelta(days=10), engineer_id="",
                     dealer_id=acme["D-SH-001"])
        ops.generate_visits(s, plan, since=plan.starts_on)
        visit = s.scalar(select(ServiceVisit).where(ServiceVisit.plan_id == plan.id).order_by(ServiceVisit.due_on).limit(1))
        return unit.id, plan.id, visit.id, unit.serial_no


def test_hospital_sees_its_equipment_warranty_and_overdue_visit(as_tenant, signed_in):
    unit_id, _plan_id, visit_id, serial = _world(as_tenant)
    h1 = signed_in("acme", "hospital1")
    html = h1.get("/hospital/equipment").get_data(as_text=True)
    assert "保修期内" in html or "已过保" in html
    html = h1.get(f"/hospital/equipment?q={serial}").get_data(as_text=True)
    assert serial in html and "已过保" in html  # installed 2025-01-10, a year's warranty
    page = h1.get(f"/hospital/equipment/{unit_id}")
    assert page.status_code == 200 and "逾期" in page.get_data(as_text=True)
    calendar = h1.get("/hospital/service-visits?when=overdue").get_data(as_text=True)
    assert f"/hospital/service-visits/{visit_id}" in calendar
    assert h1.get(f"/hospital/service-visits/{visit_id}").status_code == 200
    dashboard = h1.get("/hospital/").get_data(as_text=True)
    assert "设备与维保" in dashboard and "/hospital/service-visits?when=overdue" in dashboard


@pytest.mark.parametrize("local, paths", [
    ("hospital2", ["/hospital/equipment/{unit}", "/hospital/service-visits/{visit}"]),
    ("dealer2", ["/dealer/equipment/{unit}", "/dealer/service-visits/{visit}"]),
])
def test_another_hospital_or_dealer_cannot_read_the_unit_or_its_visits(as_tenant, signed_in, local, paths):
    unit_id, _plan_id, visit_id, serial = _world(as_tenant)
    b = signed_in("acme", local)
    for path in paths:
        assert b.get(path.format(unit=unit_id, visit=visit_id)).status_code == 404
    listing = b.get(paths[0].rsplit("/", 1)[0] + f"?q={serial}").get_data(as_text=True)
    assert f'/equipment/{unit_id}"' not in listing and "没有符合条件的设备" in listing
    if local == "dealer2":
        response = b.post(f"/dealer/service-visits/{visit_id}/report", {"result-0": "pass"}, token_from="/dealer/equipment")
        assert response.status_code == 404


def test_another_tenant_cannot_read_or_change_acme_units(as_tenant, signed_in):
    unit_id, plan_id, visit_id, _serial = _world(as_tenant)
    globex = signed_in("globex", "admin")
    for path in (f"/manufacturer/installed-base/{unit_id}", f"/manufacturer/service-plans/{plan_id}",
                 f"/manufacturer/service-visits/{visit_id}"):
        assert globex.get(path).status_code == 404
    response = globex.post(f"/manufacturer/service-visits/{visit_id}/cancel", {"cancel_reason": "x"},
                           token_from="/manufacturer/installed-base")
    assert response.status_code == 404
    with as_tenant("acme") as s:
        assert s.get(ServiceVisit, visit_id).status == "scheduled"


def test_dealer_reports_its_visit_in_the_portal(as_tenant, signed_in):
    unit_id, _plan_id, visit_id, serial = _world(as_tenant)
    d1 = signed_in("acme", "dealer1")
    assert serial in d1.get(f"/dealer/equipment?q={serial}").get_data(as_text=True)
    page = d1.get(f"/dealer/service-visits/{visit_id}").get_data(as_text=True)
    assert 'id="report-form"' in page
    refused = d1.post(f"/dealer/service-visits/{visit_id}/report", {"result-0": "pass"})
    assert refused.status_code == 400 and 'class="error"' in refused.get_data(as_text=True)
    done = d1.post(f"/dealer/service-visits/{visit_id}/report",
                   {"done_on": shanghai_today().isoformat(), "result-0": "pass", "result-1": "pass", "result-2": "n/a"})
    assert done.status_code == 303
    with as_tenant("acme") as s:
        assert s.get(ServiceVisit, visit_id).status == "done"


def test_after_sales_enters_a_unit_and_plans_it_from_the_pages(as_tenant, signed_in):
    with as_tenant("acme") as s:
        acme = ids(s)
    b = signed_in("acme", "service")
    serial = "CL2K" + uuid.uuid4().hex[:8].upper()
    refused = b.post("/manufacturer/installed-base/new", {"hospital_id": acme["H-BJ-002"], "sku_id": acme["CV-DES-3018"],
                                                          "serial_no": serial})
    assert refused.status_code == 400 and "不是按序列号管理的设备" in refused.get_data(as_text=True)
    made = b.post("/manufacturer/installed-base/new", {"hospital_id": acme["H-BJ-002"], "sku_id": acme["IVD-CLIA-01"],
                                                       "serial_no": serial, "installed_on": shanghai_today().isoformat(),
                                                       "department": "检验科", "warranty_coverage": "parts_and_labour",
                                                       "contract_coverage": "parts_and_labour"})
    assert made.status_code == 303
    unit_path = made.headers["Location"]
    unit_id = int(re.search(r"/installed-base/(\d+)", unit_path).group(1))
    assert "保修期内" in b.get(unit_path).get_data(as_text=True)
    form_page = b.get(f"/manufacturer/installed-base/{unit_id}/plans/new").get_data(as_text=True)
    assert "质控品测试" in form_page
    bad = b.post(f"/manufacturer/installed-base/{unit_id}/plans/new", {"name": "x", "interval_months": "99",
                                                                       "starts_on": "2026-01-01", "checklist": "a",
                                                                       "engineer_id": acme["service"]})
    assert bad.status_code == 400 and 'id="f-interval_months-error"' in bad.get_data(as_text=True)
    planned = b.post(f"/manufacturer/installed-base/{unit_id}/plans/new", {
        "name": "半年度维护", "interval_months": "6", "starts_on": shanghai_today().isoformat(),
        "checklist": "外观检查\n质控测试", "engineer_id": acme["service"]})
    assert planned.status_code == 303
    plan_page = b.get(planned.headers["Location"]).get_data(as_text=True)
    assert "半年度维护" in plan_page and shanghai_today().isoformat() in plan_page
    assert serial in b.get("/manufacturer/service-visits").get_data(as_text=True)
    assert serial in b.get(f"/manufacturer/installed-base?q={serial}").get_data(as_text=True)
    assert b.get("/manufacturer/service-plans").status_code == 200


def test_who_may_look_and_who_may_change(signed_in):
    assert signed_in("acme", "finance").get("/manufacturer/installed-base").status_code == 403
    channel = signed_in("acme", "channel")
    assert channel.get("/manufacturer/installed-base").status_code == 200
    assert channel.get("/manufacturer/installed-base/new").status_code == 403
    assert signed_in("acme", "hospital1").get("/manufacturer/installed-base").status_code == 403
    assert signed_in("acme", "dealer1").get("/hospital/equipment").status_code == 403


def test_the_demo_has_plans_with_done_overdue_and_upcoming_visits(as_tenant):
    with as_tenant("acme") as s:
        today = shanghai_today()
        statuses = {ops.visit_state(v, today) for v in s.scalars(select(ServiceVisit))}
        assert {"done", "overdue", "scheduled"} <= statuses
        assert s.scalar(select(ServiceVisit.id).where(ServiceVisit.results.is_not(None), ServiceVisit.findings.is_not(None)).limit(1))


def test_parts_used_on_a_visit_leave_stock_as_service_use(as_tenant, acme):
    from app.inventory.models import StockBalance, StockMovement, Warehouse
    from app.service.models import ServicePart

    with as_tenant("acme") as s:
        central = s.scalar(select(Warehouse).where(Warehouse.code == "WH-SZ"))
        have = lambda: s.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(  # noqa: E731
            StockBalance.sku_id == acme["IVD-QC-01"], StockBalance.warehouse_id == central.id,
            StockBalance.state == "available"))
        before = have()
        visit = _overdue_visit(s, acme)
        done = {"result-0": "pass", "result-1": "pass", "result-2": "pass"}
        with pytest.raises(InvalidInput) as refused:
            ops.report_visit(s, visit, _user(s, acme, "service"), {**done, "parts": [
                {"sku_id": str(acme["IVD-QC-01"]), "quantity": str(before + 1), "warehouse_id": str(central.id), "row": 1}]})
        assert refused.value.field == "part_quantity-1"
        s.rollback()
        visit = _overdue_visit(s, acme)
        ops.report_visit(s, visit, _user(s, acme, "service"), {**done, "parts": [
            {"sku_id": str(acme["IVD-QC-01"]), "quantity": "2", "warehouse_id": str(central.id)}]})
        parts = list(s.scalars(select(ServicePart).where(ServicePart.visit_id == visit.id)))
        assert sum(p.quantity for p in parts) == 2 and not any(p.charged for p in parts)
        assert have() == before - 2
        assert s.scalar(select(StockMovement.kind).where(StockMovement.id == parts[0].movement_id)) == "service_use"
        assert [p.quantity for p in parts_of(s, visit_id=visit.id)] == [p.quantity for p in parts]


def test_the_installation_report_is_kept_with_the_unit_for_its_hospital_only(as_tenant, signed_in):
    import io

    unit_id, _plan_id, _visit_id, _serial = _world(as_tenant)
    service = signed_in("acme", "service")
    page = f"/manufacturer/installed-base/{unit_id}"
    bad = service.post(f"{page}/installation-report", {"file": (io.BytesIO(b"not a scan"), "report.txt")},
                       token_from=page, content_type="multipart/form-data")
    assert bad.status_code == 400 and 'id="f-file-error"' in bad.get_data(as_text=True)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    done = service.post(f"{page}/installation-report", {"file": (io.BytesIO(pdf), "装机报告.pdf")},
                        token_from=page, content_type="multipart/form-data")
    assert done.status_code == 303
    with as_tenant("acme") as s:
        document_id = s.get(InstalledUnit, unit_id).installation_report_id
    assert document_id is not None
    assert signed_in("acme", "hospital1").get(f"/documents/{document_id}").data == pdf
    assert signed_in("acme", "channel").get(f"/documents/{document_id}").status_code == 200
    for local in ("hospital2", "dealer2"):
        assert signed_in("acme", local).get(f"/documents/{document_id}").status_code == 404
    assert signed_in("globex", "admin").get(f"/documents/{document_id}").status_code == 404


def test_a_visit_that_just_became_overdue_is_mailed_once_to_its_dealer(as_tenant, acme):
    from app.identity.models import OutboxMessage

    with as_tenant("acme") as s:
        unit = _unit(s, acme)
        plan = _plan(s, acme, unit, engineer_id="", dealer_id=acme["D-SH-001"], starts_on=shanghai_today() - timedelta(days=1))
        ops.generate_visits(s, plan, since=plan.starts_on)
        assert ops.notify_overdue(s, shanghai_today()) >= 1
        assert ops.notify_overdue(s, shanghai_today()) == 0
        mails = list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "service_visit_overdue",
                                                           OutboxMessage.subject.contains(unit.serial_no))))
        assert {m.to_address for m in mails} == {"dealer1@acme.test"}


def test_after_sales_edit_a_unit_pause_a_plan_and_move_a_visit_from_the_pages(as_tenant, signed_in):
    unit_id, plan_id, visit_id, _serial = _world(as_tenant)
    b = signed_in("acme", "service")
    edit = f"/manufacturer/installed-base/{unit_id}/edit"
    assert 'value="2025-01-10"' in b.get(edit).get_data(as_text=True)
    bad = b.post(edit, {"installed_on": "2025-01-10", "contract_no": "WB-9", "contract_start": "2026-01-01"})
    assert bad.status_code == 400 and 'id="f-contract_end-error"' in bad.get_data(as_text=True)
    ok = b.post(edit, {"installed_on": "2025-01-10", "department": "急诊科", "contract_no": "WB-9",
                       "contract_start": "2026-01-01", "contract_end": "2026-12-31", "contract_coverage": "labour",
                       "warranty_coverage": "parts_and_labour", "status": "active", "reason": "签订维保合同"})
    assert ok.status_code == 303
    unit_page = b.get(f"/manufacturer/installed-base/{unit_id}").get_data(as_text=True)
    assert "WB-9" in unit_page and "签订维保合同" in unit_page
    visit_page = b.get(f"/manufacturer/service-visits/{visit_id}").get_data(as_text=True)
    assert 'name="part_sku-0"' in visit_page and 'name="cancel_reason"' in visit_page
    moved_to = (shanghai_today() + timedelta(days=2)).isoformat()
    assert b.post(f"/manufacturer/service-visits/{visit_id}/reschedule", {"due_on": moved_to, "engineer_id": "",
                                                                         "dealer_id": ""}).status_code == 400
    with as_tenant("acme") as s:
        acme = ids(s)
    assert b.post(f"/manufacturer/service-visits/{visit_id}/reschedule",
                  {"due_on": moved_to, "engineer_id": acme["service"], "dealer_id": ""}).status_code == 303
    paused = b.post(f"/manufacturer/service-plans/{plan_id}/status", {"status": "paused", "reason": "科室装修"})
    assert paused.status_code == 303
    plan_page = b.get(f"/manufacturer/service-plans/{plan_id}").get_data(as_text=True)
    assert "已暂停" in plan_page and "科室装修" in plan_page
    with as_tenant("acme") as s:
        visit = s.get(ServiceVisit, visit_id)
        assert visit.status == "cancelled" and visit.due_on.isoformat() == moved_to
    assert signed_in("acme", "channel").post(f"/manufacturer/service-plans/{plan_id}/status", {"status": "active"},
                                             token_from=f"/manufacturer/service-plans/{plan_id}").status_code == 403
