"""特价申请: a dealer asks for prices below the band for one hospital with the tender
documents; the chain routes on the discount depth and the amount; an approved special
price is honoured by order pricing only for that dealer, hospital, SKU, window and cap,
and what orders used of each cap is visible to both sides. Against the demo tenant
acme: 华东医疗器械有限公司 (D-SH-001, dealer1) is an agent for the CV line in Shanghai."""
import io
import re
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.compliance import approvals
from app.compliance.models import ApprovalRequest, Document
from app.core.i18n import shanghai_today
from app.identity.models import User
from app.orders import operations as order_ops
from app.orders.models import Order
from app.pricing import rules
from app.pricing import special_prices as sp
from app.pricing.models import PriceRequest
from app.pricing.queries import resolve_price

PASSWORD = "MedChannel-demo-1"
TODAY = shanghai_today()
PDF = b"%PDF-1.4\n% tender announcement\n1 0 obj << >> endobj\n%%EOF\n"
#: Shanghai hospitals no other test orders for (each test here takes its own)
ZHONGSHAN, RUIJIN = "H-SH-001", "H-SH-002"


@pytest.fixture()
def acme(as_tenant):
    with as_tenant("acme") as s:
        return {**{c: i for c, i in s.execute(select(Dealer.code, Dealer.id))},
                **{c: i for c, i in s.execute(select(Hospital.code, Hospital.id))},
                **{c: i for c, i in s.execute(select(Sku.code, Sku.id))},
                **{e.split("@")[0]: i for e, i in s.execute(select(User.email, User.id))}}


@pytest.fixture(autouse=True)
def _expire_what_we_approve(as_tenant):
    """Special prices approved here end with the test, so that no other test's order
    for the same dealer, hospital and SKU is priced by them."""
    with as_tenant("acme") as s:
        before = s.scalar(select(func.coalesce(func.max(PriceRequest.id), 0)))
    yield
    with as_tenant("acme") as s:
        s.execute(text("UPDATE price_requests SET valid_from = current_date - 2, valid_until = current_date - 2 "
                       "WHERE id > :id AND status = 'approved'"), {"id": before})


def user(s, local) -> User:
    return s.scalar(select(User).where(User.email == f"{local}@acme.test"))


def ask(s, acme, hospital, lines, local="dealer1", days=90, evidence=(("招标公告.pdf", PDF),), **values) -> PriceRequest:
    """Submit a request of ``lines`` [(SKU code, cap, price)] for ``hospital``."""
    u = user(s, local)
    given_values = {"hospital_id": acme[hospital], "valid_from": TODAY, "valid_until": TODAY + timedelta(days=days),
                    "tender_ref": "ZB-2026-TEST", "reason": "院内议价，竞品报价更低。",
                    "lines": [{"sku_id": acme[code], "quantity_cap": cap, "requested_price": Decimal(price)}
                              for code, cap, price in lines]}
    if "form_lines" in values:  # lines as a form sends them (text)
        given_values["lines"] = values.pop("form_lines")
    given_values.update(values)
    return sp.submit_price_request(s, u.dealer, u, given_values, list(evidence))


SIGNERS = {"regional_manager": "sales.east", "channel_manager": "channel", "finance": "finance"}


def approve(s, request: PriceRequest) -> ApprovalRequest:
    """Every step of the chain signs (the East regional manager, then whoever follows)."""
    approval = s.get(ApprovalRequest, request.approval_request_id)
    while approval.status == "in_review":
        role = approval.route[approval.current_index]["role"]
        approvals.decide(s, approval, user(s, SIGNERS[role]), "approve", PASSWORD, comment="同意")
    return approval


def order(s, acme, sku, quantity, hospital=ZHONGSHAN, dealer="D-SH-001", local="dealer1", **kw) -> Order:
    return order_ops.place_order(s, s.get(Dealer, acme[dealer]), user(s, local), [{"sku_id": acme[sku], "quantity": quantity}],
                                 hospital_id=acme[hospital] if hospital else None, **kw)


# --- the pure rules --------------------------------------------------------------------------

def test_discount_is_the_depth_below_the_band_floor_or_below_todays_price_without_a_band():
    # non-compliant balloon: floor 1662.50 (95 % of the agent price 1750.00)
    assert rules.discount_pct(Decimal("1300.00"), Decimal("1662.50"), Decimal("1750.00")) == Decimal("21.80")
    # inside the band is no discount at all, however far below the list price
    assert rules.discount_pct(Decimal("1700.00"), Decimal("1662.50"), Decimal("1750.00")) == Decimal("0.00")
    # no band: measured against what the dealer pays today
    assert rules.discount_pct(Decimal("375.00"), None, Decimal("598.00")) == Decimal("37.29")
    assert rules.discount_pct(Decimal("375.00"), None, None) == Decimal("0.00")
    # 0.005 % rounds half up
    assert rules.discount_pct(Decimal("199.99"), Decimal("200.00"), None) == Decimal("0.01")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2))
