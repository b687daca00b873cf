"""The rebate ledger on orders: 票折 up to the tenant's share of the order amount and the
balance, 货补 valued at the resolved price, first-expiring-first across credits and
policies' uses, the per-dealer lock under two racing orders, cancellation and refusal
giving back, expiry that is safe to run twice — against the seeded demo world (each test
on a dealer of its own where it needs exact balances)."""
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.orders import operations as ops
from app.orders.models import Order, OrderEvent
from app.pricing.queries import resolve_price
from app.rebates import ledger
from app.rebates.models import RebateLedgerEntry as Entry
from app.rebates.models import RebatePeriod, RebatePolicy

Y = Decimal
TODAY = shanghai_today()


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return {**{c: i for c, i in s.execute(select(Dealer.code, Dealer.id))},
                **{c: i for c, i in s.execute(select(Hospital.code, Hospital.id))},
                **{c: i for c, i in s.execute(select(Sku.code, Sku.id))},
                **{e.split("@")[0]: i for e, i in s.execute(select(User.email, User.id))}}


def credit(s, dealer_id, amount, kind="claim", expires_on=None, policy=None, day=None):
    return ledger.add_credit(s, dealer_id, kind, Y(amount), day or TODAY, policy=policy, expires_on=expires_on,
                             explanation={"test": True})


def policy(s, usable_as=("offset", "free_goods"), expires_after_days=None) -> RebatePolicy:
    p = RebatePolicy(code="T-" + uuid.uuid4().hex[:8], name="测试政策", status="published", valid_from=TODAY,
                     usable_as=list(usable_as), expires_after_days=expires_after_days)
    s.add(p)
    s.flush()
    return p


def lines(acme, *pairs, free=False):
    return [{"sku_id": acme[code], "quantity": n, **({"free_goods": True} if free else {})} for code, n in pairs]


#: ¥120,000 at 华东医疗器械's agent prices: 40 × 1,750 + 25 × 1,520 + 20 × 600
ORDER_120K = (("CV-NC-3012", 40), ("CV-PTCA-2520", 25), ("CV-GC-6JL4", 20))


def place(s, acme, dealer_code, order_lines, user="dealer1", **kw):
    return ops.place_order(s, s.get(Dealer, acme[dealer_code]), s.get(User, acme[user]) if user else None,
                           order_lines, **kw)


def used_rows(s, order_id):
    return list(s.scalars(select(Entry).where(Entry.ref_type == "orders", Entry.ref_id == order_id).order_by(Entry.id)))


# --- 票折 ------------------------------------------------------------------------------------------

def test_huadong_uses_30000_as_an_invoice_offset_on_a_120000_order_and_cancelling_gives_it_back(as_tenant, acme):
    """华东医疗器械 pays ¥30,000 of its rebate as 票折 on a ¥120,000 order (cap 30 %:
    ¥36,000): the order carries the offset, the ledger a ``used`` row, the credit check
    counts ¥90,000; cancelling the order gives the ¥30,000 back."""
    dealer_id = acme["D-SH-001"]
    with as_tenant("acme") as s:
        credit(s, dealer_id, "50000.00")
        before = ledger.balance(s, dealer_id)
        checked = ops.check_lines(s, s.get(Dealer, dealer_id), lines(acme, *ORDER_120K), rebate_offset="30,000")
        assert not checked.problems
        assert (checked.total, checked.max_offset, checked.rebate_offset, checked.net_total) == (
            Y("120000.00"), Y("36000.00"), Y("30000.00"), Y("90000.00"))
        order = place(s, acme, "D-SH-001", lines(acme, *ORDER_120K), rebate_offset="30000")
        assert order.rebate_offset == Y("30000.00") and order.total_amount == Y("120000.00")
        assert order.credit_check["order_amount"] == "90000.00"
        rows = used_rows(s, order.id)
        assert {r.kind for r in rows} == {"used"} and sum(r.amount for r in rows) == Y("-30000.00")
        assert all(r.explanation["purpose"] == "offset" and r.explanation["order"] == order.number for r in rows)
        assert ledger.balance(s, dealer_id) == before - Y("30000.00")
        assert s.scalar(select(OrderEvent.details).where(OrderEvent.order_id == order.id,
                                                         OrderEvent.kind == "rebate_used"))["offset"] == "30000.00"
        order_id = order.id
    with as_tenant("acme") as s:
        order = s.get(Order, order_id)
        ops.cancel_order(s, order, s.get(User, acme["dealer1"]), "客户取消")
        rows = used_rows(s, order_id)
        assert [r.kind for r in rows].count("released") >= 1 and sum(r.amount for r in rows) == 0
        assert ledger.balance(s, dealer_id) == before
        assert s.scalar(select(OrderEvent.details).where(OrderEvent.order_id == order_id,
                                                         OrderEvent.kind == "rebate_released"))["amount"] == "30000.00"
        assert ledger.release_order(s, order) == 0  # giving back twice gives nothing


