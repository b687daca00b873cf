"""URL map of the dealer portal."""
from flask import Blueprint
from flask_login import current_user

from app.core.db import db
from app.core.handlers import RHDealer
from app.core.htmx import render_page
from app.identity.queries import colleagues


class RHDashboard(RHDealer):
    def get(self):
        return render_page("dealer/dashboard.html", dealer=current_user.dealer,
                           colleagues=colleagues(db.session, current_user))


bp = Blueprint("dealer", __name__, url_prefix="/dealer")

bp.add_url_rule("/", view_func=RHDashboard.as_view("dashboard"))
