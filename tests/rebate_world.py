"""A tenant of its own for the rebate engine tests, seeded like acme (same codes and
users), and helpers that write the transactions rebates are computed on — orders at a
given Shanghai day, credited returns, sell-out, invoices paid — directly, so these tests
need not drive the order, shipment and finance flows. Dates are relative to today:
``last_quarter()`` has ended (it can be settled), ``this_quarter()`` is running."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from app.catalog.models import ProductLine, Sku
from app.channel.models import Dealer, Hospital, Qualification
from app.core.i18n import SHANGHAI, shanghai_today
from app.finance.models import Invoice
from app.orders.models import Order, OrderLine, ReturnLine, ReturnRequest
from app.rebates import policies, rules

PASSWORD = "MedChannel-demo-1"


@pytest.fixture(scope="module", name="rworld")
def rebate_world(app):
    """The slug of a tenant seeded like acme (users <local>@<slug>.test), dropped afterwards."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.demo import data
    from app.demo.seed import seed_tenant
    from app.inventory.models import Warehouse
    from tenants.provisioning import create_tenant, drop_tenant
    from tenants.session import tenant_session

    slug = "rb" + uuid.uuid4().hex[:8]
    with app.app_context():
        tenant = create_tenant(db.engine, slug, "返利测试")
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("test seed"))
            seed_tenant(session, slug, data.TENANTS["acme"])
            session.add(Warehouse(code="WH-SZ", name="苏州总仓", kind="central"))
        db.session.remove()
    yield slug
    with app.app_context():
        drop_tenant(db.engine, slug)


def this_quarter(today: date | None = None) -> str:
    return rules.period_key("quarter", today or shanghai_today())


def last_quarter(today: date | None = None) -> str:
    return rules.shift_key(this_quarter(today), -1)


def day_in(key: str, offset: int = 10) -> date:
    """A day inside period ``key`` (``offset`` days after its start, never after its end)."""
    _kind, start, end = rules.parse_period(key)
    return min(start + timedelta(days=offset), end)


def at_shanghai(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI).astimezone(timezone.utc)


def dealer(session, code: str) -> Dealer:
    return session.scalar(select(Dealer).where(Dealer.code == code))


def sku(session, code: str) -> Sku:
    return session.scalar(select(Sku).where(Sku.code == code))


def line_id(session, code: str) -> int:
    return session.scalar(select(ProductLine.id).where(ProductLine.code == code))


def order(session, dealer_code: str, day: date, lines: list[tuple], status: str = "closed", hour: int = 12) -> int:
    """An order submitted at ``hour`` o'clock Shanghai time on ``day``; ``lines`` are
    (sku code, quantity, unit price[, free goods]). Returns the order id."""
    d = dealer(session, dealer_code)
    total = sum(Decimal(p) * q for _s, q, p, *free in lines if not (free and free[0]))
    order_id = session.execute(insert(Order).values(
        number="RW-" + uuid.uuid4().hex[:12].upper(), dealer_id=d.id, status=status, submitted_at=at_shanghai(day, hour),
        total_amount=total).returning(Order.id)).scalar()
    for n, (code, quantity, price, *free) in enumerate(lines, 1):
        is_free = bool(free and free[0])
        price = Decimal("0") if is_free else Decimal(price)
        session.execute(insert(OrderLine).values(
            order_id=order_id, line_no=n, sku_id=sku(session, code).id, quantity=quantity, unit_price=price,
            amount=price * quantity, tax_rate=Decimal("0.13"), free_goods=is_free,
            free_goods_value=Decimal(free[1]) if is_free and len(free) > 1 else Decimal("0")))
    return order_id


def credited_return(session, dealer_code: str, credit_day: date, sku_code: str, quantity: int, price) -> int:
    """A return credited on ``credit_day``: its credit note (红字发票) issued that day."""
    from app.inventory.operations import lot_for

    d, s = dealer(session, dealer_code), sku(session, sku_code)
    lot = lot_for(session, s, "R" + uuid.uuid4().hex[:8].upper(), None, None, date(2031, 12, 31))
    return_id = session.execute(insert(ReturnRequest).values(
        number="RT-" + uuid.uuid4().hex[:10].upper(), dealer_id=d.id, reason="overstock", status="credited",
        credit_amount=Decimal(price) * quantity).returning(ReturnRequest.id)).scalar()
    number = f"CN-{credit_day:%Y%m%d}-{return_id:06d}"
    session.execute(ReturnRequest.__table__.update().where(ReturnRequest.id == return_id).values(credit_note_no=number))
    session.execute(insert(ReturnLine).values(return_id=return_id, sku_id=s.id, lot_id=lot.id, quantity=quantity,
                                              unit_price=Decimal(price)))
    amount = Decimal(price) * quantity
    net = (amount / Decimal("1.13")).quantize(Decimal("0.01"))
    session.execute(insert(Invoice).values(number=number, kind="credit_note", reason="return", dealer_id=d.id,
                                           return_id=return_id, issued_on=credit_day, net_amount=net,
                                           tax_amount=amount - net, amount=amount))
    return return_id


