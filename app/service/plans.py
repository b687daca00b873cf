"""Preventive maintenance (维保计划): plans per installed unit, the visits they put on the
calendar, and the visit report (checklist results, findings, spare parts used).

A plan runs every ``interval_months`` from ``starts_on`` (each due date is counted from
``starts_on``, so a 31 January plan stays on month ends instead of drifting). Its visits
are generated ``HORIZON_MONTHS`` ahead: when the plan is created (or resumed), and by the
daily job for plans whose calendar runs short. A visit not done by its due date is
overdue (``is_overdue``): queries flag it, the daily job counts it. Pausing or ending a
plan cancels its visits still to come. Functions validate, change and flush; they never
commit; every change is audited by the ORM listener.
"""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from app.channel.models import Dealer
from app.compliance.operations import reason
from app.core import coerce
from app.core.daily import daily
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.service.models import PLAN_STATUSES, InstalledUnit, ServicePlan, ServiceVisit
from app.service.parts import PartLine, PartsRefused, use_parts
from app.service.rules import add_months

#: manufacturer roles that plan maintenance and report any visit
PLANNERS = ("admin", "after_sales")
#: manufacturer roles that may be the engineer of a plan
ENGINEER_ROLES = ("after_sales",)
#: how far ahead visits are put on the calendar
HORIZON_MONTHS = 12
RESULTS = ("pass", "fail", "n/a")

PLAN_STATUS_LABELS = {"active": _l("In effect"), "paused": _l("Paused"), "ended": _l("Ended")}
VISIT_STATUS_LABELS = {"scheduled": _l("Scheduled"), "done": _l("Done"), "cancelled": _l("Cancelled"),
                       "overdue": _l("Past due")}
VISIT_BADGES = {"scheduled": "wait", "done": "on", "cancelled": "off", "overdue": "off"}
RESULT_LABELS = {"pass": _l("Pass"), "fail": _l("Fail"), "n/a": _l("Not applicable")}


def due_dates(starts_on: date, interval_months: int, until: date, ends_on: date | None = None) -> list[date]:
    """Every due date of a plan from ``starts_on`` to ``until`` (and ``ends_on``), inclusive."""
    last = min(until, ends_on) if ends_on else until
    dates, k = [], 0
    while True:
        day = add_months(starts_on, k * interval_months)
        if day > last:
            return dates
        dates.append(day)
        k += 1


def is_overdue(visit, today: date) -> bool:
    return visit.status == "scheduled" and visit.due_on < today


def visit_state(visit, today: date) -> str:
    """scheduled / done / cancelled, or overdue for a scheduled visit past its date."""
    return "overdue" if is_overdue(visit, today) else visit.status


def _lock(session: Session, model, row_id: int):
    session.execute(select(model.id).where(model.id == row_id).with_for_update())
    return session.get(model, row_id, populate_existing=True)


def generate_visits(session: Session, plan: ServicePlan, today: date | None = None, since: date | None = None) -> int:
    """Put the plan's visits on the calendar up to ``HORIZON_MONTHS`` ahead of ``today``:
    the due dates from ``since`` (default ``today``: a new plan does not invent visits in
    the past) that have no visit yet. Safe to run twice. Returns how many were added."""
    today = today or shanghai_today()
    if plan.status != "active":
        return 0
    plan = _lock(session, ServicePlan, plan.id)
    have = set(session.scalars(select(ServiceVisit.due_on).where(ServiceVisit.plan_id == plan.id)))
    start = since or today
    added = 0
    for day in due_dates(plan.starts_on, plan.interval_months, add_months(today, HORIZON_MONTHS), plan.ends_on):
        if day < start or day in have:
            continue
        session.add(ServiceVisit(plan_id=plan.id, unit_id=plan.unit_id, due_on=day, engineer_id=plan.engineer_id,
                                 dealer_id=plan.dealer_id))
        added += 1
    session.flush()
    return added


def _checklist(values: dict) -> list[str]:
    raw = values.get("checklist")
    items = raw if isinstance(raw, list) else str(raw or "").splitlines()
    items = [i.strip() for i in items if i and i.strip()]
    if not items:
        raise InvalidInput("checklist", _("List at least one checklist item, one per line."))
    if len(items) > 50:
        raise InvalidInput("checklist", _("Use at most %(n)d checklist items.", n=50))
    if any(len(i) > 200 for i in items):
        raise InvalidInput("checklist", _("Use at most %(n)d characters.", n=200))
    return items


