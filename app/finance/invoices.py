"""Issuing invoices and credit notes. Functions validate, change and flush; they never
commit. They are called inside the business change that causes them, in its
transaction: ``ship_shipment`` invoices the shipment, confirming a surgery-use report
invoices its consignment-use order, crediting a return issues its credit note.

- **Invoice** (one per shipment; ``INV-<day>-<id>``): a line per shipment line, quantity
  × the order line's tax-inclusive unit price, VAT split per line at the rate stored on
  the order line (``rules.split_vat``). Free goods (货补) appear at zero. Dated the
  Shanghai day it ships, due ``issued_on + dealer.payment_terms_days``.
- **Rebate offset (票折)**: an order with ``rebate_offset`` gets, with each of its
  invoices, a credit note (reason ``rebate_offset``, ``CNR-<day>-<id>``) for what of the
  offset is not yet credited, at most the invoice's amount, spread over the invoice's
  lines in proportion (each part at its line's VAT rate) and applied to that invoice.
- **Return credit note** (reason ``return``, number = the return's ``credit_note_no``):
  lines from the return lines at their order lines' rates, related to the invoice that
  charged those units and applied to what that invoice still has open.

Descriptions are written in Chinese whatever the clerk's language: they are the text of
a Chinese VAT document.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.money import ZERO, fen
from app.core.numbering import assign_number
from app.finance import rules
from app.finance.matching import apply_to_invoices, lock_invoices
from app.finance.models import Invoice, InvoiceLine
from app.orders.models import Order, OrderLine, ReturnRequest, Shipment, ShipmentLine

FREE_GOODS_PREFIX = "货补："
REBATE_OFFSET_PREFIX = "票折："


@dataclass
class LineDraft:
    description: str
    tax_rate: Decimal
    amount: Decimal
    sku_id: int | None = None
    quantity: int | None = None
    unit_price: Decimal | None = None
    order_line_id: int | None = None
    shipment_line_id: int | None = None
    return_line_id: int | None = None
    lot_id: int | None = None


def describe(sku: Sku) -> str:
    """A goods line's text: the product name and its specification."""
    return " ".join(part for part in (sku.name, sku.specification) if part)[:300]


def _goods_line(order_line: OrderLine, quantity: int, **refs) -> LineDraft:
    text = describe(order_line.sku)
    if order_line.free_goods:
        text = (FREE_GOODS_PREFIX + text)[:300]
    return LineDraft(description=text, tax_rate=order_line.tax_rate, amount=fen(order_line.unit_price * quantity),
                     sku_id=order_line.sku_id, quantity=quantity, unit_price=order_line.unit_price,
                     order_line_id=order_line.id, **refs)


def _issue(session: Session, kind: str, dealer: Dealer, drafts: list[LineDraft], day: date, actor=None,
           reason: str | None = None, number: str | None = None, prefix: str = "INV", due_on: date | None = None,
           **refs) -> Invoice:
    """Write one invoice or credit note with its lines; totals are the sums of the lines."""
    invoice = Invoice(kind=kind, dealer_id=dealer.id, reason=reason, issued_on=day, due_on=due_on,
                      issued_by_id=getattr(actor, "id", None), **refs)
    if number is None:
        assign_number(session, invoice, prefix, day=day)
    else:
        invoice.number = number
    net_total = tax_total = ZERO
    for line_no, draft in enumerate(drafts, start=1):
        net, tax = rules.split_vat(draft.amount, draft.tax_rate)
        net_total, tax_total = net_total + net, tax_total + tax
        invoice.lines.append(InvoiceLine(
            line_no=line_no, sku_id=draft.sku_id, description=draft.description, quantity=draft.quantity,
            unit_price=draft.unit_price, tax_rate=draft.tax_rate, net_amount=net, tax_amount=tax, amount=draft.amount,
            order_line_id=draft.order_line_id, shipment_line_id=draft.shipment_line_id,
            return_line_id=draft.return_line_id, lot_id=draft.lot_id))
    invoice.net_amount, invoice.tax_amount = net_total, tax_total
    invoice.amount = net_total + tax_total
    invoice.settled_amount = ZERO
    invoice.status = rules.invoice_status(invoice.amount, ZERO)  # a zero invoice (all free goods) is settled
    session.add(invoice)
    session.flush()
    return invoice


