"""Price protection (价格补差) computed from a hand-built channel stock — sell-in at
several prices, a return, sell-out before and after the effective day — credited to
each dealer's ledger only once approved through the engine; its pages and who sees
which dealers' lines."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.compliance import approvals
from app.compliance.models import ApprovalRequest
from app.core.i18n import shanghai_today
from app.demo.data import PASSWORD
from app.identity.models import User
from app.inventory.models import SellOutLine
from app.orders.models import OrderLine, ShipmentLine
from app.rebates import protection as pp
from app.rebates.models import PriceProtection
from app.rebates.models import RebateLedgerEntry as Entry
from tests.sellout_world import at_shanghai, dealer, deliver, hospital, lot_tag, return_goods, sellout_world, sku  # noqa: F401

Y = Decimal
TODAY = shanghai_today()
EFFECTIVE = TODAY - timedelta(days=10)


def test_eligible_units_count_the_share_bought_at_the_old_price():
    assert pp.eligible_units(15, 20, 20) == 15
    assert pp.eligible_units(16, 20, 10) == 8
    assert pp.eligible_units(5, 20, 7) == 1  # 5 × 7 / 20 = 1.75, whole units rounded down
    assert pp.eligible_units(0, 20, 20) == 0 and pp.eligible_units(-2, 20, 20) == 0 and pp.eligible_units(9, 9, 0) == 0


def _deliver_at(session, dealer_code, lot_no, quantity, day, price, sku_code="CV-DES-3028"):
    """A delivery of ``quantity`` units of the lot at ``price`` a unit."""
    lot = deliver(session, dealer_code, sku_code, lot_no, quantity, day)
    line_id = session.scalar(select(ShipmentLine.order_line_id).where(ShipmentLine.lot_id == lot.id)
                             .order_by(ShipmentLine.id.desc()).limit(1))
    line = session.get(OrderLine, line_id)
    line.unit_price, line.amount = Y(price), Y(price) * quantity
    session.flush()
    return lot


def _sell(session, dealer_code, lot, quantity, day):
    session.add(SellOutLine(dealer_id=dealer(session, dealer_code).id, sold_on=day,
                            hospital_id=hospital(session, "H-SH-001").id, sku_id=lot.sku_id, lot_id=lot.id,
                            quantity=quantity, unit_price=Y("600.00"), invoice_no="T" + lot_tag(), source="form"))
    session.flush()


@pytest.fixture(scope="module")
def stock(app, world):
    """The channel stock of CV-DES-3028 as hand-built here (old price ¥480, new ¥288):

    - 华东医疗器械 lot A: 20 at ¥480, 5 sold before the effective day, 3 after → 15 held, 15 protected;
    - 华东医疗器械 lot B: 10 at a special price of ¥400 → none protected;
    - 华东医疗器械 lot C: 10 at ¥480 and 10 at ¥300, 4 sold → 16 held × ½ = 8 protected;
    - 广州百仕达 lot D: 12 at ¥500, 2 returned before the effective day → 10 protected;
    - 北京康泰 lot E: delivered after the effective day → none.
    华东 23 units × ¥192 = ¥4,416; 广州 10 × ¥192 = ¥1,920; total ¥6,336."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        tenant = by_slug(db.session, world)
        db.session.rollback()
        with tenant_session(db.session, tenant) as s:
            set_context(s, Actor.system("test"))
            a = _deliver_at(s, "D-SH-001", lot_tag(), 20, EFFECTIVE - timedelta(days=30), "480.00")
            _sell(s, "D-SH-001", a, 5, EFFECTIVE - timedelta(days=3))
            _sell(s, "D-SH-001", a, 3, EFFECTIVE + timedelta(days=2))
            _deliver_at(s, "D-SH-001", lot_tag(), 10, EFFECTIVE - timedelta(days=20), "400.00")
            c_no = lot_tag()
            c = _deliver_at(s, "D-SH-001", c_no, 10, EFFECTIVE - timedelta(days=40), "480.00")
            _deliver_at(s, "D-SH-001", c_no, 10, EFFECTIVE - timedelta(days=35), "300.00")
            _sell(s, "D-SH-001", c, 4, EFFECTIVE - timedelta(days=1))
            d = _deliver_at(s, "D-GD-001", lot_tag(), 12, EFFECTIVE - timedelta(days=15), "500.00")
            ret = return_goods(s, "D-GD-001", d, 2)
            ret.received_at = at_shanghai(EFFECTIVE - timedelta(days=2))
            _deliver_at(s, "D-BJ-001", lot_tag(), 9, EFFECTIVE + timedelta(days=1), "480.00")
            s.flush()
            chain = approvals.chain_for(s, "price_protection")
            if not chain.steps:
                approvals.add_step(s, "price_protection", approvals.StepSpec("渠道经理审核", "channel_manager"))
            sku_id = sku(s, "CV-DES-3028").id
        db.session.remove()
    return {"slug": world, "sku_id": sku_id}