def test_a_lower_price_is_never_a_smaller_discount(price, floor):
    pct = rules.discount_pct(price, floor, None)
    assert Decimal(0) <= pct <= Decimal(100)
    lower = max(price - Decimal("0.01"), Decimal("0.01"))
    assert rules.discount_pct(lower, floor, None) >= pct


def _offer(line_id, price, cap, used, until=TODAY):
    return rules.SpecialPrice(line_id, 1, f"SP-{line_id}", Decimal(price), cap, used, until)


def test_the_lowest_special_price_with_enough_cap_left_applies():
    cheap_used_up, cheap, dear = _offer(1, "400", 10, 10), _offer(2, "420", 10, 7), _offer(3, "450", 50, 0)
    assert rules.choose_special_price([cheap_used_up, cheap, dear], 3).use == cheap
    assert rules.choose_special_price([cheap_used_up, cheap, dear], 4).use == dear  # 3 left is not enough
    short = rules.choose_special_price([cheap_used_up, cheap], 5)
    assert short.use is None and short.short == cheap and short.short.left == 3
    assert rules.choose_special_price([cheap_used_up], 1) == rules.SpecialChoice()  # used up: regular price


@given(st.lists(st.tuples(st.integers(1, 500), st.integers(1, 50), st.integers(0, 60)), max_size=6), st.integers(0, 60))
def test_a_chosen_special_price_always_has_the_units_and_none_cheaper_has(offers, quantity):
    items = [_offer(i, str(p), cap, used) for i, (p, cap, used) in enumerate(offers)]
    choice = rules.choose_special_price(items, quantity)
    if choice.use is not None:
        assert choice.use.left >= max(quantity, 1)
        assert not any(o.left >= max(quantity, 1) and o.price < choice.use.price for o in items)
    else:
        assert not any(o.left >= max(quantity, 1) for o in items)
        assert (choice.short is not None) == any(o.left > 0 for o in items)


# --- asking, and the chain ---------------------------------------------------------------------

def test_a_request_records_todays_price_the_floor_and_routes_a_deep_discount_to_the_channel_manager(as_tenant, acme):
    with as_tenant("acme") as s:
        deep = ask(s, acme, "H-SH-004", [("CV-NC-3012", 100, "1300.00"), ("CV-INF-30", 40, "340.00")])
        assert deep.number.startswith("SP-") and deep.status == "in_review"
        nc = next(line for line in deep.lines if line.sku_id == acme["CV-NC-3012"])
        assert (nc.reference_price, nc.band_floor) == (Decimal("1750.00"), Decimal("1662.50"))
        assert deep.max_discount_pct == Decimal("21.80")
        assert deep.total_amount == Decimal("130000.00") + Decimal("13600.00")
        approval = s.get(ApprovalRequest, deep.approval_request_id)
        assert (approval.kind, approval.entity_type, approval.entity_id) == ("price_request", "price_requests", str(deep.id))
        assert approval.facts == {"discount_pct": "21.80", "amount": "143600.00"}
        assert [step["role"] for step in approval.route] == ["regional_manager", "channel_manager"]
        assert approval.region_id == s.get(Dealer, acme["D-SH-001"]).region_id
        shallow = ask(s, acme, "H-SH-004", [("CV-SH-6F", 50, "220.00")])
        assert shallow.max_discount_pct == Decimal("2.70")  # floor 226.10
        assert [step["role"] for step in s.get(ApprovalRequest, shallow.approval_request_id).route] == ["regional_manager"]
        evidence = s.get(Document, deep.evidence_ids[0])
        assert (evidence.entity_type, evidence.entity_id, evidence.dealer_id, evidence.hospital_id) == (
            "price_requests", str(deep.id), acme["D-SH-001"], None)
        assert evidence.filename.endswith(".pdf") and evidence.content_type == "application/pdf"


def test_a_large_amount_also_goes_to_finance(as_tenant, acme):
    with as_tenant("acme") as s:
        big = ask(s, acme, "H-SH-005", [("CV-DCB-3020", 100, "8600.00")])  # 860,000 CNY, 1.60 % below the floor
        assert [step["role"] for step in s.get(ApprovalRequest, big.approval_request_id).route] == [
            "regional_manager", "finance"]


