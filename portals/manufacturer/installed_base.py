"""The manufacturer's after-sales pages (售后): the installed base (list, entry,
correction, one unit), maintenance plans and the visit calendar with reports."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.channel.models import Dealer
from app.channel.queries import ChannelScope, dealer_choices, hospital_choices
from app.compliance import queries as audit_q
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.inventory.models import Warehouse
from app.service import installed, plans
from app.service import queries as q
from app.service.models import COVERAGES
from portals import installed_base as pages
from portals.channel_forms import uploaded_file
from portals.forms import refused

UNIT_FIELDS = ("hospital_id", "sku_id", "serial_no", "installed_on", "department", "location", "dealer_id",
               "warranty_start", "warranty_end", "warranty_coverage", "contract_no", "contract_start", "contract_end",
               "contract_coverage", "status", "note", "reason")
PLAN_FIELDS = ("name", "interval_months", "starts_on", "ends_on", "checklist", "engineer_id", "dealer_id", "reason")
DEFAULT_CHECKLIST = "\n".join(["外观及清洁检查", "电气安全检测", "光路/加样系统校准", "质控品测试", "软件及数据备份",
                               "耗材及易损件检查"])


def _scope():
    return ChannelScope.of(current_user)


class RHUnits(RHManufacturer):
    roles = q.SERVICE_VIEWERS

    def get(self):
        return pages.units_page("manufacturer", can_add=RHUnitNew.allows(current_user))


def _unit_form(form: dict, errors: dict, unit=None, status: int = 200):
    return render_page("service/unit_form.html", status=status, form=form, errors=errors, unit=unit,
                       hospitals=hospital_choices(db.session, _scope()), skus=q.equipment_skus(db.session),
                       dealers=dealer_choices(db.session), coverages=COVERAGES, **pages.labels())


class RHUnitNew(RHManufacturer):
    roles = installed.UNIT_EDITORS

    def get(self):
        return _unit_form({"hospital_id": request.args.get("hospital", ""), "warranty_coverage": "parts_and_labour"}, {})

    def post(self):
        form = request.form.to_dict()
        try:
            hospital_id = form.get("hospital_id", "")
            if hospital_id and not any(str(h.id) == hospital_id for h in hospital_choices(db.session, _scope())):
                raise InvalidInput("hospital_id", _("Choose a hospital from the list."))
            unit = installed.create_unit(db.session, form, current_user)
        except InvalidInput as err:
            return _unit_form(form, refused(err, UNIT_FIELDS), status=400)
        flash(_("Unit %(serial)s added to the installed base.", serial=unit.serial_no), "success")
        return redirect(url_for("manufacturer.installed_unit", unit_id=unit.id))


class RHUnitRecord(RHManufacturer):
    roles = q.SERVICE_VIEWERS

    def _load(self, unit_id, **kwargs):
        self.unit = get_or_404(q.unit_for(db.session, current_user, unit_id))


class RHUnit(RHUnitRecord):
    def get(self, unit_id):
        return pages.unit_page("manufacturer", self.unit, can_edit=RHUnitEdit.allows(current_user),
                               can_plan=RHPlanNew.allows(current_user) and self.unit.status == "active")


def _unit_values(unit) -> dict:
    return {key: ("" if getattr(unit, key, None) is None else getattr(unit, key)) for key in UNIT_FIELDS if hasattr(unit, key)}


class RHUnitReport(RHUnitRecord):
    """Upload the signed installation report (装机报告)."""

    roles = installed.UNIT_EDITORS

    def post(self, unit_id):
        try:
            installed.attach_installation_report(db.session, self.unit, uploaded_file(), current_user)
        except InvalidInput as err:
            unit = get_or_404(q.unit_for(db.session, current_user, unit_id))
            return pages.unit_page("manufacturer", unit, can_edit=True, can_plan=RHPlanNew.allows(current_user),
                                   errors=refused(err, ("file",)), status=400)
        flash(_("Installation report stored."), "success")
        return redirect(url_for("manufacturer.installed_unit", unit_id=self.unit.id))


class RHUnitEdit(RHUnitRecord):
    roles = installed.UNIT_EDITORS

    def get(self, unit_id):
        return _unit_form(_unit_values(self.unit), {}, unit=self.unit)

    def post(self, unit_id):
        form = request.form.to_dict()
        try:
            installed.update_unit(db.session, self.unit, form, current_user)
        except InvalidInput as err:
            return _unit_form(form, refused(err, UNIT_FIELDS), unit=self.unit, status=400)
        flash(_("Unit saved."), "success")
        return redirect(url_for("manufacturer.installed_unit", unit_id=self.unit.id))


def _plan_form(unit, form: dict, errors: dict, status: int = 200):
    return render_page("service/plan_form.html", status=status, unit=unit, form=form, errors=errors,
                       engineers=plans.engineer_choices(db.session), dealers=dealer_choices(db.session))


class RHPlanNew(RHUnitRecord):
    roles = plans.PLANNERS

    def get(self, unit_id):
        form = {"name": _("Preventive maintenance of %(sku)s", sku=self.unit.sku.name), "interval_months": 6,
                "starts_on": shanghai_today().isoformat(), "checklist": DEFAULT_CHECKLIST,
                "dealer_id": self.unit.dealer_id or "",
                "engineer_id": current_user.id if current_user.has_role(*plans.ENGINEER_ROLES) else ""}
        return _plan_form(self.unit, form, {})

    def post(self, unit_id):
        form = request.form.to_dict()
        try:
            plan = plans.create_plan(db.session, self.unit, form, current_user)
        except InvalidInput as err:
            return _plan_form(self.unit, form, refused(err, PLAN_FIELDS), status=400)
        flash(_("Plan saved: its visits are on the calendar."), "success")
        return redirect(url_for("manufacturer.service_plan", plan_id=plan.id))


class RHPlans(RHManufacturer):
    roles = q.SERVICE_VIEWERS

    def get(self):
        status = request.args.get("status", "") if request.args.get("status") in plans.PLAN_STATUS_LABELS else ""
        search = request.args.get("q", "")[:60]
        page = q.plans_page(db.session, current_user, request.args.get("after"), status, search)
        return render_page("service/plans.html", block="results", page=page, status_filter=status, search=search,
                           **pages.labels())


class RHPlanRecord(RHManufacturer):
    roles = q.SERVICE_VIEWERS

    def _load(self, plan_id, **kwargs):
        self.plan = get_or_404(q.plan_for(db.session, current_user, plan_id))


def _plan_page(plan, errors: dict | None = None, status: int = 200):
    day = shanghai_today()
    engineer = db.session.get(User, plan.engineer_id) if plan.engineer_id else None
    dealer = db.session.get(Dealer, plan.dealer_id) if plan.dealer_id else None
    return render_page("service/plan.html", status=status, plan=plan, engineer=engineer, day=day, errors=errors or {},
                       dealer_name=dealer.name if dealer else None,
                       upcoming=q.visits(db.session, current_user, "upcoming", day, plan_id=plan.id),
                       overdue=q.visits(db.session, current_user, "overdue", day, plan_id=plan.id),
                       past=q.visits(db.session, current_user, "past", day, plan_id=plan.id, limit=20),
                       can_change=RHPlanStatus.allows(current_user) and plan.status != "ended",
                       history=audit_q.history(db.session, "service_plans", str(plan.id)), **pages.labels())


class RHPlan(RHPlanRecord):
    def get(self, plan_id):
        return _plan_page(self.plan)


class RHPlanStatus(RHPlanRecord):
    roles = plans.PLANNERS

    def post(self, plan_id):
        try:
            plans.set_plan_status(db.session, self.plan, request.form.get("status", ""), current_user,
                                  reason_text=(request.form.get("reason") or "").strip()[:500] or None)
        except InvalidInput as err:
            return _plan_page(self.plan, refused(err), status=400)
        flash(_("Plan status changed."), "success")
        return redirect(url_for("manufacturer.service_plan", plan_id=self.plan.id))


class RHVisits(RHManufacturer):
    roles = q.SERVICE_VIEWERS

    def get(self):
        return pages.visits_page("manufacturer")


class RHVisitRecord(RHManufacturer):
    roles = q.SERVICE_VIEWERS

    def _load(self, visit_id, **kwargs):
        self.visit = get_or_404(q.visit_for(db.session, current_user, visit_id))


def _visit_page(visit, errors=None, form=None, status=200):
    return pages.visit_page(
        "manufacturer", visit, errors, form, status,
        can_move=RHVisitReschedule.allows(current_user) and visit.status == "scheduled",
        engineers=plans.engineer_choices(db.session), dealers=dealer_choices(db.session),
        part_skus=q.part_skus(db.session),
        warehouses=list(db.session.scalars(select(Warehouse).where(Warehouse.status == "active",
                                                                   Warehouse.kind != "consignment").order_by(Warehouse.code))))


class RHVisit(RHVisitRecord):
    def get(self, visit_id):
        return _visit_page(self.visit)


class RHVisitReport(RHVisitRecord):
    roles = plans.PLANNERS

    def post(self, visit_id):
        try:
            plans.report_visit(db.session, self.visit, current_user, pages.report_values(request.form))
        except InvalidInput as err:
            return _visit_page(self.visit, refused(err), request.form.to_dict(), status=400)
        flash(_("Visit report saved."), "success")
        return redirect(url_for("manufacturer.service_visit", visit_id=self.visit.id))


class RHVisitReschedule(RHVisitRecord):
    roles = plans.PLANNERS

    def post(self, visit_id):
        try:
            plans.reschedule_visit(db.session, self.visit, current_user, request.form.to_dict())
        except InvalidInput as err:
            return _visit_page(self.visit, refused(err), request.form.to_dict(), status=400)
        flash(_("Visit moved."), "success")
        return redirect(url_for("manufacturer.service_visit", visit_id=self.visit.id))


class RHVisitCancel(RHVisitRecord):
    roles = plans.PLANNERS

    def post(self, visit_id):
        try:
            plans.cancel_visit(db.session, self.visit, current_user, request.form.get("cancel_reason"))
        except InvalidInput as err:
            return _visit_page(self.visit, refused(err), request.form.to_dict(), status=400)
        flash(_("Visit cancelled."), "success")
        return redirect(url_for("manufacturer.service_visit", visit_id=self.visit.id))