def _in(app, slug):
    from contextlib import contextmanager

    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    @contextmanager
    def run():
        with app.app_context():
            tenant = by_slug(db.session, slug)
            db.session.rollback()
            with tenant_session(db.session, tenant) as s:
                set_context(s, Actor.system("test"))
                yield s
            db.session.remove()

    return run()


def test_protected_stock_is_what_each_dealer_held_on_the_day_bought_at_the_old_price(app, stock):
    with _in(app, stock["slug"]) as s:
        found = {dealer_id: (d.quantity, sorted(lot["eligible"] for lot in d.lots))
                 for dealer_id, d in ((d.dealer_id, d) for d in pp.protected_stock(s, stock["sku_id"], Y("480.00"),
                                                                                    EFFECTIVE))}
        assert found == {dealer(s, "D-SH-001").id: (23, [8, 15]), dealer(s, "D-GD-001").id: (10, [10])}


def test_a_protection_is_credited_only_after_approval(app, stock):
    with _in(app, stock["slug"]) as s:
        finance = s.scalar(select(User).where(User.email == f"finance@{stock['slug']}.test"))
        p = pp.start_protection(s, finance, {"sku_id": stock["sku_id"], "old_price": "480", "new_price": "288.00",
                                             "effective_on": EFFECTIVE.isoformat(), "reason": "冠脉支架集采接续中选"})
        assert p.number.startswith("PP-") and p.total_amount == Y("6336.00") and p.status == "in_review"
        assert sorted((line.quantity, line.amount) for line in p.lines) == [(10, Y("1920.00")), (23, Y("4416.00"))]
        request = s.get(ApprovalRequest, p.approval_request_id)
        assert request.facts == {"amount": "6336.00"} and request.status == "in_review"
        assert not s.scalars(select(Entry).where(Entry.ref_type == "price_protections", Entry.ref_id == p.id)).all()
        protection_id = p.id
    with _in(app, stock["slug"]) as s:
        channel = s.scalar(select(User).where(User.email == f"channel@{stock['slug']}.test"))
        p = s.get(PriceProtection, protection_id)
        approvals.decide(s, s.get(ApprovalRequest, p.approval_request_id), channel, "approve", PASSWORD)
        assert p.status == "approved"
        credits = {e.dealer_id: e for e in s.scalars(select(Entry).where(Entry.ref_type == "price_protections",
                                                                           Entry.ref_id == protection_id))}
        huadong = credits[dealer(s, "D-SH-001").id]
        assert (huadong.kind, huadong.amount, huadong.explanation["units"]) == ("price_protection", Y("4416.00"), 23)
        assert huadong.explanation["old_price"] == "480.00" and len(huadong.explanation["lots"]) == 2
        assert credits[dealer(s, "D-GD-001").id].amount == Y("1920.00") and len(credits) == 2
        assert huadong.expires_on == TODAY + timedelta(days=365)


