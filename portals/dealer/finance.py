"""The dealer's invoices and payments: what it owes and when, what is overdue, the
reminders it was sent, and what each of its payments settled. For the owner and the
finance staff (``queries.DEALER_FINANCE``); every read is scoped to the dealer."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from app.core.db import db
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import render_page
from app.core.i18n import shanghai_today
from app.finance import queries as q
from app.finance.models import Invoice
from app.orders.models import Order, Shipment


class RHInvoices(RHDealer):
    """Our invoices and credit notes, with where we stand and the reminders sent."""

    roles = q.DEALER_FINANCE

    def get(self):
        status, kind = request.args.get("status", ""), request.args.get("kind", "")
        f = q.InvoiceFilter(status=status if status in q.STATUS_LABELS else "",
                            kind=kind if kind in q.KIND_LABELS else "", search=request.args.get("q", "")[:40])
        today = shanghai_today()
        page = q.invoices_page(db.session, current_user, request.args.get("after"), f, today)
        first = not request.args.get("after")
        return render_page("dealer/invoices.html", block="results", page=page, f=f, today=today,
                           shown_status=q.shown_status,
                           position=q.dealer_position(db.session, current_user.dealer_id, today) if first else None,
                           reminders=q.recent_reminders(db.session, current_user.dealer_id, today) if first else [],
                           **q.labels())


class RHInvoice(RHDealer):
    roles = q.DEALER_FINANCE

    def _load(self, invoice_id):
        self.invoice = get_or_404(q.invoice_for(db.session, current_user, invoice_id))

    def get(self, invoice_id):
        invoice, today = self.invoice, shanghai_today()
        credit_note = invoice.kind == "credit_note"
        return render_page(
            "dealer/invoice.html", invoice=invoice, today=today,
            shown=q.shown_status(invoice.status, invoice.kind, invoice.due_on, today),
            applications=(q.applications_of_credit_note(db.session, invoice.id) if credit_note
                          else q.applications_to(db.session, invoice.id)),
            credit_notes=[] if credit_note else q.credit_notes_for(db.session, invoice.id),
            related=db.session.get(Invoice, invoice.related_invoice_id) if invoice.related_invoice_id else None,
            order=db.session.get(Order, invoice.order_id) if invoice.order_id else None,
            shipment=db.session.get(Shipment, invoice.shipment_id) if invoice.shipment_id else None,
            ret=q.return_of(db.session, invoice), reminders=q.reminders_for(db.session, invoice.id), **q.labels())


class RHPayments(RHDealer):
    """Our payments as the manufacturer received them, and how much each settled."""

    roles = q.DEALER_FINANCE

    def get(self):
        status = request.args.get("status", "")
        f = q.PaymentFilter(status=status if status in ("unapplied", "partial", "applied") else "",
                            search=request.args.get("q", "")[:60])
        page = q.payments_page(db.session, current_user, request.args.get("after"), f)
        return render_page("dealer/payments.html", block="results", page=page, f=f, **q.labels())


class RHPayment(RHDealer):
    roles = q.DEALER_FINANCE

    def _load(self, payment_id):
        self.payment = get_or_404(q.payment_for(db.session, current_user, payment_id))

    def get(self, payment_id):
        return render_page("dealer/payment.html", payment=self.payment,
                           applications=q.applications_of_payment(db.session, self.payment.id), **q.labels())
