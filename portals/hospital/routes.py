"""URL map of the hospital portal."""
from flask import Blueprint
from flask_login import current_user

from app.core.db import db
from app.core.handlers import RHHospital
from app.core.htmx import render_page
from app.core.i18n import shanghai_today
from app.identity.queries import colleagues
from app.service import queries as service_q
from app.service.tickets import ticket_counts
from portals.hospital import deliveries as deliveries_h
from portals.hospital import products as products_h
from portals.hospital import recalls as recalls_h
from portals.hospital import surgery as surgery_h
from portals.hospital import equipment as equipment_h
from portals.hospital import tickets as tickets_h


class RHDashboard(RHHospital):
    def get(self):
        day = shanghai_today()
        return render_page("hospital/dashboard.html", hospital=current_user.hospital,
                           colleagues=colleagues(db.session, current_user),
                           equipment=service_q.standing_counts(db.session, current_user, day),
                           visit_counts=service_q.visit_counts(db.session, current_user, day),
                           next_visits=service_q.visits(db.session, current_user, "upcoming", day, limit=3),
                           tickets=ticket_counts(db.session, current_user))


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

# after-sales: its equipment (装机) with warranty standing and the maintenance calendar
bp.add_url_rule("/equipment", view_func=equipment_h.RHEquipment.as_view("equipment"))
bp.add_url_rule("/equipment/<int:unit_id>", view_func=equipment_h.RHEquipmentUnit.as_view("equipment_unit"))
bp.add_url_rule("/service-visits", view_func=equipment_h.RHServiceVisits.as_view("service_visits"))
bp.add_url_rule("/service-visits/<int:visit_id>", view_func=equipment_h.RHServiceVisit.as_view("service_visit"))
bp.add_url_rule("/tickets", view_func=tickets_h.RHTickets.as_view("tickets"))
bp.add_url_rule("/tickets/new", view_func=tickets_h.RHTicketNew.as_view("ticket_new"))
bp.add_url_rule("/tickets/<int:ticket_id>", view_func=tickets_h.RHTicket.as_view("ticket"))
bp.add_url_rule("/tickets/<int:ticket_id>/note", view_func=tickets_h.RHTicketNote.as_view("ticket_note"))
bp.add_url_rule("/tickets/<int:ticket_id>/confirm", view_func=tickets_h.RHTicketConfirm.as_view("ticket_confirm"))
bp.add_url_rule("/tickets/<int:ticket_id>/reopen", view_func=tickets_h.RHTicketReopen.as_view("ticket_reopen"))
bp.add_url_rule("/tickets/<int:ticket_id>/cancel", view_func=tickets_h.RHTicketCancel.as_view("ticket_cancel"))
bp.add_url_rule("/recalls", view_func=recalls_h.RHRecallNotices.as_view("recalls"))
bp.add_url_rule("/recalls/<int:notice_id>", view_func=recalls_h.RHRecallNotice.as_view("recall"))
bp.add_url_rule("/recalls/<int:notice_id>/acknowledge", view_func=recalls_h.RHRecallAcknowledge.as_view("recall_acknowledge"))
bp.add_url_rule("/recalls/<int:notice_id>/report", view_func=recalls_h.RHRecallReport.as_view("recall_report"))
