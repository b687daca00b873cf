"""URL map of the dealer portal."""
from flask import Blueprint
from flask_login import current_user

from app.compliance import approvals
from app.core.db import db
from app.core.handlers import RHDealer
from app.core.htmx import render_page
from app.identity.queries import colleagues
from portals import approvals as portal_approvals
from portals.dealer import orders as orders_h
from portals.dealer import deliveries as deliveries_h
from portals.dealer import pricing as pricing_h
from portals.dealer import profile
from portals.dealer import surgery as surgery_h
from portals.dealer import projects as projects_h
from portals.dealer import sellout as sellout_h
from app.core.i18n import shanghai_today


class RHDashboard(RHDealer):
    def get(self):
        from app.compliance import expiry

        return render_page("dealer/dashboard.html", dealer=current_user.dealer,
                           colleagues=colleagues(db.session, current_user),
                           expiring=expiry.expiring(db.session, shanghai_today(), dealer_id=current_user.dealer_id))


class RHRequests(RHDealer):
    """Where each of my requests stands, and who holds it."""

    def get(self):
        return render_page("dealer/requests.html", items=approvals.requested_by(db.session, current_user),
                           kinds=approvals.KINDS)


class RHRequest(portal_approvals.RHApprovalRequest, RHDealer):
    pass


bp = Blueprint("dealer", __name__, url_prefix="/dealer")

bp.add_url_rule("/", view_func=RHDashboard.as_view("dashboard"))
bp.add_url_rule("/requests", view_func=RHRequests.as_view("requests"))
bp.add_url_rule("/requests/<int:request_id>", view_func=RHRequest.as_view("request"))
bp.add_url_rule("/profile", view_func=profile.RHProfile.as_view("profile"))
bp.add_url_rule("/profile/contacts", view_func=profile.RHProfileContacts.as_view("profile_contacts"))
bp.add_url_rule("/qualifications", view_func=profile.RHQualifications.as_view("qualifications"))
bp.add_url_rule("/qualifications/new", view_func=profile.RHQualificationUpload.as_view("qualification_new"))
bp.add_url_rule("/qualifications/<int:qualification_id>/renew", view_func=profile.RHQualificationUpload.as_view("qualification_renew"))
bp.add_url_rule("/authorizations", view_func=pricing_h.RHAuthorizations.as_view("authorizations"))
bp.add_url_rule("/authorizations/<int:auth_id>", view_func=pricing_h.RHAuthorization.as_view("authorization"))
bp.add_url_rule("/prices", view_func=pricing_h.RHPrices.as_view("prices"))
bp.add_url_rule("/surgery-reports", view_func=surgery_h.RHSurgeryReports.as_view("surgery_reports"))
bp.add_url_rule("/surgery-reports/new", view_func=surgery_h.RHSurgeryReportNew.as_view("surgery_report_new"))
bp.add_url_rule("/surgery-reports/<int:report_id>", view_func=surgery_h.RHSurgeryReport.as_view("surgery_report"))
bp.add_url_rule("/sell-out", view_func=sellout_h.RHSellOut.as_view("sell_out"))
bp.add_url_rule("/sell-out/new", view_func=sellout_h.RHSellOutNew.as_view("sell_out_new"))
bp.add_url_rule("/sell-out/upload", view_func=sellout_h.RHSellOutUpload.as_view("sell_out_upload"))
bp.add_url_rule("/sell-out/template", view_func=sellout_h.RHSellOutTemplate.as_view("sell_out_template"))
bp.add_url_rule("/channel-stock", view_func=sellout_h.RHChannelStock.as_view("channel_stock"))
bp.add_url_rule("/projects", view_func=projects_h.RHProjects.as_view("projects"))
bp.add_url_rule("/projects/new", view_func=projects_h.RHProjectNew.as_view("project_new"))
bp.add_url_rule("/projects/<int:registration_id>", view_func=projects_h.RHProject.as_view("project"))
bp.add_url_rule("/projects/<int:registration_id>/withdraw", view_func=projects_h.RHProjectWithdraw.as_view("project_withdraw"))
bp.add_url_rule("/orders", view_func=orders_h.RHOrders.as_view("orders"))
bp.add_url_rule("/orders/new", view_func=orders_h.RHOrderNew.as_view("order_new"))
bp.add_url_rule("/orders/<int:order_id>", view_func=orders_h.RHOrder.as_view("order"))
bp.add_url_rule("/orders/<int:order_id>/cancel", view_func=orders_h.RHOrderCancel.as_view("order_cancel"))
bp.add_url_rule("/quotes", view_func=orders_h.RHQuotes.as_view("quotes"))
bp.add_url_rule("/quotes/new", view_func=orders_h.RHQuoteNew.as_view("quote_new"))
bp.add_url_rule("/quotes/<int:quote_id>", view_func=orders_h.RHQuote.as_view("quote"))
bp.add_url_rule("/quotes/<int:quote_id>/convert", view_func=orders_h.RHQuoteConvert.as_view("quote_convert"))
bp.add_url_rule("/quotes/<int:quote_id>/decline", view_func=orders_h.RHQuoteDecline.as_view("quote_decline"))
bp.add_url_rule("/deliveries", view_func=deliveries_h.RHDeliveries.as_view("deliveries"))
bp.add_url_rule("/deliveries/<int:shipment_id>", view_func=deliveries_h.RHDelivery.as_view("delivery"))
bp.add_url_rule("/deliveries/<int:shipment_id>/sign", view_func=deliveries_h.RHDeliverySign.as_view("delivery_sign"))
bp.add_url_rule("/deliveries/<int:shipment_id>/return", view_func=deliveries_h.RHReturnNew.as_view("return_new"))
bp.add_url_rule("/returns", view_func=deliveries_h.RHReturns.as_view("returns"))
bp.add_url_rule("/returns/<int:return_id>", view_func=deliveries_h.RHReturn.as_view("return_detail"))

# --- reconciliation statements (对账单) ---
from portals.dealer import statements as statements_h  # noqa: E402

bp.add_url_rule("/statements", view_func=statements_h.RHStatements.as_view("statements"))
bp.add_url_rule("/statements/<int:statement_id>", view_func=statements_h.RHStatement.as_view("statement"))
bp.add_url_rule("/statements/<int:statement_id>/confirm", view_func=statements_h.RHStatementConfirm.as_view("statement_confirm"))
bp.add_url_rule("/statements/<int:statement_id>/dispute", view_func=statements_h.RHStatementDispute.as_view("statement_dispute"))
bp.add_url_rule("/statements/<int:statement_id>/<any(pdf, xlsx):kind>", view_func=statements_h.RHStatementFile.as_view("statement_file"))