@pytest.mark.parametrize("values,field", [
    ({"old_price": "480", "new_price": "480"}, "new_price"),
    ({"old_price": "480", "new_price": "500"}, "new_price"),
    ({"old_price": "nan", "new_price": "1"}, "old_price"),
    ({"effective_on": (TODAY + timedelta(days=3)).isoformat()}, "effective_on"),
    ({"effective_on": "9999-12-31"}, "effective_on"),
    ({"old_price": "99999", "new_price": "1"}, "old_price"),  # nobody bought at ¥99,999: nothing to protect
    ({"sku_id": "²"}, "sku_id"),
    ({"reason": ""}, "reason"),
])
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_written(app, stock, values, field):
    from app.core.errors import InvalidInput

    given = {"sku_id": stock["sku_id"], "old_price": "480", "new_price": "288", "effective_on": EFFECTIVE.isoformat(),
             "reason": "测试", **values}
    with _in(app, stock["slug"]) as s:
        before = len(s.scalars(select(PriceProtection.id)).all())
        with pytest.raises(InvalidInput) as refused:
            pp.start_protection(s, None, given)
        assert refused.value.field == field
        s.rollback()
    with _in(app, stock["slug"]) as s:
        assert len(s.scalars(select(PriceProtection.id)).all()) == before


def test_pages_show_each_user_the_dealers_of_their_regions(app, stock):
    from tests.conftest import Browser

    def signed(local):
        b = Browser(app, f"{stock['slug']}.localhost")
        assert b.sign_in(f"{local}@{stock['slug']}.test").status_code == 303
        return b

    finance = signed("finance")
    form = finance.get("/manufacturer/price-protections/new")
    assert form.status_code == 200 and 'name="old_price"' in form.get_data(as_text=True)
    bad = finance.post("/manufacturer/price-protections/new", {"sku_id": stock["sku_id"], "old_price": "480",
                                                                "new_price": "600", "effective_on": EFFECTIVE.isoformat(),
                                                                "reason": "x"})
    assert bad.status_code == 400 and 'id="new_price-error"' in bad.get_data(as_text=True)
    made = finance.post("/manufacturer/price-protections/new", {"sku_id": stock["sku_id"], "old_price": "480",
                                                                 "new_price": "300", "effective_on": EFFECTIVE.isoformat(),
                                                                 "reason": "省级联盟集采"})
    assert made.status_code == 303
    path = made.headers["Location"].split("localhost")[-1]
    page = finance.get(path).get_data(as_text=True)
    assert 'data-dealer="D-SH-001"' in page and 'data-dealer="D-GD-001"' in page and "¥5,940.00" in page
    assert "/manufacturer/price-protections" in finance.get("/manufacturer/price-protections").get_data(as_text=True)
    east = signed("sales.east").get(path).get_data(as_text=True)
    assert 'data-dealer="D-SH-001"' in east and 'data-dealer="D-GD-001"' not in east and "¥4,140.00" in east and "¥5,940.00" not in east
    south = signed("sales.south").get(path).get_data(as_text=True)
    assert 'data-dealer="D-GD-001"' in south and 'data-dealer="D-SH-001"' not in south
    assert signed("sales.east").get("/manufacturer/price-protections/new").status_code == 403
    assert signed("qa").get(path).status_code == 403
    assert signed("dealer1").get(path).status_code == 403
    assert signed("hospital1").get(path).status_code == 403
    # the channel manager returns it; finance computes again and resubmits, or withdraws
    channel = signed("channel")
    request_id = int(page.split('/manufacturer/approvals/')[1].split('"')[0])
    assert channel.post(f"/manufacturer/approvals/{request_id}", {"action": "return", "password": PASSWORD,
                                                                  "comment": "请核对华南经销商退货"}).status_code == 303
    returned = finance.get(path).get_data(as_text=True)
    assert 'data-status="returned"' in returned and "请核对华南经销商退货" in returned
    assert finance.post(f"{path}/resubmit", {}, token_from=path).status_code == 303
    assert 'data-status="in_review"' in finance.get(path).get_data(as_text=True)
    assert finance.post(f"{path}/withdraw", {"reason": "改为按季度统一处理"}, token_from=path).status_code == 303
    assert 'data-status="withdrawn"' in finance.get(path).get_data(as_text=True)


def test_other_tenants_do_not_see_a_protection(app, stock, signed_in):
    with _in(app, stock["slug"]) as s:
        protection_id = s.scalar(select(PriceProtection.id).order_by(PriceProtection.id).limit(1))
    assert signed_in("globex", "admin").get(f"/manufacturer/price-protections/{protection_id}").status_code in (404,)
