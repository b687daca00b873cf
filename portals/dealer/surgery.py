"""Surgery-use reports (手术报台) as a dealer files them: the list, a new report for a
consignment location it holds or serves, and one report. The hospital portal reuses
these views (portals/hospital/surgery.py) with its own scope and URLs."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.coerce import as_id
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.inventory.consignment import available_lots
from app.orders import surgery
from portals.forms import refused

LINE_ROWS = 3
FIELDS = ("warehouse_id", "hospital_id", "surgery_on", "department", "surgeon", "case_ref")


class SurgeryReportsView:
    """GET: the user's reports, newest first, filtered by status."""

    portal_name = "dealer"

    def get(self):
        status = request.args.get("status", "") if request.args.get("status") in surgery.REPORT_STATUSES else ""
        page = surgery.reports_page(db.session, current_user, request.args.get("after"), status)
        return render_page(f"{self.portal_name}/surgery_reports.html", block="results", page=page,
                           status_filter=status, statuses=surgery.status_labels(), portal_name=self.portal_name,
                           may_report=self.new_view.allows(current_user)
                           and bool(surgery.locations_for(db.session, current_user)))


def _form_page(portal_name: str, form: dict, errors: dict, status: int = 200):
    locations = surgery.locations_for(db.session, current_user)
    chosen = next((w for w in locations if w.id == as_id(form.get("warehouse_id"))), None)
    if chosen is None and len(locations) == 1:
        chosen = locations[0]
    if chosen is not None:
        form["warehouse_id"] = chosen.id
    return render_page(f"{portal_name}/surgery_report_new.html", status=status, form=form, errors=errors,
                       locations=locations, chosen=chosen, portal_name=portal_name, rows=range(LINE_ROWS),
                       hospitals=surgery.hospitals_for(db.session, current_user, chosen) if chosen else [],
                       lots=available_lots(db.session, chosen.id) if chosen else [])


class SurgeryReportNewView:
    portal_name = "dealer"

    def get(self):
        return _form_page(self.portal_name, {"warehouse_id": request.args.get("warehouse", ""),
                                             "surgery_on": shanghai_today().isoformat()}, {})

    def post(self):
        form = request.form.to_dict()
        values = {f: form.get(f) for f in FIELDS}
        values["lines"] = [{"lot_id": form.get(f"lot_id-{n}"), "udi": form.get(f"udi-{n}"),
                            "quantity": form.get(f"quantity-{n}")} for n in range(LINE_ROWS)]
        try:
            report = surgery.report_surgery(db.session, current_user, values)
        except InvalidInput as err:
            return _form_page(self.portal_name, form, refused(err), status=400)
        flash(_("Report %(number)s sent; the manufacturer confirms it.", number=report.number), "success")
        return redirect(url_for(f"{self.portal_name}.surgery_report", report_id=report.id))


class SurgeryReportView:
    portal_name = "dealer"

    def _load(self, report_id, **kwargs):
        self.report = get_or_404(surgery.report_for(db.session, current_user, report_id))

    def get(self, report_id):
        from app.compliance import queries as audit_q

        from app.orders.models import Order

        order = db.session.get(Order, self.report.order_id) if self.report.order_id else None
        return render_page(f"{self.portal_name}/surgery_report.html", report=self.report, order=order,
                           statuses=surgery.status_labels(), portal_name=self.portal_name,
                           history=audit_q.history(db.session, "surgery_reports", str(self.report.id)))


class RHSurgeryReportNew(SurgeryReportNewView, RHDealer):
    roles = ("dealer_owner", "dealer_sales")


class RHSurgeryReports(SurgeryReportsView, RHDealer):
    new_view = RHSurgeryReportNew


class RHSurgeryReport(SurgeryReportView, RHDealer):
    pass
