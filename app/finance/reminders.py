"""Payment reminders: once per Shanghai day (``@daily``), every open invoice seven days
before its due day, on it, seven and thirty days after gets one reminder of that kind
(``rules.reminder_kind``), mailed in Chinese to the dealer's contact address and to its
owner and finance users, and shown on the dealer's dashboard and invoice pages.

Safe to run twice: a reminder is unique per invoice × kind (the table's key), the
candidates leave out kinds already sent, and a transaction lock per tenant keeps two
runs of the same day from both sending.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.channel.models import Dealer
from app.core.daily import daily
from app.finance import rules
from app.finance.models import Invoice, PaymentReminder
from app.identity.models import OutboxMessage, User
from tenants.session import current_tenant

MAIL_KIND = "payment_reminder"
RECIPIENT_ROLES = ("dealer_owner", "dealer_finance")


def recipients(session: Session, dealer: Dealer) -> list[str]:
    """Where a dealer's reminders go: its contact address and its active owner and
    finance users, each address once."""
    addresses = [dealer.contact_email] if dealer.contact_email else []
    users = session.scalars(select(User.email).where(User.dealer_id == dealer.id, User.active.is_(True),
                                                     User.roles.overlap(list(RECIPIENT_ROLES))).order_by(User.id))
    seen, out = set(), []
    for address in [*addresses, *users]:
        key = address.strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(address.strip())
    return out


def _message(kind: str, invoice: Invoice, open_amount, day: date, company: str) -> tuple[str, str]:
    late = (day - invoice.due_on).days
    subjects = {
        "due_in_7": _("Invoice %(number)s is due on %(due)s", number=invoice.number, due=invoice.due_on.isoformat()),
        "due_today": _("Invoice %(number)s is due", number=invoice.number),
        "overdue_7": _("Invoice %(number)s is %(days)d days overdue", number=invoice.number, days=late),
        "overdue_30": _("Invoice %(number)s is %(days)d days overdue", number=invoice.number, days=late),
    }
    when = (_("It falls due on %(due)s.", due=invoice.due_on.isoformat()) if late < 0
            else _("It fell due on %(due)s.", due=invoice.due_on.isoformat()) if late > 0
            else _("It falls due today."))
    body = _("Dear %(dealer)s,\n\nInvoice %(number)s of %(issued)s for ¥%(amount)s has ¥%(open)s open. %(when)s\n"
             "Please pay in time and write the invoice number in the remark of the transfer, so that your payment "
             "is matched at once. If you have paid already, please ignore this message.\n\n%(company)s, Finance",
             dealer=invoice.dealer.name, number=invoice.number, issued=invoice.issued_on.isoformat(),
             amount=f"{invoice.amount:,}", open=f"{open_amount:,}", when=when, company=company)
    if kind in ("overdue_7", "overdue_30"):
        body += "\n\n" + _("Orders are held for approval while invoices are overdue.")
    return subjects[kind][:300], body


def send_reminders(session: Session, day: date) -> int:
    """Send the reminders due on ``day`` in the pinned tenant; returns how many."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.payment-reminders'))"))
    company = getattr(current_tenant(session), "name", "") or ""
    candidates = session.execute(
        select(Invoice, (Invoice.amount - Invoice.settled_amount).label("open_amount"))
        .where(Invoice.kind == "invoice", Invoice.status == "open", Invoice.amount > Invoice.settled_amount,
               Invoice.due_on.is_not(None), Invoice.due_on <= day + timedelta(days=7))
        .order_by(Invoice.dealer_id, Invoice.due_on, Invoice.id)).all()
    due = [(invoice, open_amount, kind) for invoice, open_amount in candidates
           if (kind := rules.reminder_kind((day - invoice.due_on).days)) is not None]
    sent = set(session.execute(select(PaymentReminder.invoice_id, PaymentReminder.kind).where(
        PaymentReminder.invoice_id.in_([invoice.id for invoice, _o, _k in due]))).all()) if due else set()
    count = 0
    mailboxes: dict[int, list[str]] = {}
    with force_locale("zh_CN"):
        for invoice, open_amount, kind in due:
            if (invoice.id, kind) in sent:
                continue
            if invoice.dealer_id not in mailboxes:
                mailboxes[invoice.dealer_id] = recipients(session, invoice.dealer)
            subject, body = _message(kind, invoice, open_amount, day, company)
            messages = [OutboxMessage(to_address=address, subject=subject, body=body, kind=MAIL_KIND)
                        for address in mailboxes[invoice.dealer_id]]
            session.add_all(messages)
            session.add(PaymentReminder(invoice_id=invoice.id, kind=kind, sent_on=day,
                                        outbox_message=messages[0] if messages else None))
            count += 1
            if count % 500 == 0:
                session.flush()
    session.flush()
    return count


@daily("payment-reminders", needs_table="payment_reminders", actor="payment reminders")
def send_daily_reminders(session: Session, day: date) -> str | None:
    """``send_reminders`` for the day; safe to run twice (nothing is sent again)."""
    sent = send_reminders(session, day)
    return f"{sent} payment reminder(s) on {day}" if sent else None
