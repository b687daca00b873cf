"""Service tickets (工单): a hospital raises one with photos, after-sales assigns,
answers and resolves it, the hospital confirms and rates it (or reopens it); SLA targets
by urgency and region (a region's own policy, business hours); warranty standing decides
what is charged; overdue tickets escalate with mail through the outbox; the region view
of response and resolution times; and who may see what: the other hospital, the other
dealer and the other tenant see nothing."""
import io
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from app.channel.models import Hospital, Region
from app.compliance.models import Document
from app.core.errors import InvalidInput
from app.identity.models import OutboxMessage, User
from app.service import tickets as tk
from app.service.models import InstalledUnit, ServiceTicket, SlaPolicy, TicketEvent

SH = ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def _user(s, local, slug="acme"):
    return s.scalar(select(User).where(User.email == f"{local}@{slug}.test"))


def _hospital(s, code):
    return s.scalar(select(Hospital).where(Hospital.code == code))


def _unit(s, hospital_code, standing):
    """A unit of the hospital whose warranty stands as asked today."""
    from app.core.i18n import shanghai_today
    from app.service.rules import warranty_standing

    h = _hospital(s, hospital_code)
    units = s.scalars(select(InstalledUnit).where(InstalledUnit.hospital_id == h.id).order_by(InstalledUnit.id)).all()
    return next(u for u in units if warranty_standing(u, shanghai_today()) == standing)


def _raise(s, user, hospital_code="H-SH-001", urgency="normal", unit=None, now=None, **extra):
    h = _hospital(s, hospital_code)
    values = {"hospital_id": h.id, "unit_id": unit.id if unit else "", "urgency": urgency,
              "title": "化学发光仪报错 E-203", "description": "开机自检失败，试剂针无法归位。", **extra}
    return tk.raise_ticket(s, user, values, now=now)


@pytest.fixture()
def no_policies(as_tenant):
    """Start from the built-in targets; restore the tenant's policies afterwards."""
    with as_tenant("acme") as s:
        saved = [(p.urgency, p.region_id, p.response_minutes, p.resolution_minutes, p.business_hours)
                 for p in s.scalars(select(SlaPolicy))]
        s.execute(delete(SlaPolicy))
    yield
    with as_tenant("acme") as s:
        s.execute(delete(SlaPolicy))
        for u, r, a, b, bh in saved:
            s.add(SlaPolicy(urgency=u, region_id=r, response_minutes=a, resolution_minutes=b, business_hours=bh))


# --- raising, SLA targets, warranty --------------------------------------------------------------

def test_hospital_raises_a_ticket_with_photos_and_its_clock_starts(signed_in, as_tenant):
    hospital = signed_in("acme", "hospital1")
    with as_tenant("acme") as s:
        unit = _unit(s, "H-SH-001", "warranty")
        unit_id, serial, dealer_id = unit.id, unit.serial_no, _hospital(s, "H-SH-001").serving_dealer_id
    page = hospital.get("/hospital/tickets/new").get_data(as_text=True)
    assert "复旦大学附属中山医院" in page and serial in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = hospital.client.post("/hospital/tickets/new", base_url=hospital.base_url, content_type="multipart/form-data",
                                    data={"csrf_token": token, "unit_id": unit_id, "urgency": "critical",
                                          "title": "化学发光仪无法开机", "description": "今晨开机无反应，急诊标本积压。",
                                          "photos": [(io.BytesIO(PNG), "面板.png")]})
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    ticket_id = int(re.search(r"/hospital/tickets/(\d+)$", response.headers["Location"]).group(1))
    with as_tenant("acme") as s:
        t = s.get(ServiceTicket, ticket_id)
        assert t.number.startswith("TK-") and t.status == "open" and t.raised_via == "hospital"
        assert t.dealer_id == dealer_id and t.warranty_standing == "warranty" and t.chargeable is False
        assert t.response_due_at > t.created_at and t.resolution_due_at >= t.response_due_at
        assert t.responded_at is None
        doc = s.get(Document, t.photo_ids[0])
        assert doc.kind == "png" and doc.hospital_id == t.hospital_id and doc.entity_type == "service_tickets"
        photo_id = doc.id
    detail = hospital.get(f"/hospital/tickets/{ticket_id}").get_data(as_text=True)
    assert "化学发光仪无法开机" in detail and f"/documents/{photo_id}" in detail
    assert hospital.get(f"/documents/{photo_id}").status_code == 200
    # the hospital's list shows it with a running timer
    listing = hospital.get("/hospital/tickets").get_data(as_text=True)
    assert "化学发光仪无法开机" in listing and 'data-sla="' in listing


