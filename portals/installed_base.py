"""The installed base and maintenance calendar pages every portal shares (装机, 维保计划):
the equipment list with warranty standing, one unit with its plans and visits, the visit
calendar (upcoming / overdue / past) and one visit with its report. Each portal's
handlers set its endpoint names and scope comes from the signed-in user
(``app.service.queries``)."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from app.channel.models import Dealer
from app.channel.queries import regions
from app.compliance import queries as audit_q
from app.core import coerce
from app.core.db import db
from app.core.htmx import render_page
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.service import installed, plans
from app.service import queries as q
from app.service.parts import parts_of
from app.service.rules import warranty_standing


def labels() -> dict:
    return {"standing_labels": installed.STANDING_LABELS, "standing_badges": installed.STANDING_BADGES,
            "coverage_labels": installed.COVERAGE_LABELS, "unit_status_labels": installed.UNIT_STATUS_LABELS,
            "plan_status_labels": plans.PLAN_STATUS_LABELS, "visit_status_labels": plans.VISIT_STATUS_LABELS,
            "visit_badges": plans.VISIT_BADGES, "result_labels": plans.RESULT_LABELS}


def endpoints(portal: str) -> dict:
    """The after-sales endpoints of a portal, for the shared templates."""
    manufacturer = portal == "manufacturer"
    return {"portal": portal,
            "ep_units": "manufacturer.installed_units" if manufacturer else f"{portal}.equipment",
            "ep_unit": "manufacturer.installed_unit" if manufacturer else f"{portal}.equipment_unit",
            "ep_visits": f"{portal}.service_visits", "ep_visit": f"{portal}.service_visit"}


def units_page(portal: str, **extra):
    """The equipment list with its filters (search, warranty standing, product, status)."""
    args = request.args
    standing = args.get("standing", "") if args.get("standing") in installed.STANDING_LABELS else ""
    status = args.get("status", "active") if args.get("status", "active") in ("active", "retired", "") else "active"
    flt = q.UnitFilter(q=args.get("q", "")[:60], standing=standing, sku_id=coerce.int_arg(args, "sku"), status=status,
                       region_id=coerce.int_arg(args, "region") if portal == "manufacturer" else None)
    day = shanghai_today()
    page = q.units_page(db.session, current_user, flt, args.get("after"), day)
    return render_page("service/units.html", block="results", page=page, flt=flt, day=day, **endpoints(portal),
                       counts=q.standing_counts(db.session, current_user, day), skus=q.equipment_skus(db.session),
                       regions=regions(db.session, max_level=1) if portal == "manufacturer" else [],
                       **labels(), **extra)


def unit_page(portal: str, unit, errors: dict | None = None, status: int = 200, **extra):
    day = shanghai_today()
    return render_page("service/unit.html", status=status, unit=unit, day=day, errors=errors or {}, **endpoints(portal),
                       standing=warranty_standing(unit, day), coverage=installed.coverage(unit, day),
                       plans=q.plans_of(db.session, unit.id),
                       upcoming=q.visits(db.session, current_user, "upcoming", day, unit_id=unit.id, limit=6),
                       overdue=q.visits(db.session, current_user, "overdue", day, unit_id=unit.id),
                       past=q.visits(db.session, current_user, "past", day, unit_id=unit.id, limit=10),
                       history=audit_q.history(db.session, "installed_units", str(unit.id)) if portal == "manufacturer" else [],
                       **unit_tickets(unit), **labels(), **extra)


def unit_tickets(unit) -> dict:
    """The unit's latest service tickets (in the user's scope) and whether the user may raise one."""
    from app.service import tickets as tk

    return {"unit_tickets": tk.tickets_of_unit(db.session, current_user, unit.id),
            "may_raise_ticket": tk.may_raise(current_user), "ticket_labels": tk.status_labels()}


def visits_page(portal: str, **extra):
    """The maintenance calendar: upcoming, overdue or past visits in reach."""
    when = request.args.get("when", "upcoming")
    when = when if when in q.WHENS else "upcoming"
    day = shanghai_today()
    rows = q.visits(db.session, current_user, when, day)
    return render_page("service/visits.html", block="results", rows=rows, when=when, day=day, **endpoints(portal),
                       counts=q.visit_counts(db.session, current_user, day), **labels(), **extra)


def visit_page(portal: str, visit, errors: dict | None = None, form: dict | None = None, status: int = 200, **extra):
    day = shanghai_today()
    engineer = db.session.get(User, visit.engineer_id) if visit.engineer_id else None
    dealer = db.session.get(Dealer, visit.dealer_id) if visit.dealer_id else None
    return render_page("service/visit.html", status=status, visit=visit, day=day, **endpoints(portal),
                       state=plans.visit_state(visit, day), checklist=plans.checklist_of(visit),
                       may_report=plans.may_report(current_user, visit), parts=parts_of(db.session, visit_id=visit.id),
                       engineer_name=engineer.name if engineer else None, dealer_name=dealer.name if dealer else None,
                       errors=errors or {}, form=form or {}, **labels(), **extra)


def report_values(form) -> dict:
    values = form.to_dict()
    values["parts"] = plans.report_lines(form)
    return values