def test_40000_on_a_120000_order_is_refused_naming_the_30_percent_cap(as_tenant, acme):
    dealer_id = acme["D-SH-001"]
    key = "t-" + uuid.uuid4().hex
    with as_tenant("acme") as s:
        credit(s, dealer_id, "60000.00")
        checked = ops.check_lines(s, s.get(Dealer, dealer_id), lines(acme, *ORDER_120K), rebate_offset="40000")
        problems = [(f, m) for i, f, m in checked.problems if i is None]
        assert problems == [("rebate_offset", "票折金额最多为订单金额的 30 %：本单金额 ¥120,000.00，最多 ¥36,000.00。")]
        with pytest.raises(ops.OrderRefused) as refused:
            place(s, acme, "D-SH-001", lines(acme, *ORDER_120K), rebate_offset="40000", idempotency_key=key)
        assert refused.value.problems[0][1] == "rebate_offset"
    with as_tenant("acme") as s:
        assert s.scalar(select(Order.id).where(Order.idempotency_key == key)) is None


def test_the_cap_follows_the_tenant_setting(as_tenant, acme):
    from app.core.settings import put_setting

    with as_tenant("acme") as s:
        put_setting(s, "rebate_offset_max_pct", 40)
    try:
        with as_tenant("acme") as s:
            credit(s, acme["D-SH-001"], "50000.00")
            checked = ops.check_lines(s, s.get(Dealer, acme["D-SH-001"]), lines(acme, *ORDER_120K), rebate_offset="40000")
            assert not checked.problems and checked.max_offset == Y("48000.00")
    finally:
        with as_tenant("acme") as s:
            put_setting(s, "rebate_offset_max_pct", 30)


def test_more_than_the_balance_is_refused_with_what_is_usable(as_tenant, acme):
    """江苏恒康 gains ¥10,000 on top of what the demo settled for it; asking ¥2,000 more
    than it holds as 票折 on an order large enough for the 30 % cap is refused, naming
    what is usable."""
    from app.core.templating import money

    dealer_id = acme["D-JS-001"]
    with as_tenant("acme") as s:
        before = ledger.usable(s, dealer_id, "offset")
        credit(s, dealer_id, "10000.00")
        usable, asked = before + Y("10000.00"), before + Y("12000.00")
        quantity = int(asked / Y("0.3") / Y("1880")) + 2  # CV-NC-3012 at ¥1,880: the cap stays above the ask
        checked = ops.check_lines(s, s.get(Dealer, dealer_id), lines(acme, ("CV-NC-3012", quantity)),
                                  rebate_offset=str(asked))
        assert [m for i, f, m in checked.problems if f == "rebate_offset"] == [
            f"可用于票折的返利余额为 {money(usable)}，{money(asked)} 超出了余额。"]
        assert ledger.usable(s, dealer_id, "offset") == usable


@pytest.mark.parametrize("typed", ["nan", "²", "-5", "1e400", "12.345", "abc", "99999999999999"])
def test_an_offset_that_is_not_an_amount_is_refused_next_to_the_field(as_tenant, acme, typed):
    with as_tenant("acme") as s:
        checked = ops.check_lines(s, s.get(Dealer, acme["D-SH-001"]), lines(acme, ("CV-INF-30", 1)), rebate_offset=typed)
        assert [f for i, f, m in checked.problems if i is None] == ["rebate_offset"]


