"""The hospital's equipment (装机): its units with warranty standing, one unit with its
maintenance plans and visits, and the maintenance calendar (upcoming, overdue, past)."""
from __future__ import annotations

from flask_login import current_user

from app.core.db import db
from app.core.handlers import RHHospital, get_or_404
from app.service import queries as q
from portals import installed_base as pages


class RHEquipment(RHHospital):
    def get(self):
        return pages.units_page("hospital")


class RHEquipmentUnit(RHHospital):
    def _load(self, unit_id, **kwargs):
        self.unit = get_or_404(q.unit_for(db.session, current_user, unit_id))

    def get(self, unit_id):
        return pages.unit_page("hospital", self.unit)


class RHServiceVisits(RHHospital):
    def get(self):
        return pages.visits_page("hospital")


class RHServiceVisit(RHHospital):
    def _load(self, visit_id, **kwargs):
        self.visit = get_or_404(q.visit_for(db.session, current_user, visit_id))

    def get(self, visit_id):
        return pages.visit_page("hospital", self.visit)
