"""The dealer's after-sales pages: the units it sold or services, their maintenance
visits (those assigned to it it reports on)."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import redirect
from app.service import plans
from app.service import queries as q
from portals import installed_base as pages
from portals.forms import refused


class RHEquipment(RHDealer):
    def get(self):
        return pages.units_page("dealer")


class RHEquipmentUnit(RHDealer):
    def _load(self, unit_id, **kwargs):
        self.unit = get_or_404(q.unit_for(db.session, current_user, unit_id))

    def get(self, unit_id):
        return pages.unit_page("dealer", self.unit)


class RHServiceVisits(RHDealer):
    def get(self):
        return pages.visits_page("dealer")


class RHServiceVisitRecord(RHDealer):
    def _load(self, visit_id, **kwargs):
        self.visit = get_or_404(q.visit_for(db.session, current_user, visit_id))


class RHServiceVisit(RHServiceVisitRecord):
    def get(self, visit_id):
        return pages.visit_page("dealer", self.visit)


class RHServiceVisitReport(RHServiceVisitRecord):
    """A dealer's engineer reports a visit assigned to the dealer (checklist and findings;
    spare parts come from the manufacturer's stock, so after-sales record those)."""

    def post(self, visit_id):
        values = request.form.to_dict()
        values.pop("parts", None)
        try:
            plans.report_visit(db.session, self.visit, current_user, values)
        except InvalidInput as err:
            return pages.visit_page("dealer", self.visit, refused(err), request.form.to_dict(), status=400)
        flash(_("Visit report saved."), "success")
        return redirect(url_for("dealer.service_visit", visit_id=self.visit.id))