def test_an_offset_above_the_order_amount_is_refused(as_tenant, acme):
    with as_tenant("acme") as s:
        credit(s, acme["D-SH-001"], "5000.00")
        checked = ops.check_lines(s, s.get(Dealer, acme["D-SH-001"]), lines(acme, ("CV-INF-30", 1)), rebate_offset="400")
        assert any(f == "rebate_offset" and "超过订单金额" in m for i, f, m in checked.problems)


# --- 货补 --------------------------------------------------------------------------------------------

def test_free_goods_are_valued_at_the_resolved_price_and_refused_beyond_the_balance(as_tenant, acme):
    """宁波联康 holds ¥2,000: three pressure pumps as 货补 (3 × ¥380 = ¥1,140 at its price)
    pass; ten more (¥3,800) do not. (Not 浙江瑞华: the demo leaves it overdue, so its
    orders wait for credit approval.)"""
    dealer_id = acme["D-ZJ-003"]
    with as_tenant("acme") as s:
        credit(s, dealer_id, "2000.00")
        price = resolve_price(s, dealer_id, None, acme["CV-INF-30"], TODAY).price
        order = place(s, acme, "D-ZJ-003", lines(acme, ("CV-SH-6F", 5)) + lines(acme, ("CV-INF-30", 3), free=True), user=None)
        free = next(line for line in order.lines if line.free_goods)
        assert (free.unit_price, free.amount, free.free_goods_value) == (0, 0, price * 3) and price == Y("380.00")
        assert order.total_amount == resolve_price(s, dealer_id, None, acme["CV-SH-6F"], TODAY).price * 5
        assert [(r.kind, r.amount, r.explanation["purpose"]) for r in used_rows(s, order.id)] == [
            ("used", Y("-1140.00"), "free_goods")]
        with pytest.raises(ops.OrderRefused) as refused:
            place(s, acme, "D-ZJ-003", lines(acme, ("CV-INF-30", 10), free=True), user=None)
        assert refused.value.problems == [(None, "free_goods", "货补价值 ¥3,800.00，可用于货补的返利余额为 ¥860.00。")]


def test_free_goods_pass_the_same_gates_as_other_lines(as_tenant, acme):
    """A product the dealer is not authorized for is refused on its free-goods line too."""
    with as_tenant("acme") as s:
        credit(s, acme["D-ZJ-001"], "100000.00")
        checked = ops.check_lines(s, s.get(Dealer, acme["D-ZJ-001"]), lines(acme, ("SH-ASD-20", 2), free=True))
        assert checked.lines[0].free_goods and any(f == "sku_id" for f, _m in checked.lines[0].problems)


def test_the_same_product_may_be_bought_and_given_free_on_one_order(as_tenant, acme):
    with as_tenant("acme") as s:
        credit(s, acme["D-ZJ-001"], "1000.00")
        checked = ops.check_lines(s, s.get(Dealer, acme["D-ZJ-001"]),
                                  lines(acme, ("CV-INF-30", 2)) + lines(acme, ("CV-INF-30", 1), free=True)
                                  + lines(acme, ("CV-INF-30", 1), free=True))
        assert not checked.problems and len(checked.lines) == 2
        assert checked.lines[1].quantity == 2 and checked.free_goods_value == Y("760.00")


