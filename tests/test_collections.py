"""Collections (回款): payments recorded and matched to invoices — automatically by the
invoice number in the remark or by an exact amount, by hand for the rest, reversed with
a reason — with the amounts and statuses consistent under two clerks at once; the
credit check with overdue invoices; reminders once per invoice and kind; receivables
aging, DSO and collection rate."""
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.channel.models import Dealer
from app.compliance.models import ApprovalRequest, AuditEvent
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.finance import matching, payments as payment_ops, queries as q
from app.finance.models import Invoice, InvoiceApplication, Payment, PaymentReminder
from app.finance.reminders import send_reminders
from app.identity.models import OutboxMessage, User
from app.orders import operations as order_ops
from tests.finance_world import fresh_dealer, invoice

D = Decimal


def _finance(s):
    return s.scalar(select(User).where(User.email == "finance@acme.test"))


def _pay(s, dealer, amount, reference=None, days_ago=0, bank_ref=None):
    return payment_ops.record_payment(s, _finance(s), {
        "dealer_id": str(dealer.id), "received_on": (shanghai_today() - timedelta(days=days_ago)).isoformat(),
        "amount": str(amount), "reference": reference, "bank_ref": bank_ref})


# --- recording and automatic matching ----------------------------------------------------------------

def test_a_payment_naming_its_invoice_in_the_remark_is_matched_to_it(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        older = invoice(s, dealer, [("11300.00", "0.13")], day=shanghai_today() - timedelta(days=40))
        named = invoice(s, dealer, [("5650.00", "0.13")])
        payment = _pay(s, dealer, "5650.00", f"华东医疗 支付货款 {named.number}")
        assert payment.number.startswith("RC-") and payment.status == "applied" and payment.applied_amount == D("5650.00")
        assert (named.status, named.settled_amount, older.settled_amount) == ("settled", D("5650.00"), D("0"))
        application = s.scalar(select(InvoiceApplication).where(InvoiceApplication.payment_id == payment.id))
        assert (application.invoice_id, application.method, application.applied_by_id) == (named.id, "auto", _finance(s).id)


def test_a_named_invoice_takes_its_open_amount_then_the_next_named_the_rest(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        a = invoice(s, dealer, [("1000.00", "0.13")])
        b = invoice(s, dealer, [("3000.00", "0.13")])
        payment = _pay(s, dealer, "3500.00", f"{a.number}、{b.number}")
        assert (a.settled_amount, b.settled_amount) == (D("1000.00"), D("2500.00"))
        assert (a.status, b.status, payment.status) == ("settled", "open", "applied")


def test_a_payment_equal_to_one_open_invoice_or_to_all_of_them_is_matched_by_amount(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        a = invoice(s, dealer, [("2260.00", "0.13")])
        b = invoice(s, dealer, [("1130.00", "0.13")])
        one = _pay(s, dealer, "1130.00", "货款")
        assert one.status == "applied" and b.status == "settled" and a.status == "open"
        c = invoice(s, dealer, [("339.00", "0.13")])
        both = _pay(s, dealer, "2599.00")  # 2,260 + 339: everything open
        assert both.status == "applied" and a.status == "settled" and c.status == "settled"


def test_anything_else_waits_for_a_clerk(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        invoice(s, dealer, [("500.00", "0.13")])
        invoice(s, dealer, [("500.00", "0.13")])
        twins = _pay(s, dealer, "500.00", "货款")  # two invoices of ¥500: which one?
        round_sum = _pay(s, dealer, "700.00", "货款")
        assert twins.status == round_sum.status == "unapplied"
        assert s.scalar(select(func.count()).select_from(InvoiceApplication).where(
            InvoiceApplication.payment_id.in_([twins.id, round_sum.id]))) == 0


def test_recording_refuses_what_is_wrong_by_field(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        good = {"dealer_id": str(dealer.id), "received_on": shanghai_today().isoformat(), "amount": "100.00"}
        cases = [({"dealer_id": ""}, "dealer_id"), ({"dealer_id": "999999999"}, "dealer_id"),
                 ({"dealer_id": "²"}, "dealer_id"), ({"amount": "nan"}, "amount"), ({"amount": "-5"}, "amount"),
                 ({"amount": "1e15"}, "amount"), ({"amount": "12.345"}, "amount"),
                 ({"received_on": "9999-12-31"}, "received_on"), ({"received_on": "2026-02-30"}, "received_on"),
                 ({"received_on": (shanghai_today() + timedelta(days=1)).isoformat()}, "received_on"),
                 ({"reference": "x" * 301}, "reference"), ({"method": "cash"}, "method")]
        for change, field in cases:
            with pytest.raises(InvalidInput) as err:
                payment_ops.record_payment(s, _finance(s), {**good, **change})
            assert err.value.field == field, (change, err.value.message)
        first = payment_ops.record_payment(s, _finance(s), {**good, "bank_ref": "ICBC-T-0001-" + dealer.code})
        with pytest.raises(InvalidInput) as err:  # the same transfer twice
            payment_ops.record_payment(s, _finance(s), {**good, "bank_ref": "ICBC-T-0001-" + dealer.code})
        assert err.value.field == "bank_ref" and first.number in err.value.message


# --- manual matching and reversal -----------------------------------------------------------------------

def test_manual_matching_applies_within_both_limits_and_refuses_beyond_them(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        a = invoice(s, dealer, [("800.00", "0.13")])
        b = invoice(s, dealer, [("900.00", "0.13")])
        payment = _pay(s, dealer, "1000.00")
        assert payment.status == "unapplied"
        with pytest.raises(InvalidInput) as err:  # over an invoice's open amount
            matching.apply_to_invoices(s, payment, [(a.id, D("800.01"))], _finance(s))
        assert err.value.field == f"amount_{a.id}"
        with pytest.raises(InvalidInput) as err:  # over what the payment has
            matching.apply_to_invoices(s, payment, [(a.id, D("800.00")), (b.id, D("200.01"))], _finance(s))
        assert err.value.field == "form"
        other = invoice(s, fresh_dealer(s), [("100.00", "0.13")])
        with pytest.raises(InvalidInput):  # another dealer's invoice
            matching.apply_to_invoices(s, payment, [(other.id, D("100.00"))], _finance(s))
        matching.apply_to_invoices(s, payment, [(a.id, D("800.00")), (b.id, D("200.00"))], _finance(s))
        assert (payment.applied_amount, payment.status) == (D("1000.00"), "applied")
        assert (a.status, b.status, b.settled_amount) == ("settled", "open", D("200.00"))
        with pytest.raises(InvalidInput):  # a settled invoice takes nothing more
            matching.apply_to_invoices(s, _pay(s, dealer, "1.00", "x"), [(a.id, D("1.00"))], _finance(s))


def test_reversing_a_match_needs_a_reason_and_opens_the_invoice_again(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        inv = invoice(s, dealer, [("4520.00", "0.13")])
        payment = _pay(s, dealer, "4520.00", inv.number)
        application = s.scalar(select(InvoiceApplication).where(InvoiceApplication.payment_id == payment.id))
        with pytest.raises(InvalidInput) as err:
            matching.reverse_application(s, application, _finance(s), " ")
        assert err.value.field == "reason"
        reversal = matching.reverse_application(s, application, _finance(s), "付款人实为另一经销商")
        assert reversal.amount == D("-4520.00") and reversal.reversal_of_id == application.id
        assert reversal.note == "付款人实为另一经销商"
        assert (inv.status, inv.settled_amount, payment.status, payment.applied_amount) == ("open", 0, "unapplied", 0)
        event = s.scalar(select(AuditEvent).where(AuditEvent.entity_type == "invoice_applications",
                                                  AuditEvent.entity_id == str(reversal.id)))
        assert event.reason == "付款人实为另一经销商"
        with pytest.raises(InvalidInput):
            matching.reverse_application(s, application, _finance(s), "again")
        with pytest.raises(InvalidInput):
            matching.reverse_application(s, reversal, _finance(s), "a reversal")


def test_two_clerks_matching_the_same_payment_at_once_apply_it_once(as_tenant):
    """Two clerks pick different invoices for the same ¥1,000 payment at the same moment:
    the payment row lock serves them in turn, the second sees the first's match and is
    refused; the amounts and statuses add up."""
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        a, b = invoice(s, dealer, [("1000.00", "0.13")]), invoice(s, dealer, [("1000.00", "0.13")])
        payment = _pay(s, dealer, "1000.00", "货款")
        assert payment.status == "unapplied"
        ids = payment.id, a.id, b.id
    barrier, outcomes = threading.Barrier(2), {}

    def clerk(n, invoice_id):
        try:
            with as_tenant("acme") as s:
                stale = s.get(Payment, ids[0])
                assert stale.applied_amount == 0  # both read it unmatched
                barrier.wait(timeout=10)
                try:
                    matching.apply_to_invoices(s, stale, [(invoice_id, D("1000.00"))], _finance(s))
                    outcomes[n] = "applied"
                except InvalidInput as err:
                    outcomes[n] = err.message
        except Exception as err:  # pragma: no cover - reported below
            outcomes[n] = err

    threads = [threading.Thread(target=clerk, args=(n, i)) for n, i in enumerate(ids[1:])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(o == "applied" for o in outcomes.values()) == [False, True], outcomes
    with as_tenant("acme") as s:
        payment = s.get(Payment, ids[0])
        applied = s.scalar(select(func.sum(InvoiceApplication.amount)).where(InvoiceApplication.payment_id == payment.id))
        settled = s.scalar(select(func.sum(Invoice.settled_amount)).where(Invoice.id.in_(ids[1:])))
        assert payment.applied_amount == applied == settled == D("1000.00") and payment.status == "applied"


def test_an_unidentified_payment_is_assigned_then_matched(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        inv = invoice(s, dealer, [("777.77", "0.13")])
        payment = Payment(number="RC-T-" + dealer.code, dealer_id=None, received_on=shanghai_today(), amount=D("777.77"),
                          applied_amount=D("0"), status="unapplied", source="import", payer_name="某某代付公司")
        s.add(payment)
        s.flush()
        with pytest.raises(InvalidInput):  # no dealer, no matching
            matching.apply_to_invoices(s, payment, [(inv.id, D("777.77"))], _finance(s))
        payment_ops.assign_dealer(s, payment, str(dealer.id), _finance(s))
        assert payment.dealer_id == dealer.id and payment.status == "applied" and inv.status == "settled"
        with pytest.raises(InvalidInput):  # matched: reverse first
            payment_ops.assign_dealer(s, payment, str(fresh_dealer(s).id), _finance(s))


# --- credit ---------------------------------------------------------------------------------------------

def test_an_order_from_a_dealer_with_overdue_invoices_waits_for_credit_approval(as_tenant):
    """华东医疗器械 with an invoice 10 days overdue: a new order, well within its limit,
    goes to the order_over_credit approval and its facts say why. (Rolled back: the demo
    dealer must stay in good standing for the other tests.)"""
    with as_tenant("acme") as s:
        dealer = s.scalar(select(Dealer).where(Dealer.code == "D-SH-001"))
        from app.finance.queries import _open_position

        before = order_ops.credit_position(s, dealer.id)
        assert before.overdue_amount == 0
        # money the dealer holds unapplied (credit notes, payments other tests left) counts
        # against what is overdue: the new overdue invoice is larger by what is left of it
        start = _open_position(s, dealer.id, shanghai_today())
        amount = start.unapplied - start.overdue + D("2345.00")
        invoice(s, dealer, [(str(amount), "0.13")], day=shanghai_today() - timedelta(days=100), due_in=90)
        position = order_ops.credit_position(s, dealer.id)
        assert position.overdue_amount == D("2345.00") and position.receivable == before.receivable + amount
        owner = s.scalar(select(User).where(User.email == "dealer1@acme.test"))
        from tests.order_world import ids

        acme = ids(s)
        order = order_ops.place_order(s, dealer, owner, [{"sku_id": acme["CV-SH-6F"], "quantity": 1}])
        assert order.status == "pending_approval"
        assert order.credit_check["overdue_amount"] == "2345.00" and order.credit_check["over_limit"] == "0"
        request = s.get(ApprovalRequest, order.approval_request_id)
        assert request.kind == "order_over_credit" and D(request.facts["overdue_amount"]) == D("2345.00")
        assert "overdue" in request.title or "逾期" in request.title
        # money received and not yet matched counts against what is overdue
        prepaid = _pay(s, dealer, "2718.28", "预付款，未注明发票")
        assert prepaid.status == "unapplied"
        assert order_ops.credit_position(s, dealer.id).overdue_amount == 0
        s.rollback()


def test_exposure_is_open_orders_not_yet_invoiced_plus_open_receivables(as_tenant):
    from tests.finance_world import shipped

    with as_tenant("acme") as s:
        dealer = s.scalar(select(Dealer).where(Dealer.code == "D-SH-001"))
        before = order_ops.credit_position(s, dealer.id)
        order, _shipment, inv = shipped(s, quantities=(2,), price=D("100.00"), rates=("0.13",))
        after = order_ops.credit_position(s, dealer.id)
        # the order (¥200) is wholly invoiced: it moved from "not invoiced" to receivables
        assert order.status in order_ops.OPEN_FOR_CREDIT and inv.amount == D("200.00")
        assert after.receivable - before.receivable == D("200.00")
        assert after.open_amount == after.uninvoiced + after.receivable
        _pay(s, dealer, "200.00", inv.number)
        assert order_ops.credit_position(s, dealer.id).receivable == before.receivable
        s.rollback()


# --- reminders ------------------------------------------------------------------------------------------

def test_reminders_go_once_per_invoice_and_kind_to_the_dealer_in_chinese(as_tenant):
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s, users=True)
        today = shanghai_today()
        soon = invoice(s, dealer, [("1130.00", "0.13")], day=today - timedelta(days=53), due_in=60)   # due in 7
        due = invoice(s, dealer, [("2260.00", "0.13")], day=today - timedelta(days=60), due_in=60)    # due today
        late = invoice(s, dealer, [("3390.00", "0.13")], day=today - timedelta(days=67), due_in=60)   # 7 days late
        old = invoice(s, dealer, [("4520.00", "0.13")], day=today - timedelta(days=130), due_in=60)   # 70 days late
        later = invoice(s, dealer, [("5650.00", "0.13")], day=today, due_in=60)                       # nothing yet
        paid = invoice(s, dealer, [("6780.00", "0.13")], day=today - timedelta(days=67), due_in=60)
        _pay(s, dealer, "6780.00", paid.number)
        send_reminders(s, today)
        sent = dict(s.execute(select(PaymentReminder.invoice_id, PaymentReminder.kind).join(
            Invoice, Invoice.id == PaymentReminder.invoice_id).where(Invoice.dealer_id == dealer.id)).all())
        assert sent == {soon.id: "due_in_7", due.id: "due_today", late.id: "overdue_7", old.id: "overdue_30"}
        assert later.id not in sent and paid.id not in sent
        mails = list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "payment_reminder",
                                                           OutboxMessage.body.contains(late.number))))
        assert sorted(m.to_address for m in mails) == sorted([dealer.contact_email, f"{dealer.code.lower()}.owner@acme.test",
                                                              f"{dealer.code.lower()}.finance@acme.test"])
        assert "逾期" in mails[0].subject and "¥3,390.00" in mails[0].body and "附言" in mails[0].body
        # the same day again, and the next day: nothing new (the kinds are already sent)
        def count():
            return s.scalar(select(func.count()).select_from(PaymentReminder).join(
                Invoice, Invoice.id == PaymentReminder.invoice_id).where(Invoice.dealer_id == dealer.id))

        send_reminders(s, today)
        send_reminders(s, today + timedelta(days=1))
        assert count() == 4
        # a week later the one that was due in 7 days is due; the 7-days-late one is not 30 yet
        send_reminders(s, today + timedelta(days=7))
        kinds = set(s.execute(select(PaymentReminder.invoice_id, PaymentReminder.kind).where(
            PaymentReminder.invoice_id.in_([soon.id, late.id]))).all())
        assert (soon.id, "due_today") in kinds and (late.id, "overdue_30") not in kinds
        s.rollback()


def test_the_daily_task_runs_once_a_day_per_tenant(as_tenant, engine):
    from datetime import datetime, timezone

    from app.finance.reminders import send_daily_reminders

    with as_tenant("acme") as s:
        dealer = fresh_dealer(s)
        inv = invoice(s, dealer, [("1130.00", "0.13")], day=shanghai_today() - timedelta(days=45), due_in=10)
        invoice_id = inv.id
    now = datetime.now(timezone.utc)
    send_daily_reminders(engine, now=now)
    send_daily_reminders(engine, now=now)  # the day is done: nothing again
    with as_tenant("acme") as s:
        assert list(s.scalars(select(PaymentReminder.kind).where(PaymentReminder.invoice_id == invoice_id))) == ["overdue_30"]


# --- receivables ----------------------------------------------------------------------------------------

def test_aging_dso_and_collection_rate_of_a_dealer_hand_worked(as_tenant):
    """A dealer with 60-day terms: invoices of ¥10,000 (due in 10 days), ¥20,000 (5 days
    late), ¥30,000 (45 days late), ¥40,000 (75 late), ¥50,000 (120 late); a ¥1,000 credit
    note and ¥15,000 paid 20 days ago against the oldest; ¥5,000 received unmatched.
    应收 = 150,000 − 1,000 − 20,000 = 129,000."""
    with as_tenant("acme") as s:
        dealer = fresh_dealer(s, terms=60)
        today = shanghai_today()
        make = [(10_000, 50), (20_000, 65), (30_000, 105), (40_000, 135), (50_000, 180)]  # (amount, issued days ago)
        invoices = [invoice(s, dealer, [(f"{a}.00", "0.13")], day=today - timedelta(days=d)) for a, d in make]
        from app.finance.invoices import LineDraft, _issue

        note = _issue(s, "credit_note", dealer, [LineDraft("退货", D("0.13"), D("1000.00"))], today - timedelta(days=10),
                      reason="other", prefix="CNT")
        matching.apply_to_invoices(s, note, [(invoices[4].id, D("1000.00"))])
        paid = _pay(s, dealer, "15000.00", invoices[4].number, days_ago=20)
        _pay(s, dealer, "5000.00", "货款", days_ago=5)
        assert paid.status == "applied"
        finance = _finance(s)
        f = q.ReceivablesFilter(dealer_id=dealer.id, days=90)
        page = q.receivables_by_dealer(s, finance, None, f, today)
        assert len(page.items) == 1
        x = page.items[0]
        assert x.balance == D("129000.00")
        assert x.buckets == {"not_due": D("10000.00"), "d0_30": D("20000.00"), "d31_60": D("30000.00"),
                             "d61_90": D("40000.00"), "d90_plus": D("34000.00")}
        assert x.unapplied == D("5000.00")
        # in the last 90 days: invoiced 10,000 + 20,000 − 1,000 credit = 29,000; collected 20,000;
        # receivable at its start = 30,000 + 40,000 + 50,000 = 120,000
        assert (x.invoiced, x.collected, x.opening) == (D("29000.00"), D("20000.00"), D("120000.00"))
        assert x.dso == rules_dso(D("129000"), D("29000"), 90) == D("400.3")
        assert x.collection_rate == D("13.4")  # 20,000 / (120,000 + 29,000) = 13.42 %
        regions, total = q.receivables_by_region(s, finance, f, today)
        assert len(regions) == 1 and regions[0].name == "华东" and regions[0].balance == total.balance == x.balance
        s.rollback()


def rules_dso(*args):
    from app.finance.rules import dso

    return dso(*args)


def test_a_regional_manager_sees_receivables_of_their_regions_only(as_tenant):
    with as_tenant("acme") as s:
        east, north = fresh_dealer(s, "SH"), fresh_dealer(s, "BJ")
        invoice(s, east, [("100.00", "0.13")])
        invoice(s, north, [("200.00", "0.13")])
        manager = s.scalar(select(User).where(User.email == "sales.east@acme.test"))
        for dealer, seen in ((east, 1), (north, 0)):
            page = q.receivables_by_dealer(s, manager, None, q.ReceivablesFilter(dealer_id=dealer.id))
            assert len(page.items) == seen
        regions, _total = q.receivables_by_region(s, manager, q.ReceivablesFilter())
        assert {r.name for r in regions} <= {"华东"}
        s.rollback()


def test_the_receivable_read_from_open_documents_equals_invoices_less_credit_notes_less_payments(as_tenant):
    """The receivables report and the credit check read only open documents and the
    period's flows; that must give, for every dealer of the demo and of the tests so far,
    exactly Σ invoices − Σ credit notes − Σ payments, and the opening balance exactly the
    same sum over what came before the period."""
    from sqlalchemy import text

    from app.compliance.exports import walk_pages

    with as_tenant("acme") as s:
        today, days = shanghai_today(), 90
        since = today - timedelta(days=days - 1)
        full = {r.id: r for r in s.execute(text(
            "SELECT d.id, coalesce(i.total, 0) - coalesce(p.total, 0) AS balance, "
            "       coalesce(i.before, 0) - coalesce(p.before, 0) AS opening "
            "FROM dealers d "
            "LEFT JOIN (SELECT dealer_id, sum(CASE WHEN kind = 'invoice' THEN amount ELSE -amount END) AS total, "
            "                  sum(CASE WHEN kind = 'invoice' THEN amount ELSE -amount END) FILTER (WHERE issued_on < :since) AS before "
            "           FROM invoices WHERE status <> 'void' GROUP BY dealer_id) i ON i.dealer_id = d.id "
            "LEFT JOIN (SELECT dealer_id, sum(amount) AS total, sum(amount) FILTER (WHERE received_on < :since) AS before "
            "           FROM payments GROUP BY dealer_id) p ON p.dealer_id = d.id"), {"since": since})}
        finance = _finance(s)
        seen = 0
        for x in walk_pages(lambda cursor: q.receivables_by_dealer(s, finance, cursor, q.ReceivablesFilter(days=days), today)):
            assert (x.balance, x.opening) == (full[x.key].balance, full[x.key].opening), x.name
            assert q.dealer_position(s, x.key, today).receivable == x.balance
            seen += 1
        assert seen >= 5