def _refused(as_tenant, acme, *args, **kw) -> sp.PriceRequestRefused:
    with as_tenant("acme") as s:
        before = (s.scalar(select(func.count()).select_from(PriceRequest)),
                  s.scalar(select(func.count()).select_from(Document)))
    with pytest.raises(sp.PriceRequestRefused) as caught:
        with as_tenant("acme") as s:
            ask(s, acme, *args, **kw)
    with as_tenant("acme") as s:
        assert (s.scalar(select(func.count()).select_from(PriceRequest)),
                s.scalar(select(func.count()).select_from(Document))) == before  # nothing half-written
    return caught.value


def test_a_renamed_binary_is_refused_as_evidence_naming_the_file(as_tenant, acme):
    err = _refused(as_tenant, acme, "H-SH-006", [("CV-NC-3012", 10, "1500.00")],
                   evidence=[("招标文件.pdf", b"MZ\x90\x00\x03\x00\x00\x00 not a pdf"), ("中标通知.pdf", PDF)])
    assert err.fields["evidence"].startswith("招标文件.pdf:") and "PDF" in err.fields["evidence"]
    assert "evidence" in _refused(as_tenant, acme, "H-SH-006", [("CV-NC-3012", 10, "1500.00")], evidence=[]).fields


def test_every_problem_is_reported_at_once_next_to_its_line(as_tenant, acme):
    err = _refused(as_tenant, acme, "H-SH-006", [
        ("CV-NC-3012", 10, "1500.00"),      # fine
        ("CV-NC-3012", 5, "1400.00"),       # the same product twice
        ("IVD-DD-100", 5, "500.00"),        # not authorized for the IVD line
        ("CV-INF-30", 0, "400.00"),         # cap of zero, and not below today's 350.00
    ], valid_until=TODAY - timedelta(days=1), reason="")
    lines = {(i, f) for i, f, _m in err.problems if i is not None}
    assert lines == {(1, "sku_id"), (2, "sku_id"), (3, "quantity_cap"), (3, "requested_price")}
    assert {"valid_until", "reason"} <= set(err.fields)
    assert not err.for_line(0)
    assert "350.00" in dict(err.for_line(3))["requested_price"]


def test_a_hospital_outside_the_authorization_is_refused(as_tenant, acme):
    err = _refused(as_tenant, acme, "H-BJ-001", [("CV-NC-3012", 10, "1500.00")])
    assert "hospital_id" in err.fields and "北京协和医院" in err.fields["hospital_id"]


def test_numbers_and_dates_from_the_form_never_crash(as_tenant, acme):
    err = _refused(as_tenant, acme, "H-SH-006", [], valid_from="9999-12-31", valid_until="nan",
                   form_lines=[{"sku_id": "²", "quantity_cap": "1e9", "requested_price": "nan"},
                          {"sku_id": str(acme["CV-NC-3012"]), "quantity_cap": "99999999999999999999999",
                           "requested_price": "1e400"}])
    fields = {(i, f) for i, f, _m in err.problems}
    assert {(0, "sku_id"), (0, "quantity_cap"), (0, "requested_price"), (1, "quantity_cap"),
            (1, "requested_price"), (None, "valid_until")} <= fields


def test_a_second_open_request_for_the_same_product_and_hospital_is_refused(as_tenant, acme):
    with as_tenant("acme") as s:
        first = ask(s, acme, "H-SH-007", [("CV-SH-6F", 10, "220.00")]).number
    err = _refused(as_tenant, acme, "H-SH-007", [("CV-SH-6F", 20, "215.00")])
    assert first in dict(err.for_line(0))["sku_id"]


# --- order pricing honours it, for that dealer, hospital, window and cap ----------------------------