def test_an_offset_only_policy_pays_the_invoice_offset_but_not_free_goods(as_tenant, acme):
    """A credit under a policy usable only as 票折 adds to what may pay an invoice offset,
    never to what may pay for free goods."""
    dealer_id = acme["D-SD-001"]
    with as_tenant("acme") as s:
        offset_before, goods_before = ledger.usable(s, dealer_id, "offset"), ledger.usable(s, dealer_id, "free_goods")
        credit(s, dealer_id, "3000.00", kind="settled", policy=policy(s, usable_as=("offset",)))
        assert ledger.usable(s, dealer_id, "offset") == offset_before + Y("3000.00")
        assert ledger.usable(s, dealer_id, "free_goods") == goods_before
        price = resolve_price(s, dealer_id, None, acme["CV-INF-30"], TODAY).price
        too_many = int(goods_before / price) + 1  # worth more than what may pay for free goods
        with pytest.raises(ops.OrderRefused) as refused:
            place(s, acme, "D-SD-001", lines(acme, ("CV-INF-30", too_many), free=True), user=None)
        assert refused.value.problems[0][1] == "free_goods"
        order = place(s, acme, "D-SD-001", lines(acme, ("CV-NC-3012", 10)), user=None, rebate_offset="3000")
        assert sum(r.amount for r in used_rows(s, order.id)) == Y("-3000.00")


def test_a_use_draws_first_on_the_credit_that_expires_first(as_tenant, acme):
    dealer_id = acme["D-HB-001"]
    with as_tenant("acme") as s:
        later = credit(s, dealer_id, "8000.00", expires_on=TODAY + timedelta(days=200))
        sooner = credit(s, dealer_id, "5000.00", expires_on=TODAY + timedelta(days=20))
        never = credit(s, dealer_id, "4000.00")
        order = place(s, acme, "D-HB-001", lines(acme, ("CV-NC-3012", 20)), user=None, rebate_offset="9000")
        drawn = {r.explanation["credit_entry_id"]: r.amount for r in used_rows(s, order.id)}
        assert drawn == {sooner.id: Y("-5000.00"), later.id: Y("-4000.00")} and never.id not in drawn
        figures = ledger.balances(s, dealer_id)
        assert figures.usable_offset == Y("8000.00") and figures.expiring[30] == 0 and figures.expiring[90] == 0
        assert figures.next_expiry == (later.expires_on, Y("4000.00"))


# --- the lock ---------------------------------------------------------------------------------------

def test_two_orders_racing_for_the_same_balance_never_both_spend_it(as_tenant, acme):
    """Real parallel transactions: 安徽皖宁 holds ¥20,000 and two orders each want all of it
    as 票折; the per-dealer lock serves them in turn, so one pays and one is refused."""
    dealer_id = acme["D-AH-001"]
    with as_tenant("acme") as s:
        credit(s, dealer_id, "20000.00")
    barrier, placed, refused, errors = threading.Barrier(2), [], [], []

    def order():
        try:
            with as_tenant("acme") as s:
                barrier.wait(timeout=10)
                try:
                    placed.append(place(s, acme, "D-AH-001", lines(acme, ("CV-NC-3012", 40)), user=None,
                                        rebate_offset="20000").id)
                except ops.OrderRefused as err:
                    refused.append(err.problems)
                    s.rollback()
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=order) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(placed) == 1 and len(refused) == 1
    assert refused[0][0][1] == "rebate_offset" and "¥0.00" in refused[0][0][2]
    with as_tenant("acme") as s:
        assert ledger.balance(s, dealer_id) == 0
        assert s.scalar(select(func.sum(Entry.amount)).where(Entry.dealer_id == dealer_id, Entry.kind == "used")) == Y("-20000.00")


def test_the_ledger_lock_serves_two_spenders_in_turn(as_tenant, acme):
    """Below the order path (which also holds the credit lock): two transactions plan
    and write a use of the same ¥6,000 at once; the second plans only after the first
    committed, so it is refused instead of spending it again."""
    import time

    dealer_id = acme["D-GX-001"]
    with as_tenant("acme") as s:
        credit(s, dealer_id, "6000.00")
        orders = [place(s, acme, "D-GX-001", lines(acme, ("CV-INF-30", 1)), user=None).id for _ in range(2)]
    barrier, outcomes, errors = threading.Barrier(2), [], []

    def spend(order_id):
        try:
            with as_tenant("acme") as s:
                barrier.wait(timeout=10)
                try:
                    takes = ledger.plan_order_use(s, dealer_id, Y("6000.00"), Y("0"), Y("100000.00"))
                except ledger.RebateRefused as err:
                    outcomes.append(("refused", err.field))
                    return
                time.sleep(0.3)  # hold the plan a while: without the lock the other would plan the same credit
                ledger.write_order_use(s, s.get(Order, order_id), takes)
                outcomes.append(("spent", order_id))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=spend, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(kind for kind, _x in outcomes) == ["refused", "spent"]
    with as_tenant("acme") as s:
        assert ledger.balance(s, dealer_id) == 0