def _assignee(session: Session, values: dict) -> tuple[int | None, int | None]:
    engineer_id, dealer_id = coerce.ident(values, "engineer_id"), coerce.ident(values, "dealer_id")
    if engineer_id is not None:
        engineer = session.get(User, engineer_id)
        if engineer is None or engineer.portal != "manufacturer" or not engineer.active \
                or not engineer.has_role(*ENGINEER_ROLES):
            raise InvalidInput("engineer_id", _("Choose an after-sales engineer from the list."))
    if dealer_id is not None:
        dealer = session.get(Dealer, dealer_id)
        if dealer is None or dealer.status != "active":
            raise InvalidInput("dealer_id", _("Choose an active dealer from the list."))
    if engineer_id is None and dealer_id is None:
        raise InvalidInput("engineer_id", _("Assign an engineer, a dealer, or both."))
    return engineer_id, dealer_id


def engineer_choices(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.portal == "manufacturer", User.active.is_(True),
                                                   User.roles.overlap(list(ENGINEER_ROLES))).order_by(User.name)))


def create_plan(session: Session, unit: InstalledUnit, values: dict, actor, today: date | None = None) -> ServicePlan:
    """A plan for ``unit``: name, interval_months (1–60), starts_on, ends_on, checklist
    (one item per line, or a list), engineer_id and/or dealer_id. Puts its visits on the
    calendar at once."""
    today = today or shanghai_today()
    if unit.status != "active":
        raise InvalidInput("form", _("This unit is retired: it gets no maintenance plan."))
    name = coerce.text(values, "name", required=True, max_length=200)
    interval = coerce.whole(values, "interval_months", 1, 60, required=True)
    starts_on = coerce.day(values, "starts_on", required=True)
    ends_on = coerce.day(values, "ends_on")
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInput("ends_on", _("The plan cannot end before it starts."))
    checklist = _checklist(values)
    engineer_id, dealer_id = _assignee(session, values)
    plan = ServicePlan(unit_id=unit.id, name=name, interval_months=interval, starts_on=starts_on, ends_on=ends_on,
                       checklist=checklist, engineer_id=engineer_id, dealer_id=dealer_id)
    with reason(session, coerce.text(values, "reason", max_length=500)):
        session.add(plan)
        session.flush()
        generate_visits(session, plan, today)
    return plan


def set_plan_status(session: Session, plan: ServicePlan, status: str, actor, today: date | None = None,
                    reason_text: str | None = None) -> ServicePlan:
    """Pause, resume or end a plan. Pausing or ending cancels its visits still to come
    (today's and later); resuming puts them back on the calendar."""
    today = today or shanghai_today()
    if status not in PLAN_STATUSES:
        raise InvalidInput("status", _("Choose one of: %(choices)s.", choices=", ".join(PLAN_STATUSES)))
    plan = _lock(session, ServicePlan, plan.id)
    if plan.status == "ended":
        raise InvalidInput("status", _("This plan has ended."))
    if status == plan.status:
        return plan
    with reason(session, reason_text, "activate" if status == "active" else "deactivate"):
        plan.status = status
        if status == "ended" and (plan.ends_on is None or plan.ends_on > today):
            plan.ends_on = max(today, plan.starts_on)
        if status in ("paused", "ended"):
            for visit in session.scalars(select(ServiceVisit).where(
                    ServiceVisit.plan_id == plan.id, ServiceVisit.status == "scheduled", ServiceVisit.due_on >= today)):
                visit.status = "cancelled"
        session.flush()
        if status == "active":
            for visit in session.scalars(select(ServiceVisit).where(
                    ServiceVisit.plan_id == plan.id, ServiceVisit.status == "cancelled", ServiceVisit.due_on >= today)):
                visit.status = "scheduled"
            session.flush()
            generate_visits(session, plan, today)
    return plan


# --- the visit report -------------------------------------------------------------------------

def may_report(user, visit: ServiceVisit) -> bool:
    """After-sales report any visit; a dealer the visits assigned to it."""
    if visit.status != "scheduled":
        return False
    if user.portal == "manufacturer":
        return user.has_role(*PLANNERS)
    if user.portal == "dealer":
        return visit.dealer_id is not None and visit.dealer_id == user.dealer_id
    return False


def checklist_of(visit: ServiceVisit) -> list[str]:
    return list(visit.plan.checklist) if visit.plan is not None else []