def test_dealer_gets_the_special_price_for_zhongshan_only(as_tenant, acme):
    with as_tenant("acme") as s:
        regular = resolve_price(s, acme["D-SH-001"], acme[ZHONGSHAN], acme["CV-NC-3012"], TODAY).price
        request = ask(s, acme, ZHONGSHAN, [("CV-NC-3012", 30, "1500.00")])
        approve(s, request)
        assert request.status == "approved"
        line_id, number = request.lines[0].id, request.number
    with as_tenant("acme") as s:
        at_zhongshan = order(s, acme, "CV-NC-3012", 4)
        line = at_zhongshan.lines[0]
        assert line.unit_price == Decimal("1500.00") and line.amount == Decimal("6000.00")
        assert (line.price_source_type, line.price_source_id) == ("price_request_lines", line_id)
        assert number in line.price_note and "26" in line.price_note  # 26 of 30 left after this line
        # another hospital of the same dealer, and no hospital at all: the regular price
        elsewhere = order(s, acme, "CV-NC-3012", 1, hospital="H-SH-003")
        own_stock = order(s, acme, "CV-NC-3012", 1, hospital=None)
        assert elsewhere.lines[0].unit_price == regular == own_stock.lines[0].unit_price == Decimal("1750.00")
        assert elsewhere.lines[0].price_source_type == "price_lists"
        # another product at 中山医院: its own price
        other = order(s, acme, "CV-INF-30", 1)
        assert other.lines[0].price_source_type != "price_request_lines"
        assert sp.consumption(s, [line_id]) == {line_id: 4}


def test_another_dealer_never_gets_it_even_for_the_same_hospital(as_tenant, acme):
    with as_tenant("acme") as s:
        request = ask(s, acme, "H-SH-008", [("CV-SH-6F", 30, "200.00")])
        approve(s, request)
        offers = sp.offers_for(s, acme["D-SH-002"], acme["H-SH-008"], acme["CV-SH-6F"], TODAY)
        assert offers == [] and sp.offers_for(s, acme["D-SH-001"], acme["H-SH-008"], acme["CV-SH-6F"], TODAY)
        assert sp.offers_for(s, acme["D-SH-001"], None, acme["CV-SH-6F"], TODAY) == []


def test_an_approved_price_past_its_window_stops_applying_and_shows_as_expired(as_tenant, acme, signed_in):
    with as_tenant("acme") as s:
        request = ask(s, acme, "H-SH-009", [("CV-SH-6F", 30, "200.00")], days=10)
        approve(s, request)
        rid, line_id = request.id, request.lines[0].id
        assert order(s, acme, "CV-SH-6F", 2, hospital="H-SH-009").lines[0].price_source_id == line_id
        assert not sp.offers_for(s, acme["D-SH-001"], acme["H-SH-009"], acme["CV-SH-6F"], TODAY + timedelta(days=11))
        number = request.number
    with as_tenant("acme") as s:
        s.execute(text("UPDATE price_requests SET valid_from = current_date - 30, valid_until = current_date - 1 "
                       "WHERE id = :i"), {"i": rid})
    with as_tenant("acme") as s:
        late = order(s, acme, "CV-SH-6F", 2, hospital="H-SH-009")
        assert late.lines[0].price_source_type == "price_lists" and late.lines[0].unit_price == Decimal("238.00")
    page = signed_in("acme", "dealer1").get("/dealer/price-requests?status=expired").get_data(as_text=True)
    assert number in page and "已过期" in page
    assert number not in signed_in("acme", "dealer1").get("/dealer/price-requests?status=approved").get_data(as_text=True)


def test_the_cap_is_what_orders_used_and_a_cancelled_order_gives_it_back(as_tenant, acme):
    with as_tenant("acme") as s:
        request = ask(s, acme, "H-SH-010", [("CV-INF-30", 10, "320.00")])
        approve(s, request)
        line_id, number = request.lines[0].id, request.number
    with as_tenant("acme") as s:
        first = order(s, acme, "CV-INF-30", 6, hospital="H-SH-010")
        first_id = first.id
        assert first.lines[0].unit_price == Decimal("320.00")
    with pytest.raises(order_ops.OrderRefused) as refused:
        with as_tenant("acme") as s:
            order(s, acme, "CV-INF-30", 5, hospital="H-SH-010")
    (index, field, message), = refused.value.problems
    assert (index, field) == (0, "quantity") and number in message and "4" in message  # 4 left of 10
    with as_tenant("acme") as s:
        assert order(s, acme, "CV-INF-30", 4, hospital="H-SH-010").lines[0].unit_price == Decimal("320.00")
        assert sp.consumption(s, [line_id]) == {line_id: 10}
        used_up = order(s, acme, "CV-INF-30", 3, hospital="H-SH-010")  # the cap is used: the regular price again
        assert used_up.lines[0].price_source_type == "price_lists" and used_up.lines[0].unit_price == Decimal("350.00")
    with as_tenant("acme") as s:
        order_ops.cancel_order(s, s.get(Order, first_id), user(s, "dealer1"), "医院推迟手术排期")
    with as_tenant("acme") as s:
        assert sp.consumption(s, [line_id]) == {line_id: 4}
        again = order(s, acme, "CV-INF-30", 6, hospital="H-SH-010")
        assert again.lines[0].price_source_id == line_id and again.lines[0].unit_price == Decimal("320.00")