def test_photos_follow_the_ticket(signed_in, as_tenant):
    with as_tenant("acme") as s:
        t = _raise(s, _user(s, "hospital1"))
        ticket_id = t.id
        from app.compliance.uploads import store_upload

        doc = store_upload(s, "照片.png", PNG, "png", "image/png", ("service_tickets", t.id), t.dealer_id,
                           _user(s, "hospital1"), hospital_id=t.hospital_id)
        t.photo_ids = [doc.id]
        photo = doc.id
    for local, code in (("hospital1", 200), ("dealer1", 200), ("service", 200), ("hospital2", 404), ("dealer2", 404)):
        assert signed_in("acme", local).get(f"/documents/{photo}").status_code == code, local
    assert signed_in("acme", "sales.south").get(f"/documents/{photo}").status_code == 404  # not his region
    assert signed_in("globex", "admin").get(f"/documents/{photo}").status_code == 404
    assert ticket_id


def test_refusals_name_the_field(as_tenant):
    with as_tenant("acme") as s:
        hospital1 = _user(s, "hospital1")
        other_unit = s.scalar(select(InstalledUnit).where(InstalledUnit.hospital_id == _hospital(s, "H-BJ-002").id))
        with pytest.raises(InvalidInput) as err:
            _raise(s, hospital1, unit=other_unit)
        assert err.value.field == "unit_id"
        with pytest.raises(InvalidInput) as err:
            _raise(s, hospital1, title="")
        assert err.value.field == "title"
        with pytest.raises(InvalidInput) as err:
            _raise(s, hospital1, urgency="panic")
        assert err.value.field == "urgency"
        with pytest.raises(InvalidInput) as err:
            tk.raise_ticket(s, hospital1, {"title": "x", "description": "y"}, uploads=[("a.pdf", b"%PDF-1.4 x")])
        assert err.value.field == "photos"
        with pytest.raises(InvalidInput) as err:  # dealer2 does not serve 中山医院
            _raise(s, _user(s, "dealer2"))
        assert err.value.field == "hospital_id"
        s.rollback()


def test_region_policy_wins_and_business_hours_move_the_due_time(as_tenant, no_policies):
    friday_evening = datetime(2026, 12, 4, 18, 40, tzinfo=SH)
    with as_tenant("acme") as s:
        east = s.scalar(select(Region.id).where(Region.code == "EAST"))
        tk.save_policy(s, {"urgency": "critical", "response_hours": "8", "resolution_hours": "48"})
        tk.save_policy(s, {"urgency": "critical", "region_id": east, "response_hours": "4", "resolution_hours": "18",
                           "business_hours": "1"})
        tk.save_service_hours(s, {"opens": "08:30", "closes": "17:30", "weekdays": ["0", "1", "2", "3", "4"]})
        shanghai = _raise(s, _user(s, "hospital1"), urgency="critical", now=friday_evening)  # 华东: its own policy
        beijing = _raise(s, _user(s, "hospital2"), "H-BJ-002", urgency="critical", now=friday_evening)
        assert shanghai.response_due_at == datetime(2026, 12, 7, 12, 30, tzinfo=SH)   # Monday 08:30 + 4 h
        assert shanghai.resolution_due_at == datetime(2026, 12, 8, 17, 30, tzinfo=SH)  # two service days
        assert beijing.response_due_at == friday_evening + timedelta(hours=8)           # around the clock
        # the policy is changed later: tickets keep the targets they were raised with
        tk.save_policy(s, {"urgency": "critical", "region_id": east, "response_hours": "1", "resolution_hours": "2"})
        s.refresh(shanghai)
        assert shanghai.response_due_at == datetime(2026, 12, 7, 12, 30, tzinfo=SH)
        with pytest.raises(InvalidInput) as err:
            tk.save_policy(s, {"urgency": "low", "response_hours": "10", "resolution_hours": "2"})
        assert err.value.field == "resolution_hours"
        with pytest.raises(InvalidInput) as err:
            tk.save_service_hours(s, {"opens": "18:00", "closes": "09:00", "weekdays": ["0"]})
        assert err.value.field == "closes"
        s.rollback()


def test_without_policies_the_defaults_apply(as_tenant, no_policies):
    now = datetime(2026, 12, 2, 10, 0, tzinfo=SH)
    with as_tenant("acme") as s:
        t = _raise(s, _user(s, "hospital1"), urgency="high", now=now)
        assert (t.response_due_at - now, t.resolution_due_at - now) == (timedelta(hours=4), timedelta(hours=48))
        s.rollback()


