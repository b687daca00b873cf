"""Invoices issued where the business happens: on shipping (one per shipment, VAT per
line at the order line's rate, dated the Shanghai ship day, due after the dealer's
terms), on confirming a consignment use, and credit notes for credited returns and for
rebate offsets (票折) — applied to the invoices they credit."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.compliance.models import AuditEvent
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.finance import invoices as invoice_ops
from app.finance import matching, rules
from app.finance.models import Invoice, InvoiceApplication
from app.identity.models import User
from app.orders import fulfilment as ful
from app.orders.models import OrderLine
from tests.finance_world import fresh_dealer, invoice, shipped
from tests.order_world import allocated_order, ids, stocked_skus

D = Decimal


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return ids(s)


def test_shipping_issues_one_invoice_with_vat_split_per_line_at_each_lines_rate(as_tenant):
    with as_tenant("acme") as s:
        order, shipment, inv = shipped(s, quantities=(2, 3), price=D("1234.56"), rates=("0.13", "0.03"))
        today = shanghai_today()
        assert inv.kind == "invoice" and inv.status == "open" and inv.reason is None
        assert inv.number == f"INV-{today:%Y%m%d}-{inv.id:06d}"
        assert (inv.order_id, inv.shipment_id, inv.dealer_id) == (order.id, shipment.id, order.dealer_id)
        assert inv.issued_on == today and inv.due_on == today + timedelta(days=order.dealer.payment_terms_days)
        assert len(inv.lines) == len(shipment.lines)
        for line, shipped_line in zip(inv.lines, shipment.lines):
            order_line = s.get(OrderLine, shipped_line.order_line_id)
            assert (line.shipment_line_id, line.order_line_id, line.lot_id) == (shipped_line.id, order_line.id,
                                                                                shipped_line.lot_id)
            assert line.amount == D("1234.56") * shipped_line.quantity
            assert line.tax_rate == order_line.tax_rate
            assert (line.net_amount, line.tax_amount) == rules.split_vat(line.amount, line.tax_rate)
        assert inv.amount == sum(line.amount for line in inv.lines) == inv.net_amount + inv.tax_amount
        assert inv.net_amount == sum(line.net_amount for line in inv.lines)
        assert {line.tax_rate for line in inv.lines} == {D("0.13"), D("0.03")}
        # once per shipment, and audited like every write
        assert invoice_ops.invoice_shipment(s, shipment) is inv
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_type == "invoices", AuditEvent.entity_id == str(inv.id), AuditEvent.action == "create")) == 1


def test_hand_worked_invoice_of_a_stent_order(as_tenant):
    """10 套药物洗脱支架 at ¥5,314.00 incl. 13 % VAT: ¥53,140.00 = ¥47,026.55 + ¥6,113.45."""
    with as_tenant("acme") as s:
        _order, _shipment, inv = shipped(s, quantities=(10,), price=D("5314.00"), rates=("0.13",))
        assert (inv.amount, inv.net_amount, inv.tax_amount) == (D("53140.00"), D("47026.55"), D("6113.45"))


def test_each_shipment_of_an_order_is_invoiced_for_its_own_units(as_tenant, acme):
    with as_tenant("acme") as s:
        sku = stocked_skus(s, acme["D-SH-001"], at_least=5, limit=1)[0]
        order = allocated_order(s, lines=[(sku, 5)], price=D("99.99"))
        allocation = ful.open_allocations(s, order)[0]
        first = ful.create_shipment(s, order, allocation.warehouse_id, {allocation.id: 2}, carrier="京东物流", tracking_no="JD1")
        ful.ship_shipment(s, first)
        rest = ful.open_allocations(s, order)
        second = ful.create_shipment(s, order, rest[0].warehouse_id, {a.id: a.quantity for a in rest
                                                                     if a.warehouse_id == rest[0].warehouse_id},
                                     carrier="京东物流", tracking_no="JD2")
        ful.ship_shipment(s, second)
        invoices = list(s.scalars(select(Invoice).where(Invoice.order_id == order.id, Invoice.kind == "invoice")
                                  .order_by(Invoice.id)))
        assert [i.shipment_id for i in invoices] == [first.id, second.id]
        assert [i.amount for i in invoices] == [D("199.98"), D("299.97")]
        assert sum(i.amount for i in invoices) == order.total_amount


def test_a_cancelled_shipment_is_never_invoiced_and_a_packed_one_not_yet(as_tenant, acme):
    with as_tenant("acme") as s:
        sku = stocked_skus(s, acme["D-SH-001"], at_least=1, limit=1)[0]
        order = allocated_order(s, lines=[(sku, 1)])
        allocation = ful.open_allocations(s, order)[0]
        shipment = ful.create_shipment(s, order, allocation.warehouse_id, {allocation.id: 1}, carrier="顺丰", tracking_no="X")
        assert invoice_ops.invoice_for_shipment(s, shipment.id) is None
        ful.cancel_shipment(s, shipment)
        assert s.scalar(select(func.count()).select_from(Invoice).where(Invoice.order_id == order.id)) == 0


def test_free_goods_appear_at_zero_with_a_free_goods_description(as_tenant, acme):
    """货补: the free units are on the invoice at ¥0.00, described as such."""
    with as_tenant("acme") as s:
        skus = stocked_skus(s, acme["D-SH-001"], at_least=2, limit=2)
        order = allocated_order(s, lines=[(skus[0], 2), (skus[1], 2)], price=D("800.00"))
        free = order.lines[1]
        free.free_goods, free.unit_price, free.amount, free.free_goods_value = True, D("0"), D("0"), D("1600.00")
        order.total_amount = order.lines[0].amount
        s.flush()
        allocations = ful.open_allocations(s, order)
        by_warehouse = {}
        for a in allocations:
            by_warehouse.setdefault(a.warehouse_id, {})[a.id] = a.quantity
        for warehouse_id, quantities in by_warehouse.items():
            ful.ship_shipment(s, ful.create_shipment(s, order, warehouse_id, quantities, carrier="顺丰", tracking_no="F"))
        lines = list(s.scalars(select(Invoice).where(Invoice.order_id == order.id)).unique())
        free_lines = [line for inv in lines for line in inv.lines if line.order_line_id == free.id]
        assert free_lines and all(line.amount == 0 and line.net_amount == 0 and line.tax_amount == 0
                                  and line.description.startswith("货补：") for line in free_lines)
        assert sum(inv.amount for inv in lines) == D("1600.00")


def test_a_consignment_use_is_invoiced_when_its_report_is_confirmed(as_tenant):
    from app.inventory import consignment as cons
    from app.inventory.models import Warehouse
    from app.orders import surgery

    with as_tenant("acme") as s:
        location = s.scalar(select(Warehouse.id).where(Warehouse.code == "CS-H-SH-001"))
        stock = [x for x in cons.available_lots(s, location) if x.quantity >= 1]
        assert stock, "the demo has consignment stock"
        hospital1 = s.scalar(select(User).where(User.email == "hospital1@acme.test"))
        report = surgery.report_surgery(s, hospital1, {
            "warehouse_id": location, "surgery_on": shanghai_today().isoformat(), "department": "心内科导管室",
            "lines": [{"lot_id": stock[0].lot.id, "quantity": 1}]})
        order = surgery.confirm_surgery_report(s, report, s.scalar(select(User).where(User.email == "channel@acme.test")))
        inv = s.scalar(select(Invoice).where(Invoice.order_id == order.id))
        assert inv is not None and inv.shipment_id is None and inv.issued_on == shanghai_today()
        assert inv.amount == order.total_amount and inv.dealer_id == order.dealer_id
        assert [(line.sku_id, line.quantity) for line in inv.lines] == [(line.sku_id, line.quantity) for line in order.lines]
        assert invoice_ops.invoice_consignment_use(s, order) is inv


def _delivered(s, price, quantity=3):
    order, shipment, inv = shipped(s, quantities=(quantity,), price=price, rates=("0.13",))
    ful.confirm_delivery(s, shipment, s.scalar(select(User).where(User.email == "dealer1@acme.test")), "陈志强", {})
    return order, shipment, inv


def _credited_return(s, shipment, quantity):
    line = shipment.lines[0]
    ret = ful.request_return(s, s.scalar(select(User).where(User.email == "dealer1@acme.test")), shipment,
                             {line.id: quantity}, "overstock")
    if ret.status == "requested":
        ret.status = "approved"
    ful.receive_return(s, ret, shipment.warehouse_id)
    return ful.credit_return(s, ret)


def test_a_credited_return_is_a_credit_note_applied_to_the_invoice_that_charged_the_units(as_tenant):
    with as_tenant("acme") as s:
        _order, shipment, inv = _delivered(s, D("333.33"), quantity=3)
        ret = _credited_return(s, shipment, 2)
        note = s.scalar(select(Invoice).where(Invoice.return_id == ret.id))
        assert (note.kind, note.reason, note.number) == ("credit_note", "return", ret.credit_note_no)
        assert note.amount == ret.credit_amount == D("666.66") and note.related_invoice_id == inv.id
        assert [(line.return_line_id, line.quantity, line.amount) for line in note.lines] == [
            (ret.lines[0].id, 2, D("666.66"))]
        assert note.net_amount + note.tax_amount == note.amount
        application = s.scalar(select(InvoiceApplication).where(InvoiceApplication.credit_note_id == note.id))
        assert (application.invoice_id, application.amount, application.method) == (inv.id, D("666.66"), "auto")
        assert inv.settled_amount == D("666.66") and inv.status == "open"
        assert note.settled_amount == note.amount and note.status == "settled"


def test_a_return_credited_after_its_invoice_was_paid_leaves_credit_to_apply_elsewhere(as_tenant):
    with as_tenant("acme") as s:
        _order, shipment, inv = _delivered(s, D("271.17"), quantity=2)
        dealer_id = inv.dealer_id
        from app.finance.models import Payment

        payment = Payment(dealer_id=dealer_id, received_on=shanghai_today(), amount=inv.amount, number="RC-T-" + inv.number[4:],
                          applied_amount=D("0"), status="unapplied", source="manual")
        s.add(payment)
        s.flush()
        matching.apply_to_invoices(s, payment, [(inv.id, inv.amount)])
        assert inv.status == "settled"
        ret = _credited_return(s, shipment, 1)
        note = s.scalar(select(Invoice).where(Invoice.return_id == ret.id))
        assert note.related_invoice_id == inv.id and note.settled_amount == 0 and note.status == "open"
        # the credit is the dealer's: a clerk applies it to another open invoice
        other = invoice(s, inv.dealer, [("1000.00", "0.13")])
        matching.apply_to_invoices(s, note, [(other.id, note.amount)])
        assert other.settled_amount == D("271.17") and note.status == "settled"


def test_rebate_offset_is_credited_with_each_invoice_until_used_split_over_mixed_rates(as_tenant, acme):
    """票折 ¥1,000 on an order of ¥3,000 at 13 % and ¥1,000 at 3 %, shipped in two parts:
    the first invoice (¥600) is offset whole, the second takes the ¥400 left, each credit
    spread over its invoice's lines in proportion, at each line's rate."""
    with as_tenant("acme") as s:
        skus = stocked_skus(s, acme["D-SH-001"], at_least=3, limit=2)
        order = allocated_order(s, lines=[(skus[0], 3), (skus[1], 1)], price=D("1000.00"))
        order.lines[1].tax_rate = D("0.03")
        order.rebate_offset = D("1000.00")
        s.flush()
        a1 = next(a for a in ful.open_allocations(s, order) if a.order_line_id == order.lines[1].id)
        # the first shipment: the 3 % line's one unit, ¥1,000
        first = ful.create_shipment(s, order, a1.warehouse_id, {a1.id: 1}, carrier="顺丰", tracking_no="R1")
        ful.ship_shipment(s, first)
        inv1 = invoice_ops.invoice_for_shipment(s, first.id)
        notes = list(s.scalars(select(Invoice).where(Invoice.order_id == order.id, Invoice.reason == "rebate_offset")))
        assert inv1.amount == D("1000.00") and len(notes) == 1
        note1 = notes[0]
        assert note1.amount == D("1000.00") and note1.related_invoice_id == inv1.id and note1.number.startswith("CNR-")
        assert inv1.status == "settled" and inv1.settled_amount == D("1000.00")
        assert [(line.tax_rate, line.amount) for line in note1.lines] == [(D("0.03"), D("1000.00"))]
        # the offset is used up: the rest of the order is invoiced without a credit note
        rest = ful.open_allocations(s, order)
        for warehouse_id in {a.warehouse_id for a in rest}:
            ful.ship_shipment(s, ful.create_shipment(s, order, warehouse_id, {a.id: a.quantity for a in rest
                                                                              if a.warehouse_id == warehouse_id},
                                                     carrier="顺丰", tracking_no="R2"))
        later = list(s.scalars(select(Invoice).where(Invoice.order_id == order.id, Invoice.kind == "invoice",
                                                     Invoice.id != inv1.id)))
        assert sum(i.amount for i in later) == D("3000.00") and all(i.settled_amount == 0 for i in later)
        assert invoice_ops.rebate_offset_credited(s, order.id) == D("1000.00")


def test_a_rebate_offset_larger_than_one_invoice_spreads_over_mixed_rates(as_tenant, acme):
    with as_tenant("acme") as s:
        skus = stocked_skus(s, acme["D-SH-001"], at_least=2, limit=2)
        order = allocated_order(s, lines=[(skus[0], 2), (skus[1], 1)], price=D("1500.00"))
        order.lines[1].tax_rate = D("0.03")
        order.rebate_offset = D("900.00")
        s.flush()
        allocations = ful.open_allocations(s, order)
        warehouses = {a.warehouse_id for a in allocations}
        if len(warehouses) > 1:
            pytest.fail("the demo's stock for these SKUs should sit in one serving warehouse")
        shipment = ful.create_shipment(s, order, allocations[0].warehouse_id, {a.id: a.quantity for a in allocations},
                                       carrier="顺丰", tracking_no="R3")
        ful.ship_shipment(s, shipment)
        inv = invoice_ops.invoice_for_shipment(s, shipment.id)
        note = s.scalar(select(Invoice).where(Invoice.related_invoice_id == inv.id, Invoice.reason == "rebate_offset"))
        assert inv.amount == D("4500.00") and note.amount == D("900.00")
        # ¥3,000 at 13 % takes 2/3 = ¥600.00 (531.86 + 68.14), ¥1,500 at 3 % takes ¥300.00 (291.26 + 8.74)
        by_rate = {line.tax_rate: (line.amount, line.net_amount, line.tax_amount) for line in note.lines}
        assert by_rate[D("0.13")][0] + by_rate.get(D("0.03"), (D("0"),))[0] == D("900.00")
        for amount, net, tax in by_rate.values():
            assert net + tax == amount
        assert note.net_amount + note.tax_amount == note.amount <= inv.amount
        assert inv.settled_amount == D("900.00") and inv.amount - inv.settled_amount == D("3600.00")


def test_tax_invoice_numbers_are_checked(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        inv = invoice(s, dealer, [("113.00", "0.13")])
        for bad in ("abc", "1234567", "123456789", "１２３４５６７８"):
            with pytest.raises(InvalidInput) as err:
                invoice_ops.record_tax_invoice_no(s, inv, bad)
            assert err.value.field == "tax_invoice_no"
        invoice_ops.record_tax_invoice_no(s, inv, " 2531 2000 0000 1234 5678 ")
        assert inv.tax_invoice_no == "25312000000012345678"
        other = invoice(s, dealer, [("226.00", "0.13")])
        with pytest.raises(InvalidInput):  # a digital invoice number belongs to one invoice
            invoice_ops.record_tax_invoice_no(s, other, "25312000000012345678")
        invoice_ops.record_tax_invoice_no(s, inv, "")
        assert inv.tax_invoice_no is None