def report_lines(form) -> list[dict]:
    """Spare-part lines of the report form (part_sku-N, part_quantity-N, part_warehouse-N)."""
    lines = []
    for n in range(5):
        sku, quantity = form.get(f"part_sku-{n}"), form.get(f"part_quantity-{n}")
        if (sku or "").strip() or (quantity or "").strip():
            lines.append({"sku_id": sku, "quantity": quantity, "warehouse_id": form.get(f"part_warehouse-{n}"), "row": n})
    return lines


def report_visit(session: Session, visit: ServiceVisit, user, values: dict, today: date | None = None) -> ServiceVisit:
    """Record a visit as done: done_on (not in the future), a result per checklist item
    (``result-<n>``: pass / fail / n/a, ``note-<n>``), findings (required when an item
    failed), and spare parts used (``parts``: lines for ``app.service.parts.use_parts``,
    taken from stock as movements)."""
    today = today or shanghai_today()
    visit = _lock(session, ServiceVisit, visit.id)
    if not may_report(user, visit):
        raise InvalidInput("form", _("This visit is not waiting for your report."))
    done_on = coerce.day(values, "done_on") or today
    if done_on > today:
        raise InvalidInput("done_on", _("The visit date is in the future."))
    results = []
    for n, item in enumerate(checklist_of(visit)):
        result = coerce.choice(values, f"result-{n}", RESULTS) if values.get(f"result-{n}") else None
        if result is None:
            raise InvalidInput(f"result-{n}", _("Record a result for this item."))
        results.append({"item": item, "result": result, "note": coerce.text(values, f"note-{n}", max_length=500)})
    findings = coerce.text(values, "findings", max_length=4000)
    if any(r["result"] == "fail" for r in results) and not findings:
        raise InvalidInput("findings", _("An item failed: describe the finding and what was done."))
    visit.status, visit.done_on, visit.results, visit.findings = "done", done_on, results, findings
    visit.reported_by_id = user.id
    session.flush()
    given = values.get("parts") or []
    parts = _part_lines(given)
    rows = [line.get("row", n) if isinstance(line, dict) else n for n, line in enumerate(given)]
    if parts:
        try:
            use_parts(session, visit=visit, lines=parts, actor_id=user.id)
        except PartsRefused as refused:
            raise InvalidInput(f"{PART_FIELDS.get(refused.field, 'part_sku')}-{rows[refused.row]}",
                               refused.message) from None
    return visit


#: use_parts' field names → the report form's
PART_FIELDS = {"sku_id": "part_sku", "quantity": "part_quantity", "warehouse_id": "part_warehouse", "lot_id": "part_sku"}


def _part_lines(lines: list) -> list[PartLine]:
    """The report's spare-part lines (form text or typed) as ``PartLine``s, in order;
    each refused by its own field. Preventive maintenance parts are not charged."""
    out = []
    for n, line in enumerate(lines):
        if isinstance(line, PartLine):
            out.append(line)
            continue
        n = line.get("row", n)
        sku_id = coerce.ident(line, "sku_id")
        if sku_id is None:
            raise InvalidInput(f"part_sku-{n}", _("Choose a product."))
        quantity = coerce.whole({f"part_quantity-{n}": line.get("quantity")}, f"part_quantity-{n}", 1, 10000, required=True)
        warehouse_id = coerce.ident(line, "warehouse_id")
        if warehouse_id is None:
            raise InvalidInput(f"part_warehouse-{n}", _("Choose one of the manufacturer's active warehouses."))
        out.append(PartLine(sku_id=sku_id, quantity=quantity, warehouse_id=warehouse_id))
    return out


def cancel_visit(session: Session, visit: ServiceVisit, user, reason_text: str | None) -> ServiceVisit:
    visit = _lock(session, ServiceVisit, visit.id)
    if visit.status != "scheduled":
        raise InvalidInput("form", _("Only a scheduled visit can be cancelled."))
    if not reason_text or not reason_text.strip():
        raise InvalidInput("cancel_reason", _("Say why the visit is cancelled."))
    with reason(session, reason_text.strip()[:500]):
        visit.status = "cancelled"
        session.flush()
    return visit