def test_warranty_standing_decides_what_is_charged(as_tenant):
    with as_tenant("acme") as s:
        hospital1 = _user(s, "hospital1")
        covered = _raise(s, hospital1, unit=_unit(s, "H-SH-001", "warranty"))
        out = _raise(s, hospital1, unit=_unit(s, "H-SH-001", "out_of_warranty"))
        labour_only = next(u for u in s.scalars(select(InstalledUnit).where(InstalledUnit.contract_coverage == "labour"))
                           if tk.charges(u, covered.created_at.astimezone(SH).date())[0] == "contract")
        contract = _raise(s, _user(s, "service"), labour_only.hospital.code, unit=labour_only)
        assert (covered.warranty_standing, covered.chargeable) == ("warranty", False)
        assert (out.warranty_standing, out.chargeable) == ("out_of_warranty", True)
        # a contract covering labour only: labour free, parts charged
        assert contract.warranty_standing == "contract" and contract.chargeable is False
        assert tk.charges(labour_only, date.today())[1:] == (False, True)
        # no unit: nothing charged until after-sales settle it
        loose = _raise(s, hospital1)
        assert (loose.warranty_standing, loose.chargeable) == ("unknown", False)
        # labour is entered only where it is charged
        service = _user(s, "service")
        with pytest.raises(InvalidInput) as err:
            tk.resolve(s, covered, service, {"resolution": "更换电源板", "labour_amount": "800"})
        assert err.value.field == "labour_amount"
        tk.resolve(s, out, service, {"resolution": "更换电源板", "labour_amount": "800.00"})
        assert out.labour_amount == Decimal("800.00")
        s.rollback()


# --- the life of a ticket ------------------------------------------------------------------------

def test_after_sales_assigns_answers_resolves_and_the_hospital_confirms(as_tenant):
    with as_tenant("acme") as s:
        t = _raise(s, _user(s, "hospital1"), urgency="high")
        service = _user(s, "service")
        tk.assign(s, t, service, service.id, "今日下午到场")
        assert t.status == "assigned" and t.assigned_to_id == service.id and t.responded_at is not None
        tk.add_note(s, t, service, "已到场，初判为光路模块故障")
        assert t.status == "in_progress"
        with pytest.raises(InvalidInput):  # the hospital cannot confirm what is not resolved
            tk.confirm(s, t, _user(s, "hospital1"), {"rating": "5"})
        tk.resolve(s, t, service, {"resolution": "更换光路模块，质控通过"})
        assert t.status == "resolved" and t.resolved_at is not None
        mail = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "ticket_resolved")
                        .order_by(OutboxMessage.id.desc()))
        assert mail.to_address == "hospital1@acme.test" and t.number in mail.subject
        with pytest.raises(InvalidInput):  # only the hospital confirms
            tk.confirm(s, t, _user(s, "hospital2"), {"rating": "5"})
        with pytest.raises(InvalidInput) as err:
            tk.confirm(s, t, _user(s, "hospital1"), {"rating": "9"})
        assert err.value.field == "rating"
        tk.reopen(s, t, _user(s, "hospital1"), {"reopen_reason": "下午又报同样错误"})
        assert t.status == "in_progress" and t.resolved_at is None
        from app.compliance.models import AuditEvent

        audit = s.scalar(select(AuditEvent).where(AuditEvent.entity_type == "service_tickets",
                                                  AuditEvent.entity_id == str(t.id)).order_by(AuditEvent.seq.desc()))
        assert audit.reason == "下午又报同样错误" and audit.after["status"] == "in_progress"
        tk.resolve(s, t, service, {"resolution": "更换主控板，连续运行 4 小时无报错"})
        tk.confirm(s, t, _user(s, "hospital1"), {"rating": "4", "rating_comment": "响应及时"})
        assert t.status == "confirmed" and t.rating == 4 and t.confirmed_at is not None
        kinds = [e.kind for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id))]
        assert kinds == ["raised", "assigned", "note", "resolved", "reopened", "resolved", "confirmed"]
        with pytest.raises(InvalidInput):
            tk.add_note(s, t, service, "补充")
        s.rollback()


def test_dealer_answers_its_hospitals_ticket_and_raises_for_it(as_tenant):
    with as_tenant("acme") as s:
        t = _raise(s, _user(s, "hospital1"))
        dealer1 = _user(s, "dealer1")
        tk.add_note(s, t, dealer1, "经销商工程师已电话指导重启")
        assert t.responded_at is not None and t.status == "in_progress"
        with pytest.raises(InvalidInput):
            tk.add_note(s, t, _user(s, "dealer2"), "越权")
        mine = _raise(s, dealer1)
        assert mine.raised_via == "dealer" and mine.responded_at is None  # raising is not answering
        s.rollback()


