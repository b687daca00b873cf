"""Demo stage: invoices and collections (回款), written through the real operations.

The order stage already invoiced what it shipped (today). This stage adds some history,
placed and shipped on past days through ``place_order(day=…)`` and
``ship_shipment(day=…)`` so that their invoices carry those days:

- 浙江瑞华 (D-ZJ-001, 华东) has two invoices 61–90 and 31–60 days overdue, and paid a round
  ¥50,000 with no invoice named: that payment waits for manual matching;
- 北京华瑞通 (D-BJ-002, 京津冀) has an invoice over 90 days overdue and one 0–30 days;
- 江苏恒康 (D-JS-001) paid its invoice with the number in the remark: matched automatically;
- 华东医疗器械 (dealer1, D-SH-001) has an invoice due in five days (a reminder is due)
  and paid the invoice of its delivered order on receipt; it is never overdue, so the
  demo's and the tests' orders for it go through;
- dealer1 and 广州百仕达 (dealer2) bought in each of the last two calendar months and paid
  the older invoices by transfer: what their reconciliation statements state;
- a receipt from a payer no dealer's bank details match waits for finance to assign it;
- the daily reminders have run for today.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer
from app.core.i18n import shanghai_today
from app.finance.models import Invoice
from app.identity.models import User
from app.identity.operations import hash_password
from app.inventory.models import StockBalance
from app.inventory.operations import serving_warehouse_ids
from app.orders.models import Allocation, Order

#: dealer code → [(days ago the order was placed and shipped, [(SKU code, quantity)])]
HISTORY = {
    "D-ZJ-001": [(140, [("CV-GW-0141", 40), ("CV-SH-6F", 30)]), (100, [("CV-GC-6JL4", 30), ("CV-PTCA-2015", 10)])],
    "D-BJ-002": [(170, [("CV-SH-6F", 40), ("CV-GW-0141", 20)]), (75, [("CV-GC-6JL4", 20)])],
    "D-JS-001": [(90, [("CV-GW-0141", 30), ("CV-INF-30", 2)])],
    "D-SH-001": [(85, [("CV-GW-0141", 10)]), ((2, 8), [("CV-PTCA-2015", 20), ("CV-GC-6JL4", 15)]),
                 ((2, 21), [("CV-NC-3012", 12)]), ((1, 6), [("CV-GW-0141", 20), ("CV-SH-6F", 10)]),
                 ((1, 19), [("CV-PTCA-2520", 15)])],
    "D-GD-001": [((2, 12), [("CV-GC-6JL4", 12), ("CV-SH-6F", 10)]), ((1, 15), [("CV-PTCA-2015", 10)])],
}


def _days_ago(when, today: date) -> int:
    """``when`` as days before today: a number of days, or (months back, day of that
    month) for history that must fall in the last calendar months (the statements)."""
    if isinstance(when, int):
        return when
    months_back, day = when
    first = today.replace(day=1)
    for _ in range(months_back):
        first = (first - timedelta(days=1)).replace(day=1)
    return (today - first.replace(day=day)).days


def _user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def _ship_on(session: Session, order: Order, actor: User, day: date) -> list:
    from app.orders.fulfilment import create_shipment, ship_shipment

    by_warehouse: dict[int, dict[int, int]] = {}
    for allocation in session.scalars(select(Allocation).where(
            Allocation.status == "allocated", Allocation.order_line_id.in_([line.id for line in order.lines]))
            .order_by(Allocation.id)):
        by_warehouse.setdefault(allocation.warehouse_id, {})[allocation.id] = allocation.quantity
    shipped = []
    for n, (warehouse_id, quantities) in enumerate(sorted(by_warehouse.items())):
        shipment = create_shipment(session, order, warehouse_id, quantities, actor=actor, carrier="顺丰速运",
                                   tracking_no=f"SF{day:%y%m%d}{order.id:05d}{n}", eta=day + timedelta(days=2))
        shipped.append(ship_shipment(session, shipment, actor=actor, day=day))
    return shipped


def _in_stock(session: Session, dealer: Dealer, lines: list[tuple[str, int]], skus: dict) -> list[dict]:
    """The lines the dealer's serving warehouses can fill now (the demo takes no more)."""
    warehouses = serving_warehouse_ids(session, dealer.id)
    out = []
    for code, quantity in lines:
        sku = skus.get(code)
        if sku is None:
            continue
        have = session.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
            StockBalance.sku_id == sku.id, StockBalance.state == "available", StockBalance.warehouse_id.in_(warehouses)))
        if have >= quantity:
            out.append({"sku_id": sku.id, "quantity": quantity})
    return out


