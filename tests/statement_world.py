"""A dealer's books for statement tests: invoices, credit notes, payments and rebate
ledger entries written as rows (the finance and rebate areas' own operations arrive in
other branches), in a throwaway tenant or in a demo dealer's month that nothing else uses."""
from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

_serial = itertools.count(1)


def new_dealer(session, name: str | None = None) -> int:
    from app.channel import operations as channel_ops
    from app.channel.models import Region

    region = session.scalar(select(Region).where(Region.code == "T-EAST"))
    if region is None:
        country = channel_ops.add_region(session, "T-CN", "中国", "China")
        region = channel_ops.add_region(session, "T-EAST", "华东", "East China", country)
    code = "T-" + uuid.uuid4().hex[:8].upper()
    dealer = channel_ops.add_dealer(session, code, name or f"测试经销商{code}有限公司", region, "tier1",
                                    uscc=None)
    return dealer.id


def invoice(session, dealer_id: int, day: date, amount, kind: str = "invoice", reason: str | None = None,
            status: str = "open") -> int:
    from app.finance.models import Invoice

    n = next(_serial)
    gross = Decimal(amount)
    net = (gross / Decimal("1.13")).quantize(Decimal("0.01"))
    prefix = "INV" if kind == "invoice" else "CN"
    row = Invoice(number=f"{prefix}-T{uuid.uuid4().hex[:6]}-{n:06d}", kind=kind, reason=reason if kind != "invoice" else None,
                  dealer_id=dealer_id, issued_on=day, due_on=day + timedelta(days=60), net_amount=net,
                  tax_amount=gross - net, amount=gross, status=status)
    session.add(row)
    session.flush()
    return row.id


def payment(session, dealer_id: int, day: date, amount, reference: str | None = None) -> int:
    from app.finance.models import Payment

    n = next(_serial)
    row = Payment(number=f"PAY-T{uuid.uuid4().hex[:6]}-{n:06d}", dealer_id=dealer_id, received_on=day, amount=Decimal(amount),
                  reference=reference, method="bank_transfer")
    session.add(row)
    session.flush()
    return row.id


def ledger(session, dealer_id: int, day: date, kind: str, amount, note: str | None = None) -> int:
    from app.rebates.models import RebateLedgerEntry

    row = RebateLedgerEntry(dealer_id=dealer_id, kind=kind, amount=Decimal(amount), occurred_on=day,
                            period_key=f"{day.year}-Q{(day.month - 1) // 3 + 1}", note=note)
    session.add(row)
    session.flush()
    return row.id


def a_month(session, dealer_id: int, start: date, lines: int = 6) -> None:
    """A plain month of business: invoices, a return's credit note, payments, a rebate
    settled and used, an accrual."""
    for k in range(lines):
        invoice(session, dealer_id, start + timedelta(days=k * 3 % 27), Decimal("1000.00") + k * Decimal("137.35"))
    invoice(session, dealer_id, start + timedelta(days=11), "420.00", kind="credit_note", reason="return")
    payment(session, dealer_id, start + timedelta(days=7), "2500.00", reference="货款")
    payment(session, dealer_id, start + timedelta(days=20), "1800.00")
    ledger(session, dealer_id, start + timedelta(days=4), "settled", "860.00", "季度采购返利结算")
    ledger(session, dealer_id, start + timedelta(days=19), "used", "-300.00", "票折")
    ledger(session, dealer_id, start + timedelta(days=27), "accrued", "120.50", "本季度预提")