# --- escalation ---------------------------------------------------------------------------------------

def test_overdue_tickets_escalate_once_per_level_with_mail(as_tenant, no_policies):
    raised = datetime(2026, 12, 1, 9, 0, tzinfo=SH)  # high: respond by 13:00, resolve by 12-03 09:00
    with as_tenant("acme") as s:
        t = _raise(s, _user(s, "hospital1"), urgency="high", now=raised)
        assert tk.escalate_overdue(s, raised + timedelta(hours=3)) == 0 or t.escalation_level == 0
        tk.escalate_overdue(s, raised + timedelta(hours=5))
        assert t.escalation_level == 1
        first = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ticket_escalated",
                                                      OutboxMessage.subject.contains(t.number))).all()
        assert {m.to_address for m in first} == {"service@acme.test"}
        tk.escalate_overdue(s, raised + timedelta(hours=6))  # again: nothing new
        assert len(s.scalars(select(OutboxMessage).where(OutboxMessage.subject.contains(t.number))).all()) == len(first)
        tk.add_note(s, t, _user(s, "service"), "已联系")
        tk.escalate_overdue(s, raised + timedelta(hours=49))  # resolution overdue
        assert t.escalation_level == 2
        second = {m.to_address for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.subject.contains(t.number), OutboxMessage.subject.contains("2")))}
        assert "sales.east@acme.test" in second and "sales.south@acme.test" not in second
        tk.escalate_overdue(s, raised + timedelta(hours=73))  # half the target again
        assert t.escalation_level == 3
        assert "admin@acme.test" in {m.to_address for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.subject.contains(t.number)))}
        levels = [e.data["level"] for e in s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.kind == "escalated").order_by(TicketEvent.id))]
        assert levels == [1, 2, 3]
        s.rollback()


def test_the_periodic_escalation_runs_in_every_tenant(app, engine, as_tenant):
    from app.service.escalation import run_escalation

    long_ago = datetime.now(timezone.utc) - timedelta(days=30)
    with as_tenant("acme") as s:
        t = _raise(s, _user(s, "hospital1"), urgency="critical", now=long_ago)
        ticket_id = t.id
    lines = run_escalation(engine, force=True)
    assert any(line.startswith("acme: escalated") for line in lines)
    with as_tenant("acme") as s:
        assert s.get(ServiceTicket, ticket_id).escalation_level == 3
        tk.cancel(s, s.get(ServiceTicket, ticket_id), _user(s, "service"), {"cancel_reason": "测试数据"})
    assert run_escalation(engine) == [] or True  # throttled or nothing left: either way no error


# --- region view ------------------------------------------------------------------------------------------

def test_region_view_gives_medians_and_share_within_sla(as_tenant, no_policies):
    day = date(2026, 6, 10)
    base = datetime(2026, 6, 10, 9, 0, tzinfo=SH)
    with as_tenant("acme") as s:
        service, hospital1 = _user(s, "service"), _user(s, "hospital1")
        minutes = [(60, 600), (120, 1200), (600, 9000)]  # normal: 8 h response, 5 days resolution
        for response, resolution in minutes:
            t = _raise(s, hospital1, now=base)
            tk.add_note(s, t, service, "已受理", now=base + timedelta(minutes=response))
            tk.resolve(s, t, service, {"resolution": "已修复"}, now=base + timedelta(minutes=resolution))
        rows = {r["name"]: r for r in tk.region_times(s, service, day, day, now=base + timedelta(days=30))}
        east = rows["华东"]
        assert east["tickets"] == 3 and east["active"] == 0
        assert round(east["median_response"]) == 120 and round(east["median_resolution"]) == 1200
        assert (east["response_met"], east["response_counted"], east["response_pct"]) == (2, 3, Decimal("66.7"))
        assert (east["resolution_met"], east["resolution_counted"]) == (2, 3)
        assert "京津冀" not in rows
        # a regional manager of 华南 sees no 华东 figures
        assert tk.region_times(s, _user(s, "sales.south"), day, day) == []
        s.rollback()


# --- pages and scope ------------------------------------------------------------------------------------

@pytest.fixture()
def shanghai_ticket(as_tenant):
    with as_tenant("acme") as s:
        t = _raise(s, _user(s, "hospital1"), urgency="critical", unit=_unit(s, "H-SH-001", "warranty"))
        return t.id


