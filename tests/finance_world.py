"""A small world for the finance tests: a dealer of its own (so that its open invoices
are only the test's), invoices written through the same function the shipping hook
uses, and orders shipped through the real operations."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.channel import operations as channel_ops
from app.channel.models import Dealer, Region
from app.core.i18n import shanghai_today
from app.finance.invoices import LineDraft, _issue, invoice_for_shipment
from app.identity.models import User
from app.identity.operations import hash_password
from app.orders import fulfilment as ful
from tests.conftest import PASSWORD
from tests.order_world import allocated_order, stocked_skus


def fresh_dealer(s, region_code: str = "SH", terms: int = 60, name: str | None = None, users: bool = False) -> Dealer:
    """A dealer no other test touches, with its bank details (and, with ``users``, an
    owner ``<code>.owner`` and a finance clerk ``<code>.finance`` to sign in as)."""
    tag = uuid.uuid4().hex[:8].upper()
    region = s.scalar(select(Region).where(Region.code == region_code))
    dealer = channel_ops.add_dealer(s, f"D-T-{tag}", name or f"测试回款医疗器械有限公司{tag}", region, "tier1",
                                    payment_terms_days=terms, credit_limit=Decimal("1000000.00"),
                                    bank_account=f"6222{int(tag, 16) % 10**12:012d}", contact_email=f"{tag.lower()}@example.cn")
    if users:
        for role, local in (("dealer_owner", "owner"), ("dealer_finance", "finance")):
            s.add(User(email=f"{dealer.code.lower()}.{local}@acme.test", name=f"{local} {tag}", portal="dealer",
                       roles=[role], dealer_id=dealer.id, password_hash=hash_password(PASSWORD)))
        s.flush()
    return dealer


def invoice(s, dealer: Dealer, amounts, day: date | None = None, due_in: int | None = None):
    """An invoice of ``amounts`` [(amount incl. VAT, rate)] issued on ``day`` (default
    today), due ``due_in`` days later (default the dealer's terms)."""
    day = day or shanghai_today()
    drafts = [LineDraft(description=f"测试商品 {n}", tax_rate=Decimal(rate), amount=Decimal(amount), quantity=1,
                        unit_price=Decimal(amount)) for n, (amount, rate) in enumerate(amounts, 1)]
    due = day + timedelta(days=dealer.payment_terms_days if due_in is None else due_in)
    return _issue(s, "invoice", dealer, drafts, day, due_on=due)


def shipped(s, dealer_code: str = "D-SH-001", quantities=(2, 3), price: Decimal = Decimal("1234.56"),
            rates=("0.13", "0.03"), hospital_code: str | None = "H-SH-001"):
    """An order of one line per quantity (SKUs the dealer's warehouses hold), its lines
    at ``rates``, packed and shipped from one warehouse: (order, shipment, invoice)."""
    dealer = s.scalar(select(Dealer).where(Dealer.code == dealer_code))
    skus = stocked_skus(s, dealer.id, at_least=max(quantities), limit=len(quantities))
    order = allocated_order(s, dealer_code, hospital_code, lines=list(zip(skus, quantities)), price=price)
    for line, rate in zip(order.lines, rates):
        line.tax_rate = Decimal(rate)
    s.flush()
    allocations = ful.open_allocations(s, order)
    warehouse_id = allocations[0].warehouse_id
    shipment = ful.create_shipment(s, order, warehouse_id, {a.id: a.quantity for a in allocations
                                                           if a.warehouse_id == warehouse_id},
                                   carrier="顺丰速运", tracking_no="SF" + uuid.uuid4().hex[:10])
    ful.ship_shipment(s, shipment)
    return order, shipment, invoice_for_shipment(s, shipment.id)