def _due(dealer: Dealer, day: date) -> date:
    return day + timedelta(days=dealer.payment_terms_days or 0)


def invoice_for_shipment(session: Session, shipment_id: int) -> Invoice | None:
    return session.scalar(select(Invoice).where(Invoice.shipment_id == shipment_id, Invoice.kind == "invoice",
                                                Invoice.status != "void"))


def invoice_shipment(session: Session, shipment: Shipment, actor=None, day: date | None = None) -> Invoice:
    """The invoice of a shipment that has just shipped (once: a second call returns the
    first), and the rebate-offset credit note its order calls for."""
    existing = invoice_for_shipment(session, shipment.id)
    if existing is not None:
        return existing
    day = day or shanghai_today()
    order = session.get(Order, shipment.order_id)
    dealer = session.get(Dealer, order.dealer_id)
    drafts = []
    for line in session.scalars(select(ShipmentLine).where(ShipmentLine.shipment_id == shipment.id)
                                .order_by(ShipmentLine.id)):
        drafts.append(_goods_line(session.get(OrderLine, line.order_line_id), line.quantity,
                                  shipment_line_id=line.id, lot_id=line.lot_id))
    invoice = _issue(session, "invoice", dealer, drafts, day, actor, due_on=_due(dealer, day), order_id=order.id,
                     shipment_id=shipment.id)
    offset_rebate(session, order, invoice, actor, day)
    return invoice


def invoice_consignment_use(session: Session, order: Order, actor=None, day: date | None = None) -> Invoice:
    """The invoice of a consignment-use order (a confirmed surgery-use report): its lines
    are the order's lines, dated the day of confirmation. Once per order."""
    existing = session.scalar(select(Invoice).where(Invoice.order_id == order.id, Invoice.kind == "invoice",
                                                    Invoice.shipment_id.is_(None), Invoice.status != "void"))
    if existing is not None:
        return existing
    day = day or shanghai_today()
    dealer = session.get(Dealer, order.dealer_id)
    drafts = [_goods_line(line, line.quantity) for line in order.lines]
    invoice = _issue(session, "invoice", dealer, drafts, day, actor, due_on=_due(dealer, day), order_id=order.id)
    offset_rebate(session, order, invoice, actor, day)
    return invoice


def rebate_offset_credited(session: Session, order_id: int) -> Decimal:
    """What of an order's rebate offset (票折) credit notes have already credited."""
    return Decimal(session.scalar(select(func.coalesce(func.sum(Invoice.amount), 0)).where(
        Invoice.order_id == order_id, Invoice.kind == "credit_note", Invoice.reason == "rebate_offset",
        Invoice.status != "void")))


def offset_rebate(session: Session, order: Order, invoice: Invoice, actor=None, day: date | None = None) -> Invoice | None:
    """票折: credit what of the order's ``rebate_offset`` is not yet credited, at most the
    invoice's amount, spread over its lines in proportion to their amounts (each part
    at its line's VAT rate), and apply it to the invoice. The caller holds the order's
    row lock (shipping does), so two shipments cannot credit the same offset twice."""
    offset = Decimal(order.rebate_offset or 0)
    if offset <= 0 or invoice.amount <= 0:
        return None
    amount = min(offset - rebate_offset_credited(session, order.id), invoice.amount)
    if amount <= 0:
        return None
    day = day or invoice.issued_on
    parts = rules.split_proportionally(amount, [line.amount for line in invoice.lines])
    drafts = [LineDraft(description=(REBATE_OFFSET_PREFIX + line.description)[:300], tax_rate=line.tax_rate,
                        amount=part, sku_id=line.sku_id, order_line_id=line.order_line_id)
              for line, part in zip(invoice.lines, parts) if part > 0]
    note = _issue(session, "credit_note", invoice.dealer, drafts, day, actor, reason="rebate_offset", prefix="CNR",
                  order_id=order.id, shipment_id=invoice.shipment_id, related_invoice_id=invoice.id)
    apply_to_invoices(session, note, [(invoice.id, amount)], actor, method="auto", day=day)
    return note