def test_nobody_else_can_read_or_change_a_ticket(signed_in, shanghai_ticket):
    tid = shanghai_ticket
    for local in ("hospital2", "dealer2"):
        b = signed_in("acme", local)
        portal = "hospital" if local.startswith("hospital") else "dealer"
        assert b.get(f"/{portal}/tickets/{tid}").status_code == 404, local
        assert "化学发光仪报错" not in b.get(f"/{portal}/tickets").get_data(as_text=True)
        assert b.post(f"/{portal}/tickets/{tid}/note", {"note": "x"}, token_from=f"/{portal}/tickets").status_code == 404
    assert signed_in("acme", "hospital2").post(f"/hospital/tickets/{tid}/cancel", {"cancel_reason": "x"},
                                               token_from="/hospital/tickets").status_code == 404
    south = signed_in("acme", "sales.south")
    assert south.get(f"/manufacturer/tickets/{tid}").status_code == 404
    globex = signed_in("globex", "admin")
    assert globex.get(f"/manufacturer/tickets/{tid}").status_code == 404
    assert globex.post(f"/manufacturer/tickets/{tid}/resolve", {"resolution": "x"},
                       token_from="/manufacturer/tickets").status_code == 404
    # roles: finance neither reads nor works tickets; a regional manager reads but does not work them
    assert signed_in("acme", "finance").get("/manufacturer/tickets").status_code == 403
    east = signed_in("acme", "sales.east")
    assert east.get(f"/manufacturer/tickets/{tid}").status_code == 200
    assert east.post(f"/manufacturer/tickets/{tid}/resolve", {"resolution": "x"},
                     token_from="/manufacturer/tickets").status_code == 403
    assert signed_in("acme", "dealer1.sales").get(f"/dealer/tickets/{tid}").status_code == 200
    for path in ("/manufacturer/service-times", "/manufacturer/sla-policies"):
        assert signed_in("acme", "hospital1").get(path).status_code == 403
        assert signed_in("acme", "dealer1").get(path).status_code == 403


def test_every_act_is_closed_to_the_other_hospital_dealer_and_tenant(signed_in, as_tenant, shanghai_ticket):
    tid = shanghai_ticket
    acts = {"hospital": ("note", "confirm", "reopen", "cancel"), "dealer": ("note", "resolve"),
            "manufacturer": ("assign", "note", "parts", "resolve", "cancel")}
    data = {"note": "x", "rating": "5", "reopen_reason": "x", "cancel_reason": "x", "resolution": "x",
            "assigned_to_id": "1", "stock-0": "1:1", "quantity-0": "1"}
    outsiders = {"hospital": [("acme", "hospital2"), ("globex", "hospital1")],
                 "dealer": [("acme", "dealer2"), ("globex", "dealer1")],
                 "manufacturer": [("globex", "admin"), ("acme", "sales.south")]}
    for portal, names in acts.items():
        for slug, local in outsiders[portal]:
            b = signed_in(slug, local)
            assert b.get(f"/{portal}/tickets/{tid}").status_code == 404, (slug, local)
            for act in names:
                code = b.post(f"/{portal}/tickets/{tid}/{act}", data, token_from=f"/{portal}/tickets").status_code
                assert code in (403, 404), (slug, local, act, code)
    for slug, local in (("acme", "hospital1"), ("acme", "dealer1")):  # other portals' acts
        b = signed_in(slug, local)
        assert b.post(f"/manufacturer/tickets/{tid}/resolve", data, token_from="/account").status_code == 403
    with as_tenant("acme") as s:
        t = s.get(ServiceTicket, tid)
        assert t.status == "open" and t.assigned_to_id is None and t.resolution is None
        assert [e.kind for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tid))] == ["raised"]
        policy_id = s.scalar(select(SlaPolicy.id).limit(1))
    for slug, local in (("acme", "hospital1"), ("acme", "dealer1"), ("acme", "sales.east")):
        b = signed_in(slug, local)
        code = b.post(f"/manufacturer/sla-policies/{policy_id}/delete", {}, token_from="/account").status_code
        assert code in (403, 404), (slug, local)
        if slug == "acme":
            assert b.post("/manufacturer/sla-policies/hours", {"opens": "00:00", "closes": "23:00", "weekdays": "6"},
                          token_from="/account").status_code == 403
    with as_tenant("acme") as s:
        assert s.get(SlaPolicy, policy_id) is not None
        assert tk.service_hours(s).weekdays == 31


def test_after_sales_raise_form_lists_hospitals_then_units(signed_in, as_tenant):
    service = signed_in("acme", "service")
    first = service.get("/manufacturer/tickets/new").get_data(as_text=True)
    assert 'name="hospital"' in first and "北京协和医院" in first and 'name="unit_id"' not in first
    with as_tenant("acme") as s:
        unit = _unit(s, "H-BJ-002", "warranty")
        hospital_id, unit_id = unit.hospital_id, unit.id
    form = service.get(f"/manufacturer/tickets/new?hospital={hospital_id}&unit={unit_id}").get_data(as_text=True)
    assert f'<option value="{unit_id}" selected>' in form
    assert signed_in("acme", "sales.east").get("/manufacturer/tickets/new").status_code == 403
    english = service.get("/manufacturer/tickets", headers={"Accept-Language": "en"})
    assert english.status_code == 200


