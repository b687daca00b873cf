"""The gates a dealer's order passes: authorization, qualifications, registration, price
band, quantity, credit (→ approval) — every problem reported at once and tied to its
line — and idempotent submission."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.catalog.models import Registration, Sku
from app.channel.models import Dealer, Hospital, Qualification
from app.compliance import approvals
from app.compliance.models import ApprovalRequest
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.orders import operations as ops
from app.orders.models import Order, OrderEvent
from app.pricing.models import PriceBand

PASSWORD = "MedChannel-demo-1"


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return {**{c: i for c, i in s.execute(select(Dealer.code, Dealer.id))},
                **{c: i for c, i in s.execute(select(Hospital.code, Hospital.id))},
                **{c: i for c, i in s.execute(select(Sku.code, Sku.id))},
                **{e: i for e, i in s.execute(select(User.email, User.id))}}


def _place(s, acme, lines, dealer="D-SH-001", user="dealer1@acme.test", **kw):
    return ops.place_order(s, s.get(Dealer, acme[dealer]), s.get(User, acme[user]), lines, **kw)


def _orders(as_tenant):
    with as_tenant("acme") as s:
        return s.scalar(select(func.count()).select_from(Order))


def _refusal(as_tenant, acme, lines, **kw) -> ops.OrderRefused:
    before = _orders(as_tenant)
    with pytest.raises(ops.OrderRefused) as err:
        with as_tenant("acme") as s:
            _place(s, acme, lines, **kw)
    assert _orders(as_tenant) == before  # a refused order writes nothing
    return err.value


def test_order_for_a_hospital_outside_the_authorization_is_refused_with_the_reason(as_tenant, acme):
    err = _refusal(as_tenant, acme, [{"sku_id": acme["CV-DES-2518"], "quantity": 2}], hospital_id=acme["H-BJ-002"])
    assert [(i, f) for i, f, _m in err.problems] == [(0, "sku_id")]
    assert "CV-DES-2518" in err.problems[0][2] and "授权" in err.problems[0][2]


def test_product_line_the_dealer_is_not_authorized_for_is_refused(as_tenant, acme):
    err = _refusal(as_tenant, acme, [{"sku_id": acme["IVD-DD-100"], "quantity": 1}])
    assert err.for_line(0) and "IVD-DD-100" in err.for_line(0)[0]


def test_expired_registration_blocks_the_line(as_tenant, acme):
    err = _refusal(as_tenant, acme, [{"sku_id": acme["CV-GW-0141"], "quantity": 1}])
    assert any("注册证" in m for m in err.for_line(0))


def test_unregistered_product_blocks_the_line(as_tenant, acme):
    with as_tenant("acme") as s:
        sku = s.get(Sku, acme["CV-SH-6F"])
        registration_id, sku.registration_id = sku.registration_id, None
    try:
        err = _refusal(as_tenant, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 1}])
        assert any("注册证" in m for m in err.for_line(0))
    finally:
        with as_tenant("acme") as s:
            s.get(Sku, acme["CV-SH-6F"]).registration_id = registration_id


def test_expired_operating_permit_blocks_class_three_devices(as_tenant, acme):
    with as_tenant("acme") as s:
        permits = list(s.scalars(select(Qualification).where(Qualification.dealer_id == acme["D-SH-001"],
                                                            Qualification.kind == "operating_permit")))
        saved = {q.id: q.valid_until for q in permits}
        for q in permits:
            q.valid_until = shanghai_today() - timedelta(days=1)
    try:
        err = _refusal(as_tenant, acme, [{"sku_id": acme["CV-DES-2518"], "quantity": 1}])
        assert any("经营许可证" in m for m in err.for_line(0)), err.problems
    finally:
        with as_tenant("acme") as s:
            for qid, until in saved.items():
                s.get(Qualification, qid).valid_until = until


def test_price_below_the_band_floor_asks_for_a_special_price(as_tenant, acme):
    with as_tenant("acme") as s:
        band = s.scalar(select(PriceBand).where(PriceBand.sku_id == acme["CV-NC-3012"]).order_by(PriceBand.id))
        band_id, floor = band.id, band.floor
        band.floor = Decimal("5000.00")
        band.ceiling = max(band.ceiling, Decimal("6000.00"))
    try:
        err = _refusal(as_tenant, acme, [{"sku_id": acme["CV-NC-3012"], "quantity": 1}])
        assert [(i, f) for i, f, _m in err.problems] == [(0, "unit_price")]
        assert "特价" in err.problems[0][2] or "special price" in err.problems[0][2]
    finally:
        with as_tenant("acme") as s:
            s.get(PriceBand, band_id).floor = floor


def test_every_problem_is_reported_at_once_next_to_its_line(as_tenant, acme):
    err = _refusal(as_tenant, acme, [
        {"sku_id": acme["CV-DES-2518"], "quantity": 1},      # fine
        {"sku_id": acme["IVD-DD-100"], "quantity": 0},       # not authorized, and a bad quantity
        {"sku_id": acme["CV-GW-0141"], "quantity": "2.5"},   # registration expired, bad quantity
        {"sku_id": None, "quantity": 3},                     # no product
    ], requested_delivery_on=shanghai_today() - timedelta(days=3))
    fields = {(i, f) for i, f, _m in err.problems}
    assert {(1, "sku_id"), (1, "quantity"), (2, "sku_id"), (2, "quantity"), (3, "sku_id"),
            (None, "requested_delivery_on")} <= fields
    assert not err.for_line(0)


def test_the_same_product_twice_becomes_one_line(as_tenant, acme):
    with as_tenant("acme") as s:
        order = _place(s, acme, [{"sku_id": acme["CV-INF-30"], "quantity": 2}, {"sku_id": acme["CV-INF-30"], "quantity": 3}])
        assert [(line.sku_id, line.quantity) for line in order.lines] == [(acme["CV-INF-30"], 5)]
        assert order.total_amount == order.lines[0].unit_price * 5


def test_order_within_credit_is_approved_and_allocated_at_once(as_tenant, acme):
    with as_tenant("acme") as s:
        order = _place(s, acme, [{"sku_id": acme["CV-DES-2523"], "quantity": 4}], hospital_id=acme["H-SH-001"])
        assert order.status == "allocated" and order.number.startswith("SO-")
        line = order.lines[0]
        assert line.allocated_quantity == 4 and line.price_source_type == "tender_prices" and line.price_note
        kinds = list(s.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)))
        assert kinds == ["submitted", "approved", "allocated"]
        assert order.credit_check["limit"] == "5000000.00"


def _set_credit(as_tenant, acme, limit=None):
    """Set the dealer's credit limit (default: just what its open orders use, so that
    the next order is over the limit by its own amount)."""
    with as_tenant("acme") as s:
        dealer = s.get(Dealer, acme["D-SH-001"])
        if limit is None:
            limit = ops.credit_position(s, dealer.id).open_amount
        old, dealer.credit_limit = dealer.credit_limit, limit
        return old


def test_order_over_credit_waits_for_approval_then_approval_allocates_it(as_tenant, acme):
    old = _set_credit(as_tenant, acme)
    try:
        with as_tenant("acme") as s:
            order = _place(s, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 3}])
            order_id = order.id
            assert order.status == "pending_approval" and order.approval_request_id
            assert not order.lines[0].allocated_quantity
            request = s.get(ApprovalRequest, order.approval_request_id)
            assert request.kind == "order_over_credit" and request.status == "in_review"
            assert Decimal(request.facts["over_limit"]) == order.total_amount > 0
    finally:
        _set_credit(as_tenant, acme, old)
    with as_tenant("acme") as s:
        request = s.get(ApprovalRequest, s.get(Order, order_id).approval_request_id)
        approvals.decide(s, request, s.get(User, acme["finance@acme.test"]), "approve", PASSWORD)
    with as_tenant("acme") as s:
        order = s.get(Order, order_id)
        assert order.status == "allocated" and order.lines[0].allocated_quantity == 3
        kinds = list(s.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)))
        assert kinds == ["submitted", "approval_requested", "approved", "allocated"]


def test_rejected_credit_approval_rejects_the_order(as_tenant, acme):
    old = _set_credit(as_tenant, acme)
    try:
        with as_tenant("acme") as s:
            order_id = _place(s, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 1}]).id
    finally:
        _set_credit(as_tenant, acme, old)
    with as_tenant("acme") as s:
        request = s.get(ApprovalRequest, s.get(Order, order_id).approval_request_id)
        approvals.decide(s, request, s.get(User, acme["finance@acme.test"]), "reject", PASSWORD, comment="回款逾期")
    with as_tenant("acme") as s:
        order = s.get(Order, order_id)
        assert order.status == "rejected" and order.lines[0].allocated_quantity == 0
        event = s.scalar(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id.desc()).limit(1))
        assert event.kind == "rejected" and event.details["comment"] == "回款逾期"


def test_open_orders_count_against_the_credit_limit(as_tenant, acme):
    with as_tenant("acme") as s:
        position = ops.credit_position(s, acme["D-SH-001"])
        old = s.get(Dealer, acme["D-SH-001"]).credit_limit
        s.get(Dealer, acme["D-SH-001"]).credit_limit = position.open_amount + Decimal("300")
    try:
        with as_tenant("acme") as s:
            first = _place(s, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 1}])  # 238: fits
            second = _place(s, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 1}])  # 476 > 300
            assert first.status == "allocated" and second.status == "pending_approval"
    finally:
        with as_tenant("acme") as s:
            s.get(Dealer, acme["D-SH-001"]).credit_limit = old


def test_the_same_idempotency_key_twice_gives_one_order(as_tenant, acme):
    lines = [{"sku_id": acme["CV-SH-6F"], "quantity": 2}]
    with as_tenant("acme") as s:
        first = _place(s, acme, lines, idempotency_key="k-double-click").id
    before = _orders(as_tenant)
    with as_tenant("acme") as s:
        assert _place(s, acme, lines, idempotency_key="k-double-click").id == first
    assert _orders(as_tenant) == before


def test_a_racing_submission_with_the_same_key_finds_the_first_order(as_tenant, acme, monkeypatch):
    """The second request checked the key before the first committed: the unique index
    refuses its insert, and it answers with the first order."""
    lines = [{"sku_id": acme["CV-SH-6F"], "quantity": 1}]
    with as_tenant("acme") as s:
        first = _place(s, acme, lines, idempotency_key="k-race").id
    real, calls = ops._order_by_key, []

    def late(session, key):
        calls.append(key)
        return None if len(calls) == 1 else real(session, key)

    monkeypatch.setattr(ops, "_order_by_key", late)
    before = _orders(as_tenant)
    with as_tenant("acme") as s:
        assert _place(s, acme, lines, idempotency_key="k-race").id == first
    assert _orders(as_tenant) == before and len(calls) == 2


def test_another_dealers_key_is_not_its_order(as_tenant, acme):
    with as_tenant("acme") as s:
        _place(s, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 1}], idempotency_key="k-theirs")
    with pytest.raises(ops.OrderRefused):
        with as_tenant("acme") as s:
            _place(s, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 1}], idempotency_key="k-theirs",
                   dealer="D-GD-001", user="dealer2@acme.test")


def test_registration_fixture_is_intact(as_tenant, acme):
    with as_tenant("acme") as s:
        assert s.get(Sku, acme["CV-SH-6F"]).registration_id is not None
        assert s.scalar(select(func.count()).select_from(Registration)) > 0
    assert date.today()


def test_cancelling_an_order_waiting_for_credit_approval_withdraws_the_request(as_tenant, acme):
    old = _set_credit(as_tenant, acme)
    try:
        with as_tenant("acme") as s:
            order = _place(s, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 1}])
            ops.cancel_order(s, order, s.get(User, acme["dealer1@acme.test"]), "不再需要")
            assert order.status == "cancelled"
            assert s.get(ApprovalRequest, order.approval_request_id).status == "withdrawn"
            assert approvals.holder_for(s, s.get(User, acme["finance@acme.test"]),
                                        s.get(ApprovalRequest, order.approval_request_id)) is None
    finally:
        _set_credit(as_tenant, acme, old)


def test_an_inactive_dealer_cannot_order_and_is_told_once(as_tenant, acme):
    with as_tenant("acme") as s:
        s.get(Dealer, acme["D-SH-001"]).status = "inactive"
    try:
        err = _refusal(as_tenant, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 1},
                                         {"sku_id": acme["CV-INF-30"], "quantity": 1}])
        assert len(err.general) == 1 and "华东医疗器械有限公司" in err.general[0]
    finally:
        with as_tenant("acme") as s:
            s.get(Dealer, acme["D-SH-001"]).status = "active"


def test_the_credit_request_page_links_to_the_order(signed_in, as_tenant, acme):
    old = _set_credit(as_tenant, acme)
    try:
        with as_tenant("acme") as s:
            order = _place(s, acme, [{"sku_id": acme["CV-SH-6F"], "quantity": 1}])
            order_id, request_id = order.id, order.approval_request_id
    finally:
        _set_credit(as_tenant, acme, old)
    page = signed_in("acme", "finance").get(f"/manufacturer/approvals/{request_id}").get_data(as_text=True)
    assert f'href="/manufacturer/orders/{order_id}"' in page
    page = signed_in("acme", "dealer1").get(f"/dealer/requests/{request_id}").get_data(as_text=True)
    assert f'href="/dealer/orders/{order_id}"' in page