# --- refused by credit approval -------------------------------------------------------------------

def test_an_order_refused_at_credit_approval_gives_its_rebate_back(as_tenant, acme):
    from app.compliance import approvals
    from app.compliance.models import ApprovalRequest
    from app.demo.data import PASSWORD

    dealer_id = acme["D-FJ-001"]
    with as_tenant("acme") as s:
        dealer = s.get(Dealer, dealer_id)
        old_limit, dealer.credit_limit = dealer.credit_limit, Y("1000.00")
        credit(s, dealer_id, "3000.00")
    try:
        with as_tenant("acme") as s:
            order = place(s, acme, "D-FJ-001", lines(acme, ("CV-NC-3012", 10)), user="channel", rebate_offset="3000")
            assert order.status == "pending_approval"
            assert order.credit_check["order_amount"] == str(order.total_amount - Y("3000.00"))
            assert ledger.balance(s, dealer_id) == 0  # held for the order while it waits
            request = s.get(ApprovalRequest, order.approval_request_id)
            approvals.decide(s, request, s.get(User, acme["finance"]), "reject", PASSWORD, comment="超出信用额度")
            assert s.get(Order, order.id).status == "rejected" and ledger.balance(s, dealer_id) == Y("3000.00")
    finally:
        with as_tenant("acme") as s:
            s.get(Dealer, dealer_id).credit_limit = old_limit


# --- expiry ---------------------------------------------------------------------------------------------

def test_expiry_takes_only_what_is_left_and_running_it_twice_changes_nothing(as_tenant, acme):
    """山东鲁康's ¥5,000 credit ended yesterday after ¥1,200 of it paid an order: ¥3,800
    expires; a credit still valid does not; a second run writes nothing."""
    dealer_id = acme["D-CQ-001"]
    with as_tenant("acme") as s:
        ending = credit(s, dealer_id, "5000.00", expires_on=TODAY - timedelta(days=1), day=TODAY - timedelta(days=30))
        valid = credit(s, dealer_id, "2000.00", expires_on=TODAY + timedelta(days=5))
        order = place(s, acme, "D-CQ-001", lines(acme, ("CV-NC-3012", 10)), user=None, rebate_offset="1200",
                      day=TODAY - timedelta(days=2))
        assert {r.explanation["credit_entry_id"] for r in used_rows(s, order.id)} == {ending.id}
        # past its last day it pays for nothing, even before the expiry run
        assert ledger.usable(s, dealer_id, "offset") == Y("2000.00") and ledger.balance(s, dealer_id) == Y("5800.00")
        assert ledger.balances(s, dealer_id).overdue == Y("3800.00")
        assert ledger.expire_due(s, TODAY) >= 1
        expired = s.scalars(select(Entry).where(Entry.dealer_id == dealer_id, Entry.kind == "expired")).all()
        assert [(e.amount, e.ref_type, e.ref_id) for e in expired] == [(Y("-3800.00"), "rebate_ledger_entries", ending.id)]
        assert ledger.expire_dealer(s, dealer_id, TODAY) == []
        assert ledger.balance(s, dealer_id) == Y("2000.00") and valid.id not in {e.ref_id for e in expired}


def test_the_daily_expiry_runs_once_a_day_in_every_tenant(app, engine, as_tenant, acme):
    from datetime import datetime, time

    from app.core.i18n import SHANGHAI

    dealer_id = acme["D-LN-001"]
    with as_tenant("acme") as s:
        credit(s, dealer_id, "700.00", expires_on=TODAY - timedelta(days=3), day=TODAY - timedelta(days=60))
    with app.app_context():
        lines_ = ledger.expire_rebates(engine, now=datetime.combine(TODAY, time(9), tzinfo=SHANGHAI))
        assert any(line.startswith("acme:") for line in lines_)
        assert ledger.expire_rebates(engine, now=datetime.combine(TODAY, time(10), tzinfo=SHANGHAI)) == []
    with as_tenant("acme") as s:
        assert ledger.balance(s, dealer_id) == 0
        assert ledger.expire_due(s, TODAY) == 0