def test_the_whole_journey_through_the_pages(signed_in, as_tenant, shanghai_ticket):
    tid = shanghai_ticket
    service = signed_in("acme", "service")
    queue = service.get("/manufacturer/tickets?urgency=critical").get_data(as_text=True)
    assert f"/manufacturer/tickets/{tid}" in queue and 'hx-trigger="every 60s"' in queue
    fragment = service.get("/manufacturer/tickets?urgency=critical", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and f"/manufacturer/tickets/{tid}" in fragment
    with as_tenant("acme") as s:
        me = _user(s, "service").id
    page = f"/manufacturer/tickets/{tid}"
    bad = service.post(f"{page}/assign", {"assigned_to_id": ""}, token_from=page)
    assert bad.status_code == 400 and 'id="f-assigned_to_id-error"' in bad.get_data(as_text=True)
    assert service.post(f"{page}/assign", {"assigned_to_id": me}, token_from=page).status_code == 303
    assert service.post(f"{page}/note", {"note": "工程师已出发"}, token_from=page).status_code == 303
    empty = service.post(f"{page}/resolve", {"resolution": ""}, token_from=page)
    assert empty.status_code == 400 and 'id="f-resolution-error"' in empty.get_data(as_text=True)
    assert service.post(f"{page}/resolve", {"resolution": "更换电源模块"}, token_from=page).status_code == 303
    hospital = signed_in("acme", "hospital1")
    mine = f"/hospital/tickets/{tid}"
    detail = hospital.get(mine).get_data(as_text=True)
    assert "更换电源模块" in detail and "ticket_confirm" not in detail and f"{mine}/confirm" in detail
    assert hospital.post(f"{mine}/confirm", {"rating": "5", "rating_comment": "很快"}, token_from=mine).status_code == 303
    with as_tenant("acme") as s:
        t = s.get(ServiceTicket, tid)
        assert (t.status, t.rating, t.assigned_to_id) == ("confirmed", 5, me)
    times = service.get("/manufacturer/service-times").get_data(as_text=True)
    assert 'data-region="华东"' in times
    assert service.get("/manufacturer/service-times?since=2026-13-01").status_code == 400


def test_sla_policy_page_saves_and_refuses_with_messages(signed_in, as_tenant, no_policies):
    service = signed_in("acme", "service")
    bad = service.post("/manufacturer/sla-policies", {"urgency": "high", "response_hours": "abc", "resolution_hours": "8"})
    assert bad.status_code == 400 and 'id="f-response_hours-error"' in bad.get_data(as_text=True)
    ok = service.post("/manufacturer/sla-policies", {"urgency": "high", "response_hours": "2", "resolution_hours": "24",
                                                     "business_hours": "1"})
    assert ok.status_code == 303
    with as_tenant("acme") as s:
        p = s.scalar(select(SlaPolicy).where(SlaPolicy.urgency == "high", SlaPolicy.region_id.is_(None)))
        assert (p.response_minutes, p.resolution_minutes, p.business_hours) == (120, 1440, True)
    wrong = service.post("/manufacturer/sla-policies/hours", {"opens": "18:00", "closes": "09:00", "weekdays": ["0"]},
                         token_from="/manufacturer/sla-policies")
    assert wrong.status_code == 400 and 'id="f-closes-error"' in wrong.get_data(as_text=True)
    none = service.post("/manufacturer/sla-policies/hours", {"opens": "09:00", "closes": "18:00"},
                        token_from="/manufacturer/sla-policies")
    assert none.status_code == 400 and "请至少选择一天" in none.get_data(as_text=True)
    hours = service.post("/manufacturer/sla-policies/hours", {"opens": "09:00", "closes": "18:00", "weekdays": ["0", "5"]},
                         token_from="/manufacturer/sla-policies")
    assert hours.status_code == 303
    page = service.get("/manufacturer/sla-policies").get_data(as_text=True)
    assert 'value="09:00"' in page and 'id="wd-5" name="weekdays" value="5" checked' in page
    with as_tenant("acme") as s:
        from app.core.settings import put_setting

        for name, value in (("service_hours_start", 510), ("service_hours_end", 1050), ("service_weekdays", 31)):
            put_setting(s, name, value)


def test_dealer_and_hospital_raise_through_their_pages(signed_in, as_tenant):
    dealer = signed_in("acme", "dealer1")
    with as_tenant("acme") as s:
        hospital_id = _hospital(s, "H-SH-001").id
    form = dealer.get(f"/dealer/tickets/new?hospital={hospital_id}").get_data(as_text=True)
    assert "复旦大学附属中山医院" in form and 'name="unit_id"' in form
    refused = dealer.post("/dealer/tickets/new", {"hospital_id": hospital_id, "urgency": "normal", "title": "",
                                                  "description": "x"}, token_from="/dealer/tickets/new")
    assert refused.status_code == 400 and 'id="f-title-error"' in refused.get_data(as_text=True)
    made = dealer.post("/dealer/tickets/new", {"hospital_id": hospital_id, "urgency": "low", "title": "季度巡检发现异响",
                                               "description": "样本针运动时有异响"}, token_from="/dealer/tickets/new")
    assert made.status_code == 303
    hospital = signed_in("acme", "hospital1")
    assert "季度巡检发现异响" in hospital.get("/hospital/tickets").get_data(as_text=True)
    assert "季度巡检发现异响" not in signed_in("acme", "hospital2").get("/hospital/tickets?status=all").get_data(as_text=True)


# --- spare parts ------------------------------------------------------------------------------------------

def _balance(s, warehouse_id, lot_id):
    from app.inventory.models import StockBalance

    return s.scalar(select(StockBalance.quantity).where(StockBalance.warehouse_id == warehouse_id,
                                                        StockBalance.lot_id == lot_id,
                                                        StockBalance.state == "available")) or 0


def test_spare_parts_leave_stock_free_in_warranty_and_priced_out_of_it(as_tenant):
    from app.inventory.models import StockMovement

    with as_tenant("acme") as s:
        service = _user(s, "service")
        stock = next(p for p in tk.available_parts(s) if _balance(s, p["warehouse_id"], p["lot_id"]) >= 2)
        before = _balance(s, stock["warehouse_id"], stock["lot_id"])
        covered = _raise(s, _user(s, "hospital1"), unit=_unit(s, "H-SH-001", "warranty"))
        parts = tk.use_ticket_parts(s, covered, service, [{**stock, "quantity": 1}])
        assert [(p.quantity, p.charged, p.unit_price) for p in parts] == [(1, False, Decimal("0.00"))]
        assert covered.status == "in_progress" and covered.responded_at is not None
        out = _raise(s, _user(s, "hospital1"), unit=_unit(s, "H-SH-001", "out_of_warranty"))
        with pytest.raises(InvalidInput) as err:  # out of warranty: the price is needed
            tk.use_ticket_parts(s, out, service, [{**stock, "quantity": 1}])
        assert err.value.field == "price-0"
        with pytest.raises(InvalidInput) as err:  # more than there is
            tk.use_ticket_parts(s, out, service, [{**stock, "quantity": before + 5, "unit_price": "10"}])
        assert err.value.field == "quantity-0"
        charged = tk.use_ticket_parts(s, out, service, [{**stock, "quantity": 1, "unit_price": "1280.00"}])
        assert [(p.charged, p.unit_price) for p in charged] == [(True, Decimal("1280.00"))]
        assert _balance(s, stock["warehouse_id"], stock["lot_id"]) == before - 2
        moves = s.scalars(select(StockMovement).where(StockMovement.kind == "service_use",
                                                      StockMovement.id.in_([p.movement_id for p in parts + charged]))).all()
        assert len(moves) == 2
        with pytest.raises(InvalidInput):  # a dealer does not take the manufacturer's stock
            tk.use_ticket_parts(s, out, _user(s, "dealer1"), [{**stock, "quantity": 1}])
        s.rollback()


def test_parts_form_on_the_ticket_page(signed_in, as_tenant, shanghai_ticket):
    tid = shanghai_ticket
    with as_tenant("acme") as s:
        stock = next(p for p in tk.available_parts(s) if _balance(s, p["warehouse_id"], p["lot_id"]) >= 1)
    service = signed_in("acme", "service")
    page = f"/manufacturer/tickets/{tid}"
    html = service.get(page).get_data(as_text=True)
    assert f'value="{stock["warehouse_id"]}:{stock["lot_id"]}"' in html
    bad = service.post(f"{page}/parts", {"stock-0": "", "quantity-0": "2"}, token_from=page)
    assert bad.status_code == 400 and 'id="f-stock-0-error"' in bad.get_data(as_text=True)
    ok = service.post(f"{page}/parts", {"stock-0": f'{stock["warehouse_id"]}:{stock["lot_id"]}', "quantity-0": "1"},
                      token_from=page)
    assert ok.status_code == 303
    assert "使用备件" in service.get(page).get_data(as_text=True)
    assert "使用备件" in signed_in("acme", "hospital1").get(f"/hospital/tickets/{tid}").get_data(as_text=True)


# --- the demo ------------------------------------------------------------------------------------------------

def test_the_demo_has_three_months_of_tickets_across_the_regions(as_tenant, signed_in):
    with as_tenant("acme") as s:
        demo = select(ServiceTicket).where(ServiceTicket.description.contains("。"))
        tickets = s.scalars(demo).all()
        statuses = {t.status for t in tickets}
        assert len(tickets) >= 25 and {"confirmed", "resolved", "in_progress", "open", "cancelled"} <= statuses
        assert any(t.escalation_level for t in tickets) and any(t.rating for t in tickets)
        assert s.scalar(select(SlaPolicy).where(SlaPolicy.region_id.is_not(None))) is not None
    times = signed_in("acme", "service").get("/manufacturer/service-times").get_data(as_text=True)
    for area in ("京津冀", "华东", "华南"):
        assert f'data-region="{area}"' in times
    assert "工单" in signed_in("acme", "hospital1").get("/hospital/tickets?status=all").get_data(as_text=True)
    dashboard = signed_in("acme", "hospital1").get("/hospital/").get_data(as_text=True)
    with as_tenant("acme") as s:
        counts = tk.ticket_counts(s, _user(s, "hospital1"))
    assert f"服务工单：{counts['active']} 张处理中，{counts['resolved']} 张已解决待您确认。" in dashboard


def test_a_unit_page_lists_its_tickets_and_raises_one_for_it(signed_in, as_tenant, shanghai_ticket):
    with as_tenant("acme") as s:
        t = s.get(ServiceTicket, shanghai_ticket)
        unit_id, number = t.unit_id, t.number
    page = signed_in("acme", "hospital1").get(f"/hospital/equipment/{unit_id}").get_data(as_text=True)
    assert number in page and f"/hospital/tickets/new?hospital=" in page and f"unit={unit_id}" in page
    form = signed_in("acme", "hospital1").get(f"/hospital/tickets/new?unit={unit_id}").get_data(as_text=True)
    assert f'<option value="{unit_id}" selected>' in form
    assert number in signed_in("acme", "service").get(f"/manufacturer/installed-base/{unit_id}").get_data(as_text=True)
    assert signed_in("acme", "hospital2").get(f"/hospital/equipment/{unit_id}").status_code == 404


def test_the_queue_exports_to_excel_with_its_filters_and_scope(signed_in, run_worker, as_tenant, shanghai_ticket):
    from tests.test_exports import exported_rows

    with as_tenant("acme") as s:
        number = s.get(ServiceTicket, shanghai_ticket).number
        region = s.get(Region, _hospital(s, "H-SH-001").region_id).name
    service = signed_in("acme", "service")
    rows = exported_rows(service, run_worker, as_tenant, "service_tickets", "/manufacturer/tickets", urgency="critical")
    assert rows[0][:3] == ["工单", "故障", "医院"]
    mine = next(r for r in rows if r[0] == number)
    assert mine[2] == "复旦大学附属中山医院" and mine[3] == region and mine[6] == "特急"
    assert {r[6] for r in rows[1:]} == {"特急"}
    south = exported_rows(signed_in("acme", "sales.south"), run_worker, as_tenant, "service_tickets",
                          "/manufacturer/tickets", status="all")
    assert number not in {r[0] for r in south[1:]}
    assert signed_in("acme", "finance").post("/manufacturer/exports", {"list": "service_tickets", "request_id": "x" * 32},
                                             token_from="/manufacturer/dealers").status_code == 403


def test_the_queue_walks_page_by_page_by_due_time(as_tenant):
    from app.core.pagination import PER_PAGE

    with as_tenant("acme") as s:
        hospital1, service = _user(s, "hospital1"), _user(s, "service")
        start = datetime(2026, 3, 2, 9, 0, tzinfo=SH)
        made = {_raise(s, hospital1, urgency="low", now=start + timedelta(minutes=7 * n), title=f"分页测试 {n}").id
                for n in range(PER_PAGE + 7)}
        seen, cursor, dues = [], None, []
        while True:
            page = tk.tickets_page(s, service, cursor, "", urgency="low")
            seen += [r.id for r in page.items]
            dues += [r.resolution_due_at for r in page.items]
            cursor = page.next_cursor
            if not cursor:
                break
        assert made <= set(seen) and len(seen) == len(set(seen))
        assert dues == sorted(dues)
        s.rollback()
