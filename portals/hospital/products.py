"""Hospital page: the products it may buy today, from which authorized dealers, and the
tender award price when one applies."""
from __future__ import annotations


from flask_login import current_user

from app.core.db import db
from app.core.handlers import RHHospital
from app.core.htmx import render_page
from app.pricing import queries as pricing_q
from app.core.i18n import shanghai_today


class RHProducts(RHHospital):
    def get(self):
        day = shanghai_today()
        return render_page("hospital/products.html", day=day,
                           rows=pricing_q.hospital_products(db.session, current_user.hospital_id, day))