def test_the_same_product_twice_on_one_order_is_counted_against_the_cap_once_merged(as_tenant, acme):
    with as_tenant("acme") as s:
        request = ask(s, acme, "H-SH-011", [("CV-INF-30", 5, "320.00")])
        approve(s, request)
        dealer = s.get(Dealer, acme["D-SH-001"])
        checked = order_ops.check_lines(s, dealer, [{"sku_id": acme["CV-INF-30"], "quantity": 3},
                                                    {"sku_id": acme["CV-INF-30"], "quantity": 3}],
                                        hospital_id=acme["H-SH-011"])
        assert [(i, f) for i, f, _m in checked.problems] == [(0, "quantity")]
        assert request.number in checked.problems[0][2]


def _place_in_parallel(app, acme, sku, quantity, hospital, hold_seconds=0.3):
    """Two dealers' clerks place the same order at the same moment, each in its own
    thread, session and transaction."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    barrier, results, errors = threading.Barrier(2), {}, []

    def place(name):
        try:
            with app.app_context():
                tenant = by_slug(db.session, "acme")
                db.session.rollback()
                with tenant_session(db.session, tenant) as session:
                    set_context(session, Actor.system(f"race {name}"))
                    session.execute(select(1))
                    barrier.wait(timeout=10)
                    try:
                        placed = order(session, acme, sku, quantity, hospital=hospital,
                                       idempotency_key=f"race-{name}-{uuid.uuid4().hex}")
                        results[name] = placed.lines[0].unit_price
                        threading.Event().wait(hold_seconds)
                    except order_ops.OrderRefused as err:
                        session.rollback()
                        results[name] = err
                db.session.remove()
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=place, args=(n,)) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_two_orders_racing_for_the_last_units_of_a_cap_never_both_get_them(app, as_tenant, acme):
    with as_tenant("acme") as s:
        request = ask(s, acme, "H-SH-012", [("CV-GC-6JL4", 10, "550.00")])
        approve(s, request)
        line_id = request.lines[0].id
    results = _place_in_parallel(app, acme, "CV-GC-6JL4", 6, "H-SH-012")
    won = [r for r in results.values() if not isinstance(r, Exception)]
    lost = [r for r in results.values() if isinstance(r, order_ops.OrderRefused)]
    assert won == [Decimal("550.00")] and len(lost) == 1
    assert "4" in lost[0].problems[0][2] and lost[0].problems[0][1] == "quantity"
    with as_tenant("acme") as s:
        assert sp.consumption(s, [line_id]) == {line_id: 6}


# --- returned, resubmitted, withdrawn, rejected ----------------------------------------------------

def test_returned_for_changes_then_resubmitted_as_a_shallower_version(as_tenant, acme):
    with as_tenant("acme") as s:
        request = ask(s, acme, "H-SH-013", [("CV-NC-3012", 50, "1300.00")])
        approval = s.get(ApprovalRequest, request.approval_request_id)
        approvals.decide(s, approval, user(s, "sales.east"), "return", PASSWORD, comment="折让过深，请调整到价格带下限附近")
        assert (approval.status, request.status) == ("returned", "returned")
        rid = request.id
    with as_tenant("acme") as s:
        request = s.get(PriceRequest, rid)
        with pytest.raises(sp.PriceRequestRefused):  # not the requester's colleague without the owner role
            sp.resubmit_price_request(s, request, user(s, "dealer1.sales"), {})
    with as_tenant("acme") as s:
        request = s.get(PriceRequest, rid)
        sp.resubmit_price_request(s, request, user(s, "dealer1"), {
            "valid_from": TODAY, "valid_until": TODAY + timedelta(days=60), "tender_ref": "ZB-2026-TEST",
            "reason": "已按区域经理意见调整", "lines": [{"sku_id": acme["CV-NC-3012"], "quantity_cap": "40",
                                                  "requested_price": "1600.00"}]}, [("补充说明.png", b"\x89PNG\r\n\x1a\n...")])
        approval = s.get(ApprovalRequest, request.approval_request_id)
        assert (request.status, approval.status, approval.version) == ("in_review", "in_review", 2)
        assert approval.facts == {"discount_pct": "3.76", "amount": "64000.00"}
        assert [step["role"] for step in approval.route] == ["regional_manager"]  # no longer deep
        assert [(line.quantity_cap, line.requested_price) for line in request.lines] == [(40, Decimal("1600.00"))]
        assert len(request.evidence_ids) == 2
        approve(s, request)
        assert request.status == "approved"


def test_withdrawn_by_the_dealer_or_from_the_approval_page_and_rejected_ones_never_apply(as_tenant, acme, signed_in):
    with as_tenant("acme") as s:
        mine = ask(s, acme, "H-SH-004", [("CV-GC-6JL4", 10, "560.00")])
        sp.withdraw_price_request(s, mine, user(s, "dealer1"), "项目取消")
        assert mine.status == "withdrawn" and s.get(ApprovalRequest, mine.approval_request_id).status == "withdrawn"
        via_page = ask(s, acme, "H-SH-004", [("CV-GC-6JL4", 10, "560.00")])
        page_id, approval_id = via_page.id, via_page.approval_request_id
        rejected = ask(s, acme, "H-SH-005", [("CV-GC-6JL4", 10, "560.00")])
        approvals.decide(s, s.get(ApprovalRequest, rejected.approval_request_id), user(s, "sales.east"), "reject",
                         PASSWORD, comment="低于成本")
        assert rejected.status == "rejected"
        assert sp.offers_for(s, acme["D-SH-001"], acme["H-SH-005"], acme["CV-GC-6JL4"], TODAY) == []
    dealer = signed_in("acme", "dealer1")
    assert dealer.post(f"/dealer/requests/{approval_id}", {"action": "withdraw", "comment": "改走招标"}).status_code == 303
    with as_tenant("acme") as s:
        assert s.get(PriceRequest, page_id).status == "withdrawn"  # the engine's hook followed


# --- pages -------------------------------------------------------------------------------------------

def _form(acme, hospital, sku, cap, price, **extra):
    data = {"hospital_id": str(acme[hospital]), "valid_from": TODAY.isoformat(),
            "valid_until": (TODAY + timedelta(days=120)).isoformat(), "tender_ref": "沪招-2026-088",
            "reason": "中标后执行价低于价格带", "sku_id": [str(acme[sku]), ""], "quantity_cap": [str(cap), ""],
            "requested_price": [price, ""]}
    data.update(extra)
    return data


def test_dealer_asks_on_the_page_checks_the_lines_and_both_sides_see_the_request(as_tenant, acme, signed_in):
    dealer = signed_in("acme", "dealer1")
    assert dealer.get("/dealer/price-requests/new").status_code == 200
    extra = dealer.get("/dealer/price-requests/new?row=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert extra.lstrip().startswith("<tr") and 'name="requested_price"' in extra
    checked = dealer.post("/dealer/price-requests/new", dict(_form(acme, "H-SH-006", "CV-NC-3012", 20, "1300.00"),
                                                             action="check"), headers={"HX-Request": "true"})
    body = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "¥1,750.00" in body and "¥1,662.50" in body and "21.80" in body
    assert '<form' not in body  # the form body only: the chosen files stay chosen
    bad = dealer.post("/dealer/price-requests/new", dict(_form(acme, "H-SH-006", "CV-NC-3012", 20, "1900.00"),
                                                         evidence=(io.BytesIO(PDF), "招标公告.pdf"), action="submit"),
                      content_type="multipart/form-data", token_from="/dealer/price-requests/new")
    assert bad.status_code == 422 and 'data-field="requested_price"' in bad.get_data(as_text=True)
    assert "请重新选择文件" in bad.get_data(as_text=True)
    made = dealer.post("/dealer/price-requests/new", dict(_form(acme, "H-SH-006", "CV-NC-3012", 20, "1300.00"),
                                                          evidence=(io.BytesIO(PDF), "招标公告.pdf"), action="submit"),
                       content_type="multipart/form-data", token_from="/dealer/price-requests/new")
    assert made.status_code == 303, made.get_data(as_text=True)[:500]
    path = made.headers["Location"]
    rid = int(path.rsplit("/", 1)[1])
    with as_tenant("acme") as s:
        request = s.get(PriceRequest, rid)
        number, doc_id, approval_id = request.number, request.evidence_ids[0], request.approval_request_id
    page = dealer.get(path).get_data(as_text=True)
    assert number in page and "审批中" in page and "招标公告.pdf" in page and "区域经理审核" in page
    assert dealer.get(f"/documents/{doc_id}").data == PDF
    assert number in dealer.get("/dealer/price-requests").get_data(as_text=True)
    channel = signed_in("acme", "channel")
    mpage = channel.get(f"/manufacturer/price-requests/{rid}").get_data(as_text=True)
    assert number in mpage and "0 of 20" not in mpage and "已用 0" in mpage
    assert f"/manufacturer/approvals/{approval_id}" not in mpage  # not the channel manager's step yet
    assert channel.get(f"/documents/{doc_id}").data == PDF
    east = signed_in("acme", "sales.east")
    assert f"/manufacturer/approvals/{approval_id}" in east.get(f"/manufacturer/price-requests/{rid}").get_data(as_text=True)
    approval_page = east.get(f"/manufacturer/approvals/{approval_id}").get_data(as_text=True)
    assert f"/manufacturer/price-requests/{rid}" in approval_page
    listing = channel.get("/manufacturer/price-requests?dealer=华东").get_data(as_text=True)
    assert number in listing
    assert number not in channel.get("/manufacturer/price-requests?dealer=百仕达").get_data(as_text=True)
    assert number in channel.get(f"/manufacturer/price-requests?hospital_id={acme['H-SH-006']}").get_data(as_text=True)
    assert number in channel.get("/manufacturer/price-requests?status=in_review").get_data(as_text=True)


def test_both_sides_see_what_orders_used_of_each_cap(as_tenant, acme, signed_in):
    with as_tenant("acme") as s:
        request = ask(s, acme, "H-SH-007", [("CV-NC-3012", 12, "1500.00")])
        approve(s, request)
        placed = order(s, acme, "CV-NC-3012", 5, hospital="H-SH-007")
        rid, order_number = request.id, placed.number
    for client, path in ((signed_in("acme", "dealer1"), f"/dealer/price-requests/{rid}"),
                         (signed_in("acme", "finance"), f"/manufacturer/price-requests/{rid}"),
                         (signed_in("acme", "sales.east"), f"/manufacturer/price-requests/{rid}")):
        page = client.get(path).get_data(as_text=True)
        assert "已用 5 / 共 12，剩余 7" in page and order_number in page, path
    assert "5 / 12" in signed_in("acme", "dealer1").get("/dealer/price-requests").get_data(as_text=True)


def test_resubmit_and_withdraw_pages(as_tenant, acme, signed_in):
    with as_tenant("acme") as s:
        request = ask(s, acme, "H-SH-008", [("CV-NC-3012", 10, "1400.00")])
        approvals.decide(s, s.get(ApprovalRequest, request.approval_request_id), user(s, "sales.east"), "return",
                         PASSWORD, comment="请补充中标通知书")
        rid = request.id
    dealer = signed_in("acme", "dealer1")
    page = dealer.get(f"/dealer/price-requests/{rid}").get_data(as_text=True)
    assert "退回修改" in page and f"/dealer/price-requests/{rid}/resubmit" in page and "请补充中标通知书" in page
    form = dealer.get(f"/dealer/price-requests/{rid}/resubmit").get_data(as_text=True)
    assert 'value="1400.00"' in form
    sent = dealer.post(f"/dealer/price-requests/{rid}/resubmit",
                       dict(_form(acme, "H-SH-008", "CV-NC-3012", 10, "1450.00"), action="submit",
                            evidence=(io.BytesIO(PDF), "中标通知书.pdf")), content_type="multipart/form-data",
                       token_from=f"/dealer/price-requests/{rid}/resubmit")
    assert sent.status_code == 303
    with as_tenant("acme") as s:
        request = s.get(PriceRequest, rid)
        assert request.status == "in_review" and request.lines[0].requested_price == Decimal("1450.00")
    assert dealer.get(f"/dealer/price-requests/{rid}/resubmit").status_code == 403  # in review again
    assert dealer.post(f"/dealer/price-requests/{rid}/withdraw", {"reason": "项目延期"},
                       token_from=f"/dealer/price-requests/{rid}").status_code == 303
    with as_tenant("acme") as s:
        assert s.get(PriceRequest, rid).status == "withdrawn"
    again = dealer.post(f"/dealer/price-requests/{rid}/withdraw", {"reason": "x"}, token_from=f"/dealer/price-requests/{rid}")
    assert again.status_code == 422


def test_every_special_price_route_is_closed_to_the_wrong_people(as_tenant, acme, signed_in):
    with as_tenant("acme") as s:
        request = ask(s, acme, "H-SH-009", [("CV-NC-3012", 10, "1400.00")])
        rid, doc_id, number = request.id, request.evidence_ids[0], request.number
    dealer_routes = [f"/dealer/price-requests/{rid}", f"/dealer/price-requests/{rid}/resubmit"]
    # another dealer of the same maker: 404, never a glimpse
    other = signed_in("acme", "dealer2")
    for path in dealer_routes:
        assert other.get(path).status_code == 404, path
    assert other.post(f"/dealer/price-requests/{rid}/withdraw", {"reason": "x"},
                      token_from="/dealer/price-requests").status_code == 404
    assert other.get(f"/documents/{doc_id}").status_code == 404
    assert number not in other.get("/dealer/price-requests").get_data(as_text=True)
    # another tenant's users: 404
    assert signed_in("globex", "dealer1").get(f"/dealer/price-requests/{rid}").status_code == 404
    assert signed_in("globex", "admin").get(f"/manufacturer/price-requests/{rid}").status_code == 404
    assert signed_in("globex", "admin").get(f"/documents/{doc_id}").status_code == 404
    # a hospital user: no special-price page at all, nor the evidence
    hospital = signed_in("acme", "hospital1")
    for path in ["/dealer/price-requests", "/dealer/price-requests/new", *dealer_routes,
                 "/manufacturer/price-requests", f"/manufacturer/price-requests/{rid}"]:
        assert hospital.get(path).status_code == 403, path
    assert hospital.get(f"/documents/{doc_id}").status_code == 404
    # the regional manager of another region: not listed, 404, and no evidence
    south = signed_in("acme", "sales.south")
    assert south.get(f"/manufacturer/price-requests/{rid}").status_code == 404
    assert south.get(f"/documents/{doc_id}").status_code == 404
    assert number not in south.get("/manufacturer/price-requests").get_data(as_text=True)
    assert signed_in("acme", "sales.east").get(f"/manufacturer/price-requests/{rid}").status_code == 200
    # manufacturer QA and after-sales do not see prices; the portals do not cross
    for local in ("qa", "service"):
        assert signed_in("acme", local).get("/manufacturer/price-requests").status_code == 403
    assert signed_in("acme", "dealer1").get("/manufacturer/price-requests").status_code == 403
    assert signed_in("acme", "admin").get("/dealer/price-requests").status_code == 403


def test_manufacturer_exports_the_requests_it_sees(as_tenant, acme, signed_in, run_worker):
    from openpyxl import load_workbook

    from app.compliance.models import Job

    with as_tenant("acme") as s:
        number = ask(s, acme, "H-SH-010", [("CV-NC-3012", 10, "1400.00"), ("CV-SH-6F", 5, "220.00")]).number

    def rows(local):
        client = signed_in("acme", local)
        response = client.post("/manufacturer/exports", {"list": "price_requests", "request_id": uuid.uuid4().hex,
                                                         "q": number}, token_from="/manufacturer/price-requests")
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
        job_id = int(re.search(r"/jobs/(\d+)$", response.headers["Location"]).group(1))
        run_worker()
        with as_tenant("acme") as s:
            job = s.get(Job, job_id)
            assert job.status == "done", job.error
            document_id = job.document_id
        sheet = load_workbook(io.BytesIO(client.get(f"/documents/{document_id}").data)).worksheets[0]
        return [[c.value for c in row] for row in sheet.iter_rows()][1:]

    mine = rows("channel")
    assert {(r[0], r[9]) for r in mine} == {(number, "CV-NC-3012"), (number, "CV-SH-6F")}
    assert rows("sales.south") == []


def test_a_quoted_price_below_the_floor_stands_only_under_a_special_price_and_uses_its_cap(as_tenant, acme):
    quoted = {"sku_id": acme["CV-NC-3012"], "quantity": 3, "unit_price": Decimal("1550.00"),
              "price_source": ("quote_lines", 1), "price_note": "报价单 QT-TEST"}
    with as_tenant("acme") as s:
        dealer = s.get(Dealer, acme["D-SH-001"])
        refused = order_ops.check_lines(s, dealer, [dict(quoted)], hospital_id=acme["H-SH-011"])
        assert [(i, f) for i, f, _m in refused.problems] == [(0, "unit_price")]  # below the floor of 1662.50
        request = ask(s, acme, "H-SH-011", [("CV-NC-3012", 10, "1500.00")])
        approve(s, request)
        covered = order_ops.check_lines(s, dealer, [dict(quoted)], hospital_id=acme["H-SH-011"])
        (line,) = covered.lines
        assert covered.problems == [] and line.unit_price == Decimal("1550.00")
        assert line.price_source == ("price_request_lines", request.lines[0].id) and request.number in line.price_note
        too_many = order_ops.check_lines(s, dealer, [dict(quoted, quantity=11)], hospital_id=acme["H-SH-011"])
        assert [(i, f) for i, f, _m in too_many.problems] == [(0, "unit_price")]  # no special price covers 11