def sell_out(session, dealer_code: str, sold_on: date, sku_code: str, quantity: int, price, reported_on: date | None = None,
             hospital_code: str = "H-SH-001") -> int:
    """A reported sale (entered on ``reported_on``, default the sale day)."""
    from app.inventory.models import SellOutLine
    from app.inventory.operations import lot_for

    d, s = dealer(session, dealer_code), sku(session, sku_code)
    lot = lot_for(session, s, "S" + uuid.uuid4().hex[:8].upper(), None, None, date(2031, 12, 31))
    hospital = session.scalar(select(Hospital).where(Hospital.code == hospital_code))
    return session.execute(insert(SellOutLine).values(
        dealer_id=d.id, sold_on=sold_on, hospital_id=hospital.id, sku_id=s.id, lot_id=lot.id, quantity=quantity,
        unit_price=None if price is None else Decimal(price), invoice_no="INV-" + uuid.uuid4().hex[:6],
        source="form", created_at=at_shanghai(reported_on or sold_on, 15)).returning(SellOutLine.id)).scalar()


def delivered(session, dealer_code: str, day: date) -> None:
    """A delivered shipment to the dealer on ``day`` (what makes that month's sell-out due)."""
    from app.inventory.models import Warehouse
    from app.orders.models import Shipment

    order_id = order(session, dealer_code, day, [("IVD-QC-01", 1, "0.00")], status="delivered")
    warehouse = session.scalar(select(Warehouse.id).limit(1))
    session.execute(insert(Shipment).values(
        number="SH-" + uuid.uuid4().hex[:10].upper(), order_id=order_id, dealer_id=dealer(session, dealer_code).id,
        warehouse_id=warehouse, status="delivered", shipped_at=at_shanghai(day, 9), delivered_at=at_shanghai(day, 16)))


def paid_invoice(session, dealer_code: str, issued_on: date, received_on: date, amount) -> int:
    """An invoice issued on ``issued_on`` and a payment received on ``received_on``
    applied to it in full (the finance area builds these; here rows are written)."""
    from app.finance.models import Invoice, InvoiceApplication, Payment

    d = dealer(session, dealer_code)
    amount = Decimal(amount)
    net = (amount / Decimal("1.13")).quantize(Decimal("0.01"))
    invoice_id = session.execute(insert(Invoice).values(
        number="FP-" + uuid.uuid4().hex[:10].upper(), kind="invoice", dealer_id=d.id, issued_on=issued_on,
        due_on=issued_on + timedelta(days=60), net_amount=net, tax_amount=amount - net, amount=amount,
        settled_amount=amount, status="settled").returning(Invoice.id)).scalar()
    payment_id = session.execute(insert(Payment).values(
        number="HK-" + uuid.uuid4().hex[:10].upper(), dealer_id=d.id, received_on=received_on, amount=amount,
        applied_amount=amount, status="applied").returning(Payment.id)).scalar()
    session.execute(insert(InvoiceApplication).values(invoice_id=invoice_id, payment_id=payment_id, amount=amount,
                                                      applied_on=received_on, method="manual"))
    return invoice_id


def qualification(session, dealer_code: str, valid_until: date, status: str = "approved") -> None:
    session.add(Qualification(dealer_id=dealer(session, dealer_code).id, kind="operating_permit",
                              number="Q-" + uuid.uuid4().hex[:8], device_classes=["II", "III"], valid_until=valid_until,
                              status=status))
    session.flush()


def published(session, user=None, **values) -> int:
    """A policy saved as a draft and published through the operations; its id."""
    draft = policies.save_draft(session, values)
    return policies.publish(session, draft, user).id


def ledger(session, key: str, code: str | None = None, kinds=("settled", "adjusted", "accrued")) -> list:
    from app.rebates.models import RebateLedgerEntry, RebatePolicy

    stmt = (select(RebateLedgerEntry.kind, Dealer.code, RebatePolicy.code, RebateLedgerEntry.amount,
                   RebateLedgerEntry.policy_id)
            .join(Dealer, Dealer.id == RebateLedgerEntry.dealer_id)
            .join(RebatePolicy, RebatePolicy.id == RebateLedgerEntry.policy_id)
            .where(RebateLedgerEntry.period_key == key, RebateLedgerEntry.kind.in_(kinds))
            .order_by(RebateLedgerEntry.id))
    if code:
        stmt = stmt.where(RebatePolicy.code == code)
    return list(session.execute(stmt))
