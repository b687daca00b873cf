"""Demo stage: reconciliation statements (对账单) for acme's two demo dealers, for the
month before last (华东医疗器械's already confirmed with its owner's signature) and last
month (awaiting confirmation: try confirming or disputing it as dealer1), generated and
printed through the real operations.

STAND-IN RECORDS — for the lead to switch when merging: this branch has neither the
finance stage (invoices, credit notes, payments) nor the rebate stage (the ledger), so
``_stand_in_records`` writes a few such rows for the two dealers directly with the
models. Once ``seed_finance``/``seed_rebates`` run before this stage, delete
``_stand_in_records`` and its call: the statements then state whatever those stages wrote.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.channel.models import Dealer
from app.core.i18n import shanghai_today
from app.finance.models import Invoice, Payment, Statement
from app.finance.statements import operations as ops
from app.finance.statements import rules
from app.identity.models import User
from app.orders.models import Order
from app.rebates.models import RebateLedgerEntry

__all__ = ["Statement", "seed_statements"]

DEALERS = {"acme": ("D-SH-001", "D-GD-001")}


def seed_statements(session: Session, slug: str) -> str:
    codes = DEALERS.get(slug)
    if not codes:
        return "no demo statements"
    last = rules.previous_month(rules.month_start(shanghai_today()))
    before = rules.previous_month(last)
    dealers = [session.scalar(select(Dealer).where(Dealer.code == code)) for code in codes]
    dealers = [d for d in dealers if d is not None]
    if not session.scalar(select(func.count()).select_from(Invoice).where(Invoice.dealer_id.in_([d.id for d in dealers]))):
        _stand_in_records(session, dealers, (before, last))
    count = 0
    for month in (before, last):
        for dealer in dealers:
            if ops.generate_now(session, dealer.id, month).outcome == "issued":
                count += 1
    owner = session.scalar(select(User).where(User.email == f"dealer1@{slug}.test"))
    first = ops.current(session, owner.dealer_id, before) if owner is not None else None
    if first is not None and first.status == "issued":
        from app.demo.data import PASSWORD

        ops.confirm(session, first, owner, PASSWORD, None)
    return f"generated {count} statements for {before:%Y-%m} and {last:%Y-%m}"


def _stand_in_records(session: Session, dealers: list[Dealer], months: tuple[date, date]) -> None:
    """A believable month of business per dealer: invoices for shipments, a return's
    credit note and a rebate offset, payments by bank transfer, a quarterly rebate
    settled and partly used, this quarter's accrual (see the module's note)."""
    serial = 0
    for n, dealer in enumerate(dealers):
        orders = list(session.scalars(select(Order).where(Order.dealer_id == dealer.id).order_by(Order.id).limit(4)))
        scale = Decimal(1) if n == 0 else Decimal("0.6")
        for m, start in enumerate(months):
            invoices = []
            for k, (day, amount) in enumerate(((3, "186400.00"), (9, "92650.50"), (16, "243180.00"), (24, "58760.40"))):
                serial += 1
                issued = start + timedelta(days=day - 1)
                gross = (Decimal(amount) * scale * (1 + Decimal(m) / 10)).quantize(Decimal("0.01"))
                net = (gross / Decimal("1.13")).quantize(Decimal("0.01"))
                order = orders[k % len(orders)] if orders else None
                invoice = Invoice(number=f"INV-{issued:%Y%m%d}-{serial:06d}", kind="invoice", dealer_id=dealer.id,
                                  order_id=order.id if order else None, issued_on=issued,
                                  due_on=issued + timedelta(days=dealer.payment_terms_days), net_amount=net,
                                  tax_amount=gross - net, amount=gross, tax_invoice_no=f"0{44000000 + serial}")
                session.add(invoice)
                invoices.append(invoice)
            session.flush()
            for day, reason, amount, related in ((12, "return", "8420.00", invoices[0]), (20, "rebate_offset", "5000.00", invoices[2])):
                serial += 1
                issued = start + timedelta(days=day - 1)
                gross = (Decimal(amount) * scale).quantize(Decimal("0.01"))
                net = (gross / Decimal("1.13")).quantize(Decimal("0.01"))
                session.add(Invoice(number=f"CN-{issued:%Y%m%d}-{serial:06d}", kind="credit_note", reason=reason,
                                    dealer_id=dealer.id, related_invoice_id=related.id, issued_on=issued,
                                    net_amount=net, tax_amount=gross - net, amount=gross))
            for day, amount in ((6, "150000.00"), (18, "120000.00"), (27, "98000.00")):
                serial += 1
                received = start + timedelta(days=day - 1)
                session.add(Payment(number=f"PAY-{received:%Y%m%d}-{serial:06d}", dealer_id=dealer.id, received_on=received,
                                    amount=(Decimal(amount) * scale).quantize(Decimal("0.01")),
                                    bank_ref=f"CMB{received:%Y%m%d}{serial:08d}", method="bank_transfer",
                                    reference=f"{dealer.name} 货款 {invoices[0].number}", payer_name=dealer.name))
            quarter = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
            entries = [("settled", "12860.00", 5, "季度采购返利结算", None), ("used", "-5000.00", 20, "票折：订单抵扣", orders[0] if orders else None),
                       ("accrued", "3420.50", 28, "本季度采购返利预提", None)]
            for kind, amount, day, note, order in entries:
                session.add(RebateLedgerEntry(dealer_id=dealer.id, kind=kind, period_key=quarter,
                                              amount=(Decimal(amount) * scale).quantize(Decimal("0.01")),
                                              occurred_on=start + timedelta(days=day - 1), note=note,
                                              ref_type="orders" if order is not None else None,
                                              ref_id=order.id if order is not None else None))
    session.flush()
