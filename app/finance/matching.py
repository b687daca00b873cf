"""Matching (核销): applying a payment or a credit note to a dealer's open invoices, by a
clerk or automatically, and reversing an application. Functions validate, change and
flush; they never commit. Refusals are ``InvalidInput`` naming the field
(``amount_<invoice id>`` for one invoice's amount, ``form`` for the whole).

Consistency: the source (payment or credit note) is row-locked first, then its invoices
in id order, and ``applied_amount`` / ``settled_amount`` and the statuses are moved in the
same transaction as the application rows. Two clerks matching the same payment are
served one after the other, and the second sees what the first applied; a lock order
that is always "source, then invoices by id" cannot deadlock (a source is never a target).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.compliance.operations import reason
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.money import ZERO
from app.finance import rules
from app.finance.models import Invoice, InvoiceApplication, Payment

#: manufacturer roles that record payments and match them (the write side of finance)
FINANCE_ROLES = ("admin", "finance")


def lock_payment(session: Session, payment_id: int) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update(of=Payment)
                          .execution_options(populate_existing=True))


def lock_invoices(session: Session, invoice_ids) -> dict[int, Invoice]:
    """Row-lock invoices in id order and give them back fresh."""
    ids = sorted(set(invoice_ids))
    if not ids:
        return {}
    rows = session.scalars(select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.id)
                           .with_for_update(of=Invoice).execution_options(populate_existing=True))
    return {i.id: i for i in rows}


def _lock_source(session: Session, source):
    if isinstance(source, Payment):
        return lock_payment(session, source.id)
    return lock_invoices(session, [source.id]).get(source.id)


def unapplied(source) -> Decimal:
    """What of a payment or credit note is not applied to any invoice yet."""
    if isinstance(source, Payment):
        return source.amount - source.applied_amount
    return source.amount - source.settled_amount


def _moved(source, amount: Decimal) -> None:
    if isinstance(source, Payment):
        source.applied_amount += amount
        source.status = rules.payment_status(source.amount, source.applied_amount)
    else:
        source.settled_amount += amount
        source.status = rules.invoice_status(source.amount, source.settled_amount)


def apply_to_invoices(session: Session, source, allocations: list[tuple[int, Decimal]], actor=None,
                      method: str = "manual", day: date | None = None) -> list[InvoiceApplication]:
    """Apply ``source`` (a payment, or a credit note) to invoices: ``allocations`` is
    ``[(invoice id, amount)]``. Each invoice must be an open invoice of the source's
    dealer and take at most its open amount; together they may take at most what the
    source has unapplied. All or nothing."""
    day = day or shanghai_today()
    source = _lock_source(session, source)
    if source is None:
        raise InvalidInput("form", _("This payment or credit note no longer exists."))
    if isinstance(source, Invoice) and source.kind != "credit_note":
        raise InvalidInput("form", _("Only a payment or a credit note can settle invoices."))
    if source.dealer_id is None:
        raise InvalidInput("dealer_id", _("Assign the payment to a dealer before matching it."))
    wanted: dict[int, Decimal] = {}
    for invoice_id, amount in allocations:
        amount = Decimal(amount)
        if amount == 0:
            continue
        if amount < 0:
            raise InvalidInput(f"amount_{invoice_id}", _("Enter an amount greater than zero."))
        wanted[invoice_id] = wanted.get(invoice_id, ZERO) + amount
    if not wanted:
        raise InvalidInput("form", _("Choose at least one invoice and an amount."))
    invoices = lock_invoices(session, wanted)
    for invoice_id, amount in wanted.items():
        invoice = invoices.get(invoice_id)
        field = f"amount_{invoice_id}"
        if (invoice is None or invoice.kind != "invoice" or invoice.dealer_id != source.dealer_id
                or invoice.status == "void"):
            raise InvalidInput(field, _("Choose an invoice of this dealer."))
        left = invoice.amount - invoice.settled_amount
        if invoice.status != "open" or left <= 0:
            raise InvalidInput(field, _("Invoice %(number)s is already settled.", number=invoice.number))
        if amount > left:
            raise InvalidInput(field, _("At most %(open)s: that is what invoice %(number)s still has open.",
                                        open=left, number=invoice.number))
    total = sum(wanted.values(), ZERO)
    if total > unapplied(source):
        raise InvalidInput("form", _("%(total)s is more than the %(left)s left to apply.", total=total,
                                     left=unapplied(source)))
    made = []
    for invoice_id, amount in wanted.items():
        invoice = invoices[invoice_id]
        application = InvoiceApplication(
            invoice_id=invoice.id, amount=amount, applied_on=day, method=method,
            applied_by_id=getattr(actor, "id", None),
            payment_id=source.id if isinstance(source, Payment) else None,
            credit_note_id=source.id if isinstance(source, Invoice) else None)
        session.add(application)
        invoice.settled_amount += amount
        invoice.status = rules.invoice_status(invoice.amount, invoice.settled_amount)
        made.append(application)
    _moved(source, total)
    session.flush()
    return made


def reverse_application(session: Session, application: InvoiceApplication, actor, why: str,
                        day: date | None = None) -> InvoiceApplication:
    """Undo a match: a negative application naming the one it reverses, with the
    reason; the invoice opens again and the payment (or credit note) has the amount to
    apply elsewhere. An application is reversed whole, and once."""
    why = (why or "").strip()
    if not why:
        raise InvalidInput("reason", _("Say why the match is reversed; it is kept with it."))
    if len(why) > 300:
        raise InvalidInput("reason", _("Use at most %(n)d characters.", n=300))
    source = (lock_payment(session, application.payment_id) if application.payment_id
              else lock_invoices(session, [application.credit_note_id]).get(application.credit_note_id))
    application = session.scalar(select(InvoiceApplication).where(InvoiceApplication.id == application.id)
                                 .execution_options(populate_existing=True))
    if application.amount < 0:
        raise InvalidInput("form", _("A reversal cannot be reversed."))
    if session.scalar(select(InvoiceApplication.id).where(InvoiceApplication.reversal_of_id == application.id)):
        raise InvalidInput("form", _("This match was already reversed."))
    invoice = lock_invoices(session, [application.invoice_id])[application.invoice_id]
    with reason(session, why):
        reversal = InvoiceApplication(
            invoice_id=invoice.id, payment_id=application.payment_id, credit_note_id=application.credit_note_id,
            amount=-application.amount, applied_on=day or shanghai_today(), method="manual",
            applied_by_id=getattr(actor, "id", None), reversal_of_id=application.id, note=why)
        session.add(reversal)
        invoice.settled_amount -= application.amount
        invoice.status = rules.invoice_status(invoice.amount, invoice.settled_amount)
        _moved(source, -application.amount)
        session.flush()
    return reversal


def open_items(session: Session, dealer_id: int) -> list[rules.OpenItem]:
    """The dealer's open invoices as the automatic matching sees them, oldest due first."""
    rows = session.execute(
        select(Invoice.id, Invoice.number, (Invoice.amount - Invoice.settled_amount).label("open"), Invoice.tax_invoice_no)
        .where(Invoice.dealer_id == dealer_id, Invoice.kind == "invoice", Invoice.status == "open",
               Invoice.amount > Invoice.settled_amount)
        .order_by(Invoice.due_on, Invoice.id))
    return [rules.OpenItem(r.id, r.number, r.open, r.tax_invoice_no) for r in rows]


