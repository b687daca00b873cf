"""URL map of the dealer portal."""
from flask import Blueprint
from flask_login import current_user

from app.compliance import approvals
from app.core.db import db
from app.core.handlers import RHDealer
from app.core.htmx import render_page
from app.core.i18n import shanghai_today
from app.identity.queries import colleagues
from portals import approvals as portal_approvals
from portals.dealer import orders as orders_h
from portals.dealer import deliveries as deliveries_h
from portals.dealer import pricing as pricing_h
from portals.dealer import recalls as recalls_h
from portals.dealer import profile
from portals.dealer import surgery as surgery_h
from portals.dealer import projects as projects_h
from portals.dealer import sellout as sellout_h
from portals.dealer import special_prices as special_prices_h
from portals.dealer import finance as finance_h
from portals.dealer import equipment as equipment_h
from portals.dealer import rebate_claims as rebate_claims_h
from portals.dealer import rebate_ledger as rebate_ledger_h
from portals.dealer import rebates as rebates_h
from portals.dealer import statements as statements_h
from portals.dealer import tickets as tickets_h


class RHDashboard(RHDealer):
    def get(self):
        from app.compliance import expiry

        from app.finance import queries as finance_q

        today, money = shanghai_today(), current_user.has_role(*finance_q.DEALER_FINANCE)
        return render_page("dealer/dashboard.html", dealer=current_user.dealer,
                           colleagues=colleagues(db.session, current_user),
                           expiring=expiry.expiring(db.session, today, dealer_id=current_user.dealer_id),
                           position=finance_q.dealer_position(db.session, current_user.dealer_id, today) if money else None,
                           reminders=finance_q.recent_reminders(db.session, current_user.dealer_id, today) if money else [],
                           **finance_q.labels())


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

# invoices and collections (回款)
bp.add_url_rule("/invoices", view_func=finance_h.RHInvoices.as_view("invoices"))
bp.add_url_rule("/invoices/<int:invoice_id>", view_func=finance_h.RHInvoice.as_view("invoice"))
bp.add_url_rule("/payments", view_func=finance_h.RHPayments.as_view("payments"))
bp.add_url_rule("/payments/<int:payment_id>", view_func=finance_h.RHPayment.as_view("payment"))

# special prices (特价申请)
bp.add_url_rule("/price-requests", view_func=special_prices_h.RHPriceRequests.as_view("price_requests"))
bp.add_url_rule("/price-requests/new", view_func=special_prices_h.RHPriceRequestNew.as_view("price_request_new"))
bp.add_url_rule("/price-requests/<int:request_id>", view_func=special_prices_h.RHPriceRequest.as_view("price_request"))
bp.add_url_rule("/price-requests/<int:request_id>/withdraw", view_func=special_prices_h.RHPriceRequestWithdraw.as_view("price_request_withdraw"))
bp.add_url_rule("/price-requests/<int:request_id>/resubmit", view_func=special_prices_h.RHPriceRequestResubmit.as_view("price_request_resubmit"))

# rebate ledger, claims (issue 6: rebate ledger and use)
bp.add_url_rule("/rebate-ledger", view_func=rebate_ledger_h.RHRebateLedger.as_view("rebate_ledger"))
bp.add_url_rule("/rebate-ledger/<int:entry_id>", view_func=rebate_ledger_h.RHRebateEntry.as_view("rebate_entry"))
bp.add_url_rule("/rebate-claims", view_func=rebate_claims_h.RHRebateClaims.as_view("rebate_claims"))
bp.add_url_rule("/rebate-claims/new", view_func=rebate_claims_h.RHRebateClaimNew.as_view("rebate_claim_new"))
bp.add_url_rule("/rebate-claims/<int:claim_id>", view_func=rebate_claims_h.RHRebateClaim.as_view("rebate_claim"))
bp.add_url_rule("/rebate-claims/<int:claim_id>/withdraw", view_func=rebate_claims_h.RHRebateClaimWithdraw.as_view("rebate_claim_withdraw"))
bp.add_url_rule("/rebate-claims/<int:claim_id>/resubmit", view_func=rebate_claims_h.RHRebateClaimResubmit.as_view("rebate_claim_resubmit"))

# rebate engine: why this amount
bp.add_url_rule("/rebates", view_func=rebates_h.RHRebates.as_view("rebates"))
bp.add_url_rule("/rebates/<int:policy_id>", view_func=rebates_h.RHRebatePolicy.as_view("rebate_policy"))

# reconciliation statements (对账单)
bp.add_url_rule("/statements", view_func=statements_h.RHStatements.as_view("statements"))
bp.add_url_rule("/statements/<int:statement_id>", view_func=statements_h.RHStatement.as_view("statement"))
bp.add_url_rule("/statements/<int:statement_id>/confirm", view_func=statements_h.RHStatementConfirm.as_view("statement_confirm"))
bp.add_url_rule("/statements/<int:statement_id>/dispute", view_func=statements_h.RHStatementDispute.as_view("statement_dispute"))
bp.add_url_rule("/statements/<int:statement_id>/<any(pdf, xlsx):kind>", view_func=statements_h.RHStatementFile.as_view("statement_file"))

# after-sales: the units it sold or services and their maintenance visits
bp.add_url_rule("/equipment", view_func=equipment_h.RHEquipment.as_view("equipment"))
bp.add_url_rule("/equipment/<int:unit_id>", view_func=equipment_h.RHEquipmentUnit.as_view("equipment_unit"))
bp.add_url_rule("/service-visits", view_func=equipment_h.RHServiceVisits.as_view("service_visits"))
bp.add_url_rule("/service-visits/<int:visit_id>", view_func=equipment_h.RHServiceVisit.as_view("service_visit"))
bp.add_url_rule("/service-visits/<int:visit_id>/report", view_func=equipment_h.RHServiceVisitReport.as_view("service_visit_report"))
# service tickets (工单) of the hospitals the dealer serves
bp.add_url_rule("/tickets", view_func=tickets_h.RHTickets.as_view("tickets"))
bp.add_url_rule("/tickets/new", view_func=tickets_h.RHTicketNew.as_view("ticket_new"))
bp.add_url_rule("/tickets/<int:ticket_id>", view_func=tickets_h.RHTicket.as_view("ticket"))
bp.add_url_rule("/tickets/<int:ticket_id>/note", view_func=tickets_h.RHTicketNote.as_view("ticket_note"))
bp.add_url_rule("/tickets/<int:ticket_id>/resolve", view_func=tickets_h.RHTicketResolve.as_view("ticket_resolve"))
bp.add_url_rule("/recalls", view_func=recalls_h.RHRecallNotices.as_view("recalls"))
bp.add_url_rule("/recalls/<int:notice_id>", view_func=recalls_h.RHRecallNotice.as_view("recall"))
bp.add_url_rule("/recalls/<int:notice_id>/acknowledge", view_func=recalls_h.RHRecallAcknowledge.as_view("recall_acknowledge"))
bp.add_url_rule("/recalls/<int:notice_id>/report", view_func=recalls_h.RHRecallReport.as_view("recall_report"))