# --- reads ------------------------------------------------------------------------------------------------

def test_balances_count_estimates_of_open_periods_apart(as_tenant, acme):
    dealer_id = acme["D-SN-001"]
    with as_tenant("acme") as s:
        p = policy(s, expires_after_days=90)
        key_open, key_closed = "2099-Q1", "2099-Q2"
        s.add_all([RebatePeriod(key=key_open, period="quarter", starts_on=TODAY, ends_on=TODAY, status="open"),
                   RebatePeriod(key=key_closed, period="quarter", starts_on=TODAY, ends_on=TODAY, status="closed")])
        for key, amount in ((key_open, "1200.00"), (key_closed, "800.00")):
            s.add(Entry(dealer_id=dealer_id, policy_id=p.id, period_key=key, kind="accrued", amount=Y(amount),
                        occurred_on=TODAY))
        settled = credit(s, dealer_id, "6000.00", kind="settled", policy=p)
        assert settled.expires_on == TODAY + timedelta(days=90)
        figures = ledger.balances(s, dealer_id)
        assert (figures.balance, figures.estimated, figures.usable_offset) == (Y("6000.00"), Y("1200.00"), Y("6000.00"))
        assert figures.expiring == {30: 0, 60: 0, 90: Y("6000.00")}
        assert [(b.policy_id, b.balance, b.estimated) for b in figures.by_policy] == [(p.id, Y("6000.00"), Y("1200.00"))]


def test_the_ledger_refuses_changes_to_its_rows(as_tenant, acme):
    with as_tenant("acme") as s:
        row = credit(s, acme["D-SH-001"], "1.00")
        with pytest.raises(Exception) as refused:
            s.execute(text("UPDATE rebate_ledger_entries SET amount = 2 WHERE id = :i"), {"i": row.id})
        assert "append-only" in str(refused.value)
        s.rollback()


def test_the_demo_shows_every_kind_of_rebate_use(as_tenant, acme):
    """The seeded acme: 华东医疗器械 paid ¥30,000 of an order with 票折 and took 货补 on
    another, has a claim approved for less than claimed and one in review, and a price
    protection of the stent CV-DES-3028 waits for the channel manager."""
    from app.compliance.models import ApprovalRequest
    from app.orders.models import OrderLine
    from app.rebates.models import PriceProtection, RebateClaim

    with as_tenant("acme") as s:
        dealer_id = acme["D-SH-001"]
        offset = s.scalar(select(Order).where(Order.idempotency_key == "demo-acme-rebate-1"))
        assert offset.rebate_offset == Y("30000.00") and offset.total_amount * Y("0.3") >= offset.rebate_offset
        free = s.scalar(select(OrderLine).join(Order).where(Order.idempotency_key == "demo-acme-rebate-2",
                                                             OrderLine.free_goods.is_(True)))
        assert free.free_goods_value == Y("700.00") and free.unit_price == 0
        demo = s.scalars(select(RebateClaim).where(RebateClaim.dealer_id == dealer_id).order_by(RebateClaim.id).limit(2))
        claims = {c.status: c for c in demo}
        assert claims["approved"].approved_amount == Y("25000.00") < claims["approved"].amount
        assert "in_review" in claims
        protection = s.scalar(select(PriceProtection).where(PriceProtection.number.like("PP-%")).order_by(PriceProtection.id))
        assert protection.sku_id == acme["CV-DES-3028"] and protection.status == "in_review"
        assert {line.dealer_id for line in protection.lines} >= {dealer_id, acme["D-GD-001"]}
        request = s.get(ApprovalRequest, protection.approval_request_id)
        assert request.route[request.current_index]["role"] == "channel_manager"
        assert s.scalar(select(func.count()).select_from(Entry).where(Entry.dealer_id == dealer_id,
                                                                     Entry.kind == "expired")) >= 1
