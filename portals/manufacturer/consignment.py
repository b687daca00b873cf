"""The manufacturer's consignment pages (寄售): the locations with their stock value and
last count, one location (lots, surgery reports, counts, replenishment), a surgery
report to confirm or reject, and a count (盘点) with inline counted quantities and its
variance report."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.compliance import queries as audit_q
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import is_htmx, redirect, render_page
from app.core.i18n import shanghai_today
from app.inventory import consignment as cons
from app.orders import surgery
from portals.forms import refused


def _scope():
    return ChannelScope.of(current_user)


class RHConsignment(RHManufacturer):
    """Every consignment location in reach, and the surgery reports waiting for confirmation."""

    roles = cons.CONSIGNMENT_VIEWERS

    def get(self):
        status = request.args.get("status", "reported")
        status = status if status in surgery.REPORT_STATUSES or status == "" else "reported"
        page = surgery.reports_page(db.session, current_user, request.args.get("after"), status)
        return render_page("manufacturer/consignment.html", block="results",
                           locations=cons.locations(db.session, _scope(), shanghai_today()), page=page,
                           status_filter=status, statuses=surgery.status_labels())


class RHConsignmentLocation(RHManufacturer):
    roles = cons.CONSIGNMENT_VIEWERS

    def _load(self, warehouse_id, **kwargs):
        self.warehouse = get_or_404(cons.location_for(db.session, _scope(), warehouse_id))

    def get(self, warehouse_id):
        return location_page(self.warehouse)


def location_page(warehouse, errors: dict | None = None, status: int = 200):
    dealer_name, hospital_name = cons.dealer_and_hospital_names(db.session, warehouse)
    return render_page(
        "manufacturer/consignment_location.html", status=status, warehouse=warehouse, dealer_name=dealer_name,
        hospital_name=hospital_name, lots=cons.available_lots(db.session, warehouse.id),
        reports=surgery.reports_page(db.session, current_user, None, "", warehouse.id),
        counts=cons.counts_of(db.session, warehouse.id), statuses=surgery.status_labels(), errors=errors or {},
        can_count=RHConsignmentCountOpen.allows(current_user),
        can_replenish=_can_replenish())


def _can_replenish() -> bool:
    from portals.manufacturer.transfers import RHTransferNew

    return RHTransferNew.allows(current_user)


class RHConsignmentCountOpen(RHConsignmentLocation):
    roles = cons.CONSIGNMENT_EDITORS

    def post(self, warehouse_id):
        try:
            count = cons.open_count(db.session, self.warehouse, current_user, shanghai_today(), request.form.get("note"))
        except InvalidInput as err:
            errors = refused(err)
            return location_page(self.warehouse, errors, status=400)
        return redirect(url_for("manufacturer.consignment_count", count_id=count.id))


# --- surgery reports --------------------------------------------------------------------------

class RHConsignmentReport(RHManufacturer):
    roles = cons.CONSIGNMENT_VIEWERS

    def _load(self, report_id, **kwargs):
        self.report = get_or_404(surgery.report_for(db.session, current_user, report_id))

    def get(self, report_id):
        return report_page(self.report)


def report_page(report, errors: dict | None = None, status: int = 200):
    from app.orders.models import Order

    return render_page("manufacturer/consignment_report.html", status=status, report=report, errors=errors or {},
                       statuses=surgery.status_labels(),
                       order=db.session.get(Order, report.order_id) if report.order_id else None,
                       history=audit_q.history(db.session, "surgery_reports", str(report.id)),
                       can_decide=RHConsignmentReportConfirm.allows(current_user))


class RHConsignmentReportConfirm(RHConsignmentReport):
    roles = surgery.CONFIRMERS

    def post(self, report_id):
        try:
            order = surgery.confirm_surgery_report(db.session, self.report, current_user)
        except InvalidInput as err:
            errors = refused(err)
            db.session.expire_all()
            return report_page(self.report, errors, status=400)
        flash(_("Confirmed: the units are consumed and sold on order %(number)s.", number=order.number), "success")
        return redirect(url_for("manufacturer.consignment_report", report_id=self.report.id))


class RHConsignmentReportReject(RHConsignmentReport):
    roles = surgery.CONFIRMERS

    def post(self, report_id):
        try:
            surgery.reject_surgery_report(db.session, self.report, current_user, request.form.get("reason", ""))
        except InvalidInput as err:
            errors = refused(err)
            db.session.expire_all()
            return report_page(self.report, errors, status=400)
        flash(_("Report rejected."), "success")
        return redirect(url_for("manufacturer.consignment_report", report_id=self.report.id))


# --- counts -----------------------------------------------------------------------------------------

class RHConsignmentCount(RHManufacturer):
    roles = cons.CONSIGNMENT_VIEWERS

    def _load(self, count_id, **kwargs):
        self.count = get_or_404(cons.count_for(db.session, _scope(), count_id))

    def get(self, count_id):
        return count_page(self.count)


def count_page(count, errors: dict | None = None, status: int = 200):
    variances = [line for line in count.lines if cons.variance(line)]
    return render_page("manufacturer/consignment_count.html", status=status, count=count, errors=errors or {},
                       variances=variances, variance=cons.variance,
                       uncounted=sum(1 for line in count.lines if line.counted_quantity is None),
                       history=audit_q.history(db.session, "consignment_counts", str(count.id)),
                       can_edit=RHConsignmentCountLine.allows(current_user) and count.status == "open")


class RHConsignmentCountLine(RHConsignmentCount):
    """Inline editing of one counted line: GET gives the row as a form, POST saves it
    and gives the row back (the whole page without htmx)."""

    roles = cons.CONSIGNMENT_EDITORS

    def _load(self, count_id, line_id, **kwargs):
        super()._load(count_id)
        self.line = next((line for line in self.count.lines if line.id == line_id), None)
        if self.line is None:
            abort(404)

    def _row(self, editing: bool, errors: dict | None = None, form: dict | None = None, status: int = 200):
        return render_page("manufacturer/consignment_count.html", block="line", status=status, count=self.count,
                           line=self.line, editing=editing, errors=errors or {}, form=form or {},
                           variance=cons.variance, can_edit=self.count.status == "open")

    def get(self, count_id, line_id):
        if not is_htmx():
            return count_page(self.count)
        return self._row(editing=self.count.status == "open",
                         form={"counted_quantity": self.line.counted_quantity
                               if self.line.counted_quantity is not None else self.line.expected_quantity,
                               "variance_reason": self.line.variance_reason or ""})

    def post(self, count_id, line_id):
        form = request.form.to_dict()
        try:
            cons.set_counted(db.session, self.count, self.line, form)
        except InvalidInput as err:
            errors = refused(err)
            db.session.expire_all()
            self._load(count_id, line_id)
            if is_htmx():
                return self._row(editing=True, errors=errors, form=form, status=400)
            return count_page(self.count, errors, status=400)
        if is_htmx():
            return self._row(editing=False)
        return redirect(url_for("manufacturer.consignment_count", count_id=self.count.id))


class RHConsignmentCountClose(RHConsignmentCount):
    roles = cons.CONSIGNMENT_EDITORS

    def post(self, count_id):
        try:
            movements = cons.close_count(db.session, self.count, current_user, request.form.get("reason"))
        except InvalidInput as err:
            errors = refused(err)
            db.session.expire_all()
            return count_page(self.count, errors, status=400)
        flash(_("Count closed; %(n)d adjustments posted.", n=len(movements)), "success")
        return redirect(url_for("manufacturer.consignment_count", count_id=self.count.id))