def seed_finance(session: Session, slug: str) -> str:
    from app.finance import bank_import, payments as payment_ops
    from app.finance.reminders import send_reminders
    from app.orders.operations import OrderRefused, place_order

    today = shanghai_today()
    finance = _user(session, f"finance@{slug}.test")
    channel = _user(session, f"channel@{slug}.test") or _user(session, f"admin@{slug}.test")
    _dealer_finance_user(session, slug)
    skus = {s.code: s for s in session.scalars(select(Sku))}
    dealers = {d.code: d for d in session.scalars(select(Dealer).where(Dealer.code.in_(list(HISTORY))))}
    # Place every order first, then ship them oldest first: a dealer's earlier invoice is
    # not overdue yet on the day its later order was placed.
    placed: list[tuple[int, Order]] = []
    for code, orders in HISTORY.items() if slug == "acme" else ():
        dealer = dealers.get(code)
        if dealer is None:
            continue
        owner = session.scalar(select(User).where(User.dealer_id == dealer.id).order_by(User.id)) or channel
        for n, (when, lines) in enumerate(orders, 1):
            days_ago = _days_ago(when, today)
            wanted = _in_stock(session, dealer, lines, skus)
            if not wanted:
                continue
            try:
                order = place_order(session, dealer, owner, wanted, idempotency_key=f"demo-{slug}-finance-{code}-{n}",
                                    day=today - timedelta(days=days_ago), note="历史订单（回款演示）")
            except OrderRefused:
                continue
            if order.status in ("allocated", "approved"):
                placed.append((days_ago, order))
    for days_ago, order in sorted(placed, key=lambda p: -p[0]):
        _ship_on(session, order, channel, today - timedelta(days=days_ago))

    def invoices_of(code: str) -> list[Invoice]:
        dealer = dealers.get(code) or session.scalar(select(Dealer).where(Dealer.code == code))
        if dealer is None:
            return []
        return list(session.scalars(select(Invoice).where(Invoice.dealer_id == dealer.id, Invoice.kind == "invoice",
                                                          Invoice.status == "open").order_by(Invoice.issued_on, Invoice.id)))

    recorded = 0
    # 江苏恒康 names its invoice in the remark: matched automatically
    for invoice in invoices_of("D-JS-001")[:1]:
        payment_ops.record_payment(session, finance, {
            "dealer_id": invoice.dealer_id, "received_on": today - timedelta(days=28), "amount": invoice.amount,
            "bank_ref": f"{slug.upper()}-BOC-{today:%y%m%d}-0001", "reference": f"支付货款 {invoice.number}",
            "payer_account": invoice.dealer.bank_account}, day=today)
        recorded += 1
    # 浙江瑞华 pays a round sum naming nothing: finance matches it by hand
    zj = invoices_of("D-ZJ-001")
    if zj:
        payment_ops.record_payment(session, finance, {
            "dealer_id": zj[0].dealer_id, "received_on": today - timedelta(days=20), "amount": Decimal("50000.00"),
            "bank_ref": f"{slug.upper()}-ICBC-{today:%y%m%d}-0002", "reference": "货款",
            "payer_account": zj[0].dealer.bank_account}, day=today)
        recorded += 1
    # dealer1 paid its delivered order's invoice on receipt (the oldest order of the order stage)
    dealer1 = session.scalar(select(User).where(User.email == f"dealer1@{slug}.test"))
    if dealer1 is not None:
        first = session.scalar(select(Invoice).join(Order, Order.id == Invoice.order_id).where(
            Invoice.dealer_id == dealer1.dealer_id, Invoice.kind == "invoice", Invoice.status == "open",
            Invoice.issued_on == today).order_by(Order.id, Invoice.id).limit(1))
        if first is not None:
            payment_ops.record_payment(session, finance, {
                "dealer_id": first.dealer_id, "received_on": today, "amount": first.amount - first.settled_amount,
                "bank_ref": f"{slug.upper()}-CMB-{today:%y%m%d}-0003", "reference": f"{first.number} 货款"}, day=today)
            recorded += 1
    # dealer1 and dealer2 paid last months' invoices by transfer, naming them (the statements
    # of those months show invoices, payments and what is still open)
    for code, bank in (("D-SH-001", "CMB"), ("D-GD-001", "GDB")):
        history = [i for i in invoices_of(code) if i.issued_on < today.replace(day=1) - timedelta(days=31)]
        for k, invoice in enumerate(history[:2]):
            paid_on = min(today - timedelta(days=1), invoice.issued_on + timedelta(days=24 + 3 * k))
            payment_ops.record_payment(session, finance, {
                "dealer_id": invoice.dealer_id, "received_on": paid_on, "amount": invoice.amount,
                "bank_ref": f"{slug.upper()}-{bank}-{paid_on:%y%m%d}-{invoice.id:04d}",
                "reference": f"{invoice.dealer.name} 货款 {invoice.number}",
                "payer_account": invoice.dealer.bank_account}, day=today)
            recorded += 1
    # a receipt whose payer matches no dealer's bank details, as a bank statement brings it
    unknown = bank_import.StatementOutcome(lines=[bank_import.Line(
        row=2, received_on=today - timedelta(days=3), amount=Decimal("18600.00"),
        bank_ref=f"{slug.upper()}-ABC-{today:%y%m%d}-0004", payer_name="宁波海曙康达医药贸易有限公司",
        payer_account="6228480398812345678", reference="代付货款", dealer_id=None)])
    bank_import.write_payments(session, unknown, None, finance, today)
    recorded += unknown.created
    reminders = send_reminders(session, today)
    invoices = session.scalar(select(func.count()).select_from(Invoice))
    return f"{invoices} invoices, {recorded} payments, {reminders} payment reminders"


def _dealer_finance_user(session: Session, slug: str) -> None:
    """A finance clerk at dealer1 (dealer_finance), who receives the reminders."""
    from app.demo.data import PASSWORD

    owner = _user(session, f"dealer1@{slug}.test")
    email = f"dealer1.finance@{slug}.test"
    if owner is None or _user(session, email) is not None:
        return
    session.add(User(email=email, name="王会计" if slug == "acme" else "财务", portal="dealer", roles=["dealer_finance"],
                     dealer_id=owner.dealer_id, password_hash=hash_password(PASSWORD)))
    session.flush()


