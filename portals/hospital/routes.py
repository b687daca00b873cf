"""URL map of the hospital portal."""
from flask import Blueprint
from flask_login import current_user

from app.core.db import db
from app.core.handlers import RHHospital
from app.core.htmx import render_page
from app.identity.queries import colleagues
from portals.hospital import deliveries as deliveries_h
from portals.hospital import products as products_h
from portals.hospital import recalls as recalls_h
from portals.hospital import surgery as surgery_h


class RHDashboard(RHHospital):
    def get(self):
        return render_page("hospital/dashboard.html", hospital=current_user.hospital,
                           colleagues=colleagues(db.session, current_user))


bp = Blueprint("hospital", __name__, url_prefix="/hospital")

bp.add_url_rule("/", view_func=RHDashboard.as_view("dashboard"))
bp.add_url_rule("/products", view_func=products_h.RHProducts.as_view("products"))
bp.add_url_rule("/surgery-reports", view_func=surgery_h.RHSurgeryReports.as_view("surgery_reports"))
bp.add_url_rule("/surgery-reports/new", view_func=surgery_h.RHSurgeryReportNew.as_view("surgery_report_new"))
bp.add_url_rule("/surgery-reports/<int:report_id>", view_func=surgery_h.RHSurgeryReport.as_view("surgery_report"))
bp.add_url_rule("/deliveries", view_func=deliveries_h.RHDeliveries.as_view("deliveries"))
bp.add_url_rule("/deliveries/<int:shipment_id>", view_func=deliveries_h.RHDelivery.as_view("delivery"))
bp.add_url_rule("/deliveries/<int:shipment_id>/sign", view_func=deliveries_h.RHDeliverySign.as_view("delivery_sign"))
bp.add_url_rule("/stock", view_func=deliveries_h.RHStock.as_view("stock"))
bp.add_url_rule("/lots", view_func=deliveries_h.RHLots.as_view("lots"))
bp.add_url_rule("/recalls", view_func=recalls_h.RHRecallNotices.as_view("recalls"))
bp.add_url_rule("/recalls/<int:notice_id>", view_func=recalls_h.RHRecallNotice.as_view("recall"))
bp.add_url_rule("/recalls/<int:notice_id>/acknowledge", view_func=recalls_h.RHRecallAcknowledge.as_view("recall_acknowledge"))
bp.add_url_rule("/recalls/<int:notice_id>/report", view_func=recalls_h.RHRecallReport.as_view("recall_report"))