def reschedule_visit(session: Session, visit: ServiceVisit, user, values: dict) -> ServiceVisit:
    """Move a scheduled visit to another day and/or hand it to another engineer or dealer."""
    visit = _lock(session, ServiceVisit, visit.id)
    if visit.status != "scheduled":
        raise InvalidInput("form", _("Only a scheduled visit can be moved."))
    due_on = coerce.day(values, "due_on", required=True)
    if due_on != visit.due_on and visit.plan_id is not None and session.scalar(select(ServiceVisit.id).where(
            ServiceVisit.plan_id == visit.plan_id, ServiceVisit.due_on == due_on, ServiceVisit.id != visit.id)):
        raise InvalidInput("due_on", _("The plan already has a visit on that day."))
    engineer_id, dealer_id = _assignee(session, values)
    with reason(session, coerce.text(values, "reason", max_length=500)):
        visit.due_on, visit.engineer_id, visit.dealer_id = due_on, engineer_id, dealer_id
        session.flush()
    return visit


# --- the daily calendar -----------------------------------------------------------------------

def extend_calendars(session: Session, today: date) -> tuple[int, int]:
    """Visits added for active plans whose calendar ends inside the horizon, and visits
    now overdue. Only the plans that need more visits are touched."""
    horizon = add_months(today, HORIZON_MONTHS)
    last = (select(ServiceVisit.plan_id, func.max(ServiceVisit.due_on).label("last"))
            .group_by(ServiceVisit.plan_id).subquery())
    # the next due date after the last visit, by PostgreSQL's month arithmetic: never later
    # than the anchored date (both clamp to month ends), so no plan that needs a visit is missed
    following = last.c.last + func.make_interval(0, ServicePlan.interval_months)
    short = session.scalars(
        select(ServicePlan).outerjoin(last, last.c.plan_id == ServicePlan.id)
        .where(ServicePlan.status == "active", (last.c.last.is_(None)) | (following <= horizon),
               (ServicePlan.ends_on.is_(None)) | (ServicePlan.ends_on >= today))
        .order_by(ServicePlan.id))
    added = sum(generate_visits(session, plan, today) for plan in list(short))
    overdue = session.scalar(select(func.count()).select_from(ServiceVisit).where(
        ServiceVisit.status == "scheduled", ServiceVisit.due_on < today))
    return added, overdue


def notify_overdue(session: Session, day: date) -> int:
    """Mail (outbox) the engineer — or the dealer's owners, or after-sales when nobody is
    assigned — about each visit that fell due yesterday and is not reported. A message
    already queued is not queued again, so a second run the same day sends nothing."""
    from app.identity.models import OutboxMessage

    due = day.fromordinal(day.toordinal() - 1)
    sent = 0
    load_unit = joinedload(ServiceVisit.unit)
    for visit in session.scalars(select(ServiceVisit).where(ServiceVisit.status == "scheduled", ServiceVisit.due_on == due)
                                 .options(load_unit.joinedload(InstalledUnit.sku), load_unit.joinedload(InstalledUnit.hospital))
                                 .order_by(ServiceVisit.id)):
        unit = visit.unit
        to = []
        if visit.engineer_id:
            to.append(session.get(User, visit.engineer_id))
        if visit.dealer_id:
            to += session.scalars(select(User).where(User.dealer_id == visit.dealer_id, User.roles.contains(["dealer_owner"])))
        if not to:
            to = list(session.scalars(select(User).where(User.portal == "manufacturer", User.roles.contains(["after_sales"]))))
        subject = _("Maintenance visit overdue: %(sku)s %(serial)s at %(hospital)s (due %(day)s)", sku=unit.sku.name,
                    serial=unit.serial_no, hospital=unit.hospital.name, day=visit.due_on.isoformat())[:300]
        body = _("The maintenance visit of %(sku)s %(serial)s (%(department)s) was due on %(day)s and has no report yet. "
                 "Report it, or move it to a new date.", sku=unit.sku.name, serial=unit.serial_no,
                 department=unit.department or "—", day=visit.due_on.isoformat())
        for user in to:
            if user is None or not user.active or session.scalar(select(OutboxMessage.id).where(
                    OutboxMessage.kind == "service_visit_overdue", OutboxMessage.to_address == user.email,
                    OutboxMessage.subject == subject)):
                continue
            session.add(OutboxMessage(to_address=user.email, subject=subject, body=body, kind="service_visit_overdue"))
            sent += 1
    session.flush()
    return sent


@daily("service-visits", needs_table="service_visits", actor="maintenance calendar")
def daily_visits(session: Session, day: date) -> str | None:
    """Extend every active plan's calendar, mail about the visits that just became
    overdue, count the overdue ones. Safe to run twice."""
    added, overdue = extend_calendars(session, day)
    mailed = notify_overdue(session, day)
    return f"{added} visit(s) scheduled, {overdue} overdue, {mailed} reminder(s)" if added or overdue or mailed else None