def auto_match(session: Session, payment: Payment, actor=None, day: date | None = None) -> list[InvoiceApplication]:
    """Match a payment automatically where the rules are sure (``rules.plan_auto_match``:
    invoice numbers in the remark, else an exact amount); otherwise leave it for a
    clerk. Never refuses: a plan that no longer fits (another clerk took the invoice
    meanwhile) is dropped, and the payment waits for manual matching."""
    payment = lock_payment(session, payment.id)
    if payment is None or payment.dealer_id is None or payment.status == "applied":
        return []
    plan = rules.plan_auto_match(unapplied(payment), payment.reference, open_items(session, payment.dealer_id))
    if not plan:
        return []
    try:
        with session.begin_nested():
            return apply_to_invoices(session, payment, plan, actor, method="auto", day=day)
    except InvalidInput:
        session.info.pop("audit_chain", None)  # the rolled-back savepoint took its audit events with it
        return []


def auto_match_open_payments(session: Session, actor=None, dealer_id: int | None = None,
                             day: date | None = None, limit: int = 1000) -> int:
    """Try the automatic matching again on payments not fully applied (after invoices
    were issued, or a tax invoice number was recorded). Returns how many were matched."""
    stmt = select(Payment.id).where(Payment.status != "applied", Payment.dealer_id.is_not(None))
    if dealer_id is not None:
        stmt = stmt.where(Payment.dealer_id == dealer_id)
    matched = 0
    for payment_id in session.scalars(stmt.order_by(Payment.received_on, Payment.id).limit(limit)).all():
        if auto_match(session, session.get(Payment, payment_id), actor, day):
            matched += 1
    return matched