def credit_note_for_return(session: Session, ret: ReturnRequest, actor=None, day: date | None = None) -> Invoice:
    """The credit note (红字发票/贷项通知) of a credited return, numbered with the return's
    ``credit_note_no``, related to the invoice that charged the returned units and
    applied to what that invoice still has open (the rest stays as the dealer's credit,
    to be matched to another invoice). Once per return."""
    existing = session.scalar(select(Invoice).where(Invoice.return_id == ret.id, Invoice.kind == "credit_note",
                                                    Invoice.status != "void"))
    if existing is not None:
        return existing
    if not ret.credit_note_no:
        raise InvalidInput("form", _("The return has no credit note number yet."))
    day = day or shanghai_today()
    drafts, shipment_line_ids = [], []
    for line in ret.lines:
        shipment_line = session.get(ShipmentLine, line.shipment_line_id) if line.shipment_line_id else None
        order_line = session.get(OrderLine, shipment_line.order_line_id) if shipment_line else None
        rate = order_line.tax_rate if order_line is not None else line.sku.tax_rate
        text = describe(line.sku)
        if order_line is not None and order_line.free_goods:
            text = (FREE_GOODS_PREFIX + text)[:300]
        drafts.append(LineDraft(description=text, tax_rate=rate, amount=fen(line.unit_price * line.quantity),
                                sku_id=line.sku_id, quantity=line.quantity, unit_price=line.unit_price,
                                order_line_id=order_line.id if order_line else None,
                                shipment_line_id=line.shipment_line_id, return_line_id=line.id, lot_id=line.lot_id))
        if line.shipment_line_id:
            shipment_line_ids.append(line.shipment_line_id)
    related = None
    if shipment_line_ids:
        related = session.scalar(
            select(Invoice).join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
            .where(InvoiceLine.shipment_line_id.in_(shipment_line_ids), Invoice.kind == "invoice",
                   Invoice.status != "void").order_by(Invoice.id).limit(1))
    dealer = session.get(Dealer, ret.dealer_id)
    note = _issue(session, "credit_note", dealer, drafts, day, actor, reason="return", number=ret.credit_note_no,
                  order_id=ret.order_id, shipment_id=ret.shipment_id, return_id=ret.id,
                  related_invoice_id=related.id if related is not None else None)
    if related is not None:
        related = lock_invoices(session, [related.id])[related.id]
        take = min(note.amount, related.amount - related.settled_amount)
        if take > 0:
            apply_to_invoices(session, note, [(related.id, take)], actor, method="auto", day=day)
    return note


TAX_INVOICE_NO = re.compile(r"^[0-9]{8}([0-9]{12})?$")


def record_tax_invoice_no(session: Session, invoice: Invoice, value: str | None) -> Invoice:
    """Finance records the number the tax system gave the VAT invoice (发票号码: 8 digits,
    or 20 for a fully digital invoice 数电票); empty clears it."""
    text = "".join((value or "").split())
    if text and not TAX_INVOICE_NO.match(text):
        raise InvalidInput("tax_invoice_no", _("A tax invoice number has 8 digits (20 for a digital invoice)."))
    # 20-digit digital invoice numbers are unique nationwide; 8-digit ones only within
    # their invoice code, so only the former can be checked for a clash
    clash = len(text) == 20 and session.scalar(select(Invoice.number).where(Invoice.tax_invoice_no == text, Invoice.id != invoice.id))
    if clash:
        raise InvalidInput("tax_invoice_no", _("Invoice %(number)s already carries this tax invoice number.", number=clash))
    invoice.tax_invoice_no = text or None
    session.flush()
    return invoice
