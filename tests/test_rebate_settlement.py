"""The rebate engine against PostgreSQL: bases, settlement (idempotent, adjustments,
accrual reversal, the closed-period lock, two runs at once, a killed worker) and accrual.
Each test gets a tenant of its own (seeded like acme) because settling and closing a
period touch every policy of the tenant."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, text

from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.rebates import accrual, bases, policies, rules, settlement
from app.rebates.models import RebateLedgerEntry, RebatePeriod, RebatePolicy, SettlementRun
from tests.conftest import ROOT
from tests.rebate_world import (credited_return, day_in, dealer, delivered, last_quarter, ledger, line_id, order,
                                paid_invoice, published, qualification, sell_out, sku, this_quarter)

D = Decimal
LQ = last_quarter()
VOLUME_TIERS = [{"from": "500000", "rate": "2"}, {"from": "1000000", "rate": "3"}, {"from": "2000000", "rate": "4"}]


@pytest.fixture()
def world(app):
    """A fresh tenant seeded like acme; dropped afterwards."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.demo import data
    from app.demo.seed import seed_tenant
    from app.inventory.models import Warehouse
    from tenants.provisioning import create_tenant, drop_tenant
    from tenants.session import tenant_session

    slug = "rs" + uuid.uuid4().hex[:8]
    with app.app_context():
        tenant = create_tenant(db.engine, slug, "返利结算测试")
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("test seed"))
            seed_tenant(session, slug, data.TENANTS["acme"])
            session.add(Warehouse(code="WH-SZ", name="苏州总仓", kind="central"))
        db.session.remove()
    yield slug
    with app.app_context():
        drop_tenant(db.engine, slug)


def volume_policy(session, code="VOL-T1", **over):
    values = dict(code=code, name="一级经销商心血管季度采购返利", period="quarter", kind="volume", basis="purchase",
                  method="retroactive", valid_from=rules.parse_period(LQ)[1], tiers=VOLUME_TIERS,
                  dealer_tiers=["tier1"], product_line_ids=[line_id(session, "CV")], priority=10,
                  expires_after_days=365)
    values.update(over)
    return published(session, **values)


def settle(as_tenant, world, key=LQ, today=None):
    with as_tenant(world) as session:
        summary = settlement.settle(session, key, None, today or shanghai_today())
        return summary.settled, summary.adjusted, summary.reversed


def amounts(as_tenant, world, key=LQ, code=None, kinds=("settled", "adjusted")):
    """Σ per (kind, dealer code) of the period's ledger rows."""
    out: dict = {}
    with as_tenant(world) as session:
        for kind, dealer_code, _code, amount, _pid in ledger(session, key, code, kinds):
            out[(kind, dealer_code)] = out.get((kind, dealer_code), D(0)) + amount
    return out


def test_settlement_pays_the_hand_worked_figures_and_a_second_run_writes_nothing(world, as_tenant):
    """一级经销商 CV 季度采购返利 (全额累进 50万 2 % / 100万 3 % / 200万 4 %): 上海联拓 buys
    ¥1,250,000 → ¥37,500; 江苏恒康 ¥750,000 → ¥15,000. Cancelled orders, free goods (货补),
    other product lines, agents and the next quarter's first minutes do not count."""
    _kind, start, end = rules.parse_period(LQ)
    with as_tenant(world) as session:
        volume_policy(session)
        order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 100, "10000.00"), ("CV-PTCA-2520", 50, "5000.00")])
        order(session, "D-SH-002", end, [("CV-DES-2518", 1, "0.00", True)], hour=23)      # free goods
        order(session, "D-SH-002", day_in(LQ, 20), [("CV-DES-3018", 50, "10000.00")], status="cancelled")
        order(session, "D-SH-002", day_in(LQ, 30), [("SH-TAVR-23", 1, "150000.00")])     # structural heart
        order(session, "D-SH-002", end + timedelta(days=1), [("CV-DES-3018", 9, "10000.00")], hour=0)
        order(session, "D-JS-001", end, [("CV-NC-3012", 150, "5000.00")], hour=23)       # 23:00 Shanghai counts
        order(session, "D-SH-001", day_in(LQ), [("CV-DES-3018", 300, "10000.00")])       # an agent: not in scope
        order(session, "D-JS-001", start - timedelta(days=1), [("CV-NC-3012", 100, "5000.00")], hour=23)
    assert settle(as_tenant, world) == (2, 0, 0)
    assert amounts(as_tenant, world) == {("settled", "D-SH-002"): D("37500.00"), ("settled", "D-JS-001"): D("15000.00")}
    assert settle(as_tenant, world) == (0, 0, 0)
    assert settle(as_tenant, world) == (0, 0, 0)
    with as_tenant(world) as session:
        row = session.scalar(select(RebateLedgerEntry).where(RebateLedgerEntry.kind == "settled",
                                                             RebateLedgerEntry.dealer_id == dealer(session, "D-SH-002").id))
        assert row.base_amount == D("1250000.00") and row.rate == D("0.0300") and row.tier_index == 1
        assert row.explanation["next"]["gap"] == "750000.00" and row.explanation["lines"] == 2
        assert row.expires_on == row.occurred_on + timedelta(days=365)
        events = session.execute(text("SELECT after FROM audit_events WHERE action = 'settle_rebates' ORDER BY seq")).scalars().all()
    assert [e["settled_entries"] for e in events] == [2, 0, 0] and events[0]["written"] == "52500.00"


def test_changed_inputs_produce_only_adjustment_lines(world, as_tenant):
    _kind, start, end = rules.parse_period(LQ)
    with as_tenant(world) as session:
        volume_policy(session)
        order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 125, "10000.00")])
        order(session, "D-JS-001", day_in(LQ), [("CV-NC-3012", 150, "5000.00")])
        order(session, "D-ZJ-001", day_in(LQ), [("CV-NC-3012", 120, "5000.00")])
    assert settle(as_tenant, world) == (3, 0, 0)
    with as_tenant(world) as session:
        credited_return(session, "D-JS-001", day_in(LQ, 40), "CV-NC-3012", 20, "5000.00")  # 750,000 → 650,000
        order(session, "D-SH-002", day_in(LQ, 50), [("CV-DES-3018", 80, "10000.00")])       # 1,250,000 → 2,050,000
        credited_return(session, "D-ZJ-001", end + timedelta(days=2), "CV-NC-3012", 20, "5000.00")  # next quarter's
    assert settle(as_tenant, world) == (0, 2, 0)
    got = amounts(as_tenant, world)
    assert got[("adjusted", "D-JS-001")] == D("-2000.00")      # 15,000 → 13,000
    assert got[("adjusted", "D-SH-002")] == D("44500.00")      # 37,500 → 4 % of 2,050,000 = 82,000
    assert ("adjusted", "D-ZJ-001") not in got
    assert settle(as_tenant, world) == (0, 0, 0)
    with as_tenant(world) as session:
        adjusted = session.scalar(select(RebateLedgerEntry).where(RebateLedgerEntry.kind == "adjusted",
                                                                  RebateLedgerEntry.amount < 0))
        assert adjusted.explanation["previous"] == "15000.00" and adjusted.explanation["target"] == "13000.00"
        assert adjusted.expires_on is None  # a deduction does not expire
        runs = session.scalars(select(SettlementRun)).all()
    assert runs == []  # settled directly here: runs belong to the job


def test_accruals_track_the_estimate_and_settlement_reverses_them(world, as_tenant):
    today = shanghai_today()
    with as_tenant(world) as session:
        volume_policy(session)
        order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 60, "10000.00")])
        rows, delta, estimate = accrual.accrue_period(session, LQ, today, ("jobs", 1))
        assert (rows, delta, estimate) == (1, D("12000.00"), D("12000.00"))
        assert accrual.accrue_period(session, LQ, today)[0] == 0  # nothing changed, nothing written
        order(session, "D-SH-002", day_in(LQ, 5), [("CV-DES-3018", 50, "10000.00")])   # 600,000 → 1,100,000
        assert accrual.accrue_period(session, LQ, today)[:2] == (1, D("21000.00"))    # 12,000 → 33,000
    assert amounts(as_tenant, world, kinds=("accrued",)) == {("accrued", "D-SH-002"): D("33000.00")}
    assert settle(as_tenant, world) == (1, 0, 1)
    got = amounts(as_tenant, world, kinds=("accrued", "settled"))
    assert got == {("accrued", "D-SH-002"): D("0.00"), ("settled", "D-SH-002"): D("33000.00")}
    with as_tenant(world) as session:
        assert accrual.accrue_period(session, LQ, today)[0] == 0  # a settled period keeps no estimates
        assert LQ not in accrual.accrual_keys(session, today)


def test_a_closed_period_is_locked(world, as_tenant):
    with as_tenant(world) as session:
        volume_policy(session)
        order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 60, "10000.00")])
        with pytest.raises(InvalidInput, match="结算"):
            settlement.close_period(session, LQ, None)       # not settled yet
    settle(as_tenant, world)
    with as_tenant(world) as session:
        period = settlement.close_period(session, LQ, None)
        assert period.status == "closed" and period.closed_at is not None
        order(session, "D-SH-002", day_in(LQ, 3), [("CV-DES-3018", 60, "10000.00")])
    with as_tenant(world) as session:
        with pytest.raises(settlement.PeriodClosed):
            settlement.settle(session, LQ, None, shanghai_today())
        with pytest.raises(InvalidInput) as refused:
            settlement.request_settlement(session, LQ, None, uuid.uuid4().hex)
        assert refused.value.field == "period_key" and "已关闭" in refused.value.message
        assert accrual.accrue_period(session, LQ, shanghai_today())[0] == 0
        draft = policies.revise(session, session.scalar(select(RebatePolicy).where(RebatePolicy.code == "VOL-T1")))
        with pytest.raises(policies.PolicyInvalid) as bad:
            policies.save_draft(session, dict(policies.form_values(draft), valid_from=rules.parse_period(LQ)[1]), draft)
        assert "valid_from" in bad.value.errors
    assert amounts(as_tenant, world) == {("settled", "D-SH-002"): D("12000.00")}  # nothing moved
    with as_tenant(world) as session:
        with pytest.raises(InvalidInput, match="已关闭"):
            settlement.close_period(session, LQ, None)


def test_a_period_that_has_not_ended_cannot_be_settled(world, as_tenant):
    with as_tenant(world) as session:
        with pytest.raises(InvalidInput) as early:
            settlement.request_settlement(session, this_quarter(), None, uuid.uuid4().hex)
        assert "结束" in early.value.message
        with pytest.raises(InvalidInput):
            settlement.request_settlement(session, "2026-Q5", None, uuid.uuid4().hex)


def test_two_settlements_at_once_write_one_set(world, app, as_tenant):
    with as_tenant(world) as session:
        volume_policy(session)
        for code in ("D-SH-002", "D-JS-001", "D-ZJ-001", "D-SD-001"):
            order(session, code, day_in(LQ), [("CV-DES-3018", 80, "10000.00")])
    barrier, outcomes = threading.Barrier(2), []

    def run():
        barrier.wait()
        try:
            outcomes.append(settle(as_tenant, world))
        except Exception as exc:  # pragma: no cover - reported below
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == [(0, 0, 0), (4, 0, 0)], outcomes
    with as_tenant(world) as session:
        assert session.scalar(select(func.count()).select_from(RebateLedgerEntry)) == 4


def test_growth_pays_on_growth_and_nothing_without_a_base_last_year(world, as_tenant):
    """IVD 同比增长返利: 山东鲁康 ¥400,000 去年同期 → ¥460,000 (+15 %) earns 1 %; 湖北楚康
    has no purchases a year ago: no growth tier, a settled row of ¥0 that says why."""
    last_year = rules.last_year_key(LQ)
    with as_tenant(world) as session:
        published(session, code="IVD-GROWTH", name="IVD 同比增长返利", period="quarter", kind="growth",
                  basis="purchase", method="retroactive", valid_from=rules.parse_period(last_year)[1],
                  tiers=[{"from": "10", "rate": "1"}, {"from": "20", "rate": "2"}],
                  product_line_ids=[line_id(session, "IVD")])
        order(session, "D-SD-001", day_in(last_year), [("IVD-HSTNI-100", 100, "4000.00")])
        order(session, "D-SD-001", day_in(LQ), [("IVD-HSTNI-100", 115, "4000.00")])
        order(session, "D-HB-001", day_in(LQ), [("IVD-HSTNI-100", 300, "4000.00")])
    settle(as_tenant, world)
    got = amounts(as_tenant, world)
    assert got == {("settled", "D-SD-001"): D("4600.00"), ("settled", "D-HB-001"): D("0.00")}
    with as_tenant(world) as session:
        new = session.scalar(select(RebateLedgerEntry).where(RebateLedgerEntry.amount == 0))
        assert new.explanation["growth_pct"] is None and new.explanation["last_year"] == "0.00"
        assert new.explanation["tier"] is None and new.explanation["next"]["gap"] is None


def test_collection_speed_counts_what_was_paid_within_the_days(world, as_tenant):
    """回款及时返利: paid within 30 days of the invoice, ≥ ¥200,000 → 0.5 %, ≥ ¥500,000 → 1 %."""
    _kind, start, _end = rules.parse_period(LQ)
    with as_tenant(world) as session:
        published(session, code="COLLECT-30", name="回款及时返利", period="quarter", kind="collection",
                  method="retroactive", valid_from=start, paid_within_days=30,
                  tiers=[{"from": "200000", "rate": "0.5"}, {"from": "500000", "rate": "1"}])
        paid_invoice(session, "D-SH-002", start, start + timedelta(days=30), "300000.00")      # on the 30th day
        paid_invoice(session, "D-SH-002", start, start + timedelta(days=31), "400000.00")      # a day late
        paid_invoice(session, "D-SH-002", start - timedelta(days=10), start + timedelta(days=5), "250000.00")
        paid_invoice(session, "D-JS-001", start, start + timedelta(days=3), "150000.00")
    settle(as_tenant, world)
    assert amounts(as_tenant, world) == {("settled", "D-SH-002"): D("5500.00"), ("settled", "D-JS-001"): D("0.00")}


def test_mix_pays_on_the_share_of_strategic_products(world, as_tenant):
    """战略产品占比: 药物球囊 CV-DCB-3020 and TAVR; ≥15 % → 1 %, ≥25 % → 1.5 % of all purchases."""
    with as_tenant(world) as session:
        strategic = [sku(session, "CV-DCB-3020").id, sku(session, "SH-TAVR-26").id]
        published(session, code="MIX-DCB", name="战略产品占比返利", period="quarter", kind="mix", basis="purchase",
                  method="retroactive", valid_from=rules.parse_period(LQ)[1], strategic_sku_ids=strategic,
                  tiers=[{"from": "15", "rate": "1"}, {"from": "25", "rate": "1.5"}])
        order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 80, "10000.00"), ("CV-DCB-3020", 40, "5000.00")])
        order(session, "D-JS-001", day_in(LQ), [("CV-DES-3018", 90, "10000.00"), ("CV-DCB-3020", 20, "5000.00")])
    settle(as_tenant, world)
    # 上海联拓 200,000 of 1,000,000 = 20 % → 1 % = 10,000; 江苏恒康 100,000 / 1,000,000 = 10 % → nothing
    assert amounts(as_tenant, world) == {("settled", "D-SH-002"): D("10000.00"), ("settled", "D-JS-001"): D("0.00")}
    with as_tenant(world) as session:
        row = session.scalar(select(RebateLedgerEntry).where(RebateLedgerEntry.amount > 0))
        assert row.explanation["share_pct"] == "20.00" and row.explanation["next"]["gap"] == "66666.67"


def test_conditions_gate_and_reduce_in_settlement(world, as_tenant):
    """流向逾期 gates the volume rebate; an expired 经营许可证 halves it."""
    _kind, start, _end = rules.parse_period(LQ)
    with as_tenant(world) as session:
        volume_policy(session, conditions={"sell_out_on_time": {"effect": "gate"},
                                           "qualifications_valid": {"effect": "reduce", "rate": "0.5"}})
        for code in ("D-SH-002", "D-JS-001", "D-ZJ-001"):
            order(session, code, day_in(LQ), [("CV-DES-3018", 60, "10000.00")])
            delivered(session, code, start + timedelta(days=3))
        sell_out(session, "D-SH-002", start + timedelta(days=8), "CV-DES-3018", 2, "12000.00")      # on time
        sell_out(session, "D-ZJ-001", start + timedelta(days=8), "CV-DES-3018", 2, "12000.00")
        due = rules.parse_period(rules.shift_key(rules.period_key("month", start), 1))[1] + timedelta(days=4)
        sell_out(session, "D-JS-001", start + timedelta(days=9), "CV-DES-3018", 2, "12000.00",
                 reported_on=due + timedelta(days=1))                                                  # a day late
        qualification(session, "D-ZJ-001", start + timedelta(days=20))                                # lapsed
        qualification(session, "D-SH-002", rules.parse_period(LQ)[2])                                 # valid to the end
    settle(as_tenant, world)
    got = amounts(as_tenant, world)
    assert got == {("settled", "D-SH-002"): D("12000.00"), ("settled", "D-JS-001"): D("0.00"),
                   ("settled", "D-ZJ-001"): D("6000.00")}
    with as_tenant(world) as session:
        from app.channel.queries import ChannelScope
        from app.inventory.sellout import late_reporters

        late = {(r.dealer_code, r.month) for r in late_reporters(session, ChannelScope(), shanghai_today())}
        assert ("D-JS-001", start) in late and ("D-SH-002", start) not in late  # the same rule as the sell-out page


def test_exclusive_policy_stacks_in_priority_order(world, as_tenant):
    _kind, start, _end = rules.parse_period(LQ)
    with as_tenant(world) as session:
        volume_policy(session)                                               # priority 10
        published(session, code="LAUNCH", name="新品推广返利（不与其他政策同享）", period="quarter", kind="volume",
                  basis="purchase", method="retroactive", valid_from=start, priority=20, exclusive=True,
                  tiers=[{"from": "100000", "rate": "5"}])
        order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 60, "10000.00")])   # volume pays: LAUNCH stays out
        order(session, "D-SH-001", day_in(LQ), [("SH-TAVR-23", 2, "150000.00")])    # an agent: only LAUNCH reaches it
    settle(as_tenant, world)
    assert amounts(as_tenant, world, code="VOL-T1") == {("settled", "D-SH-002"): D("12000.00")}
    assert amounts(as_tenant, world, code="LAUNCH") == {("settled", "D-SH-002"): D("0.00"),
                                                        ("settled", "D-SH-001"): D("15000.00")}
    with as_tenant(world) as session:
        kept_out = session.scalar(select(RebateLedgerEntry).join(RebatePolicy).where(
            RebatePolicy.code == "LAUNCH", RebateLedgerEntry.amount == 0))
        assert kept_out.explanation["excluded_by"] == "VOL-T1"


def test_a_new_version_of_a_settled_policy_adjusts_the_open_period(world, as_tenant):
    with as_tenant(world) as session:
        volume_policy(session)
        order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 125, "10000.00")])
    settle(as_tenant, world)
    with as_tenant(world) as session:
        v1 = session.scalar(select(RebatePolicy).where(RebatePolicy.code == "VOL-T1"))
        draft = policies.revise(session, v1)
        values = dict(policies.form_values(draft), valid_from=rules.parse_period(LQ)[1],
                      tiers=[{"from": "500000", "rate": "2"}, {"from": "1200000", "rate": "3.5"}])
        policies.save_draft(session, values, draft)
        policies.publish(session, draft, None)
        assert v1.status == "retired" and draft.version == 2
    assert settle(as_tenant, world) == (0, 1, 0)
    with as_tenant(world) as session:
        rows = ledger(session, LQ)
    assert [(k, a) for k, _d, _c, a, _p in rows] == [("settled", D("37500.00")), ("adjusted", D("6250.00"))]
    assert rows[1].policy_id != rows[0].policy_id  # the adjustment names the version that produced it


def test_unpriced_sell_out_counts_at_the_dealers_purchase_price(world, as_tenant):
    from app.inventory.models import Lot, SellOutLine, Warehouse
    from app.orders.models import OrderLine, Shipment, ShipmentLine
    from app.inventory.operations import lot_for

    _kind, start, _end = rules.parse_period(LQ)
    with as_tenant(world) as session:
        published(session, code="SO-VOL", name="流向返利", period="quarter", kind="volume", basis="sell_out",
                  method="retroactive", valid_from=start, tiers=[{"from": "0", "rate": "1"}])
        order_id = order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 5, "9000.00")], status="delivered")
        lot = lot_for(session, sku(session, "CV-DES-3018"), "PRICE-LOT", None, None, start + timedelta(days=900))
        shipment = Shipment(number="SH-PRICE", order_id=order_id, dealer_id=dealer(session, "D-SH-002").id,
                            warehouse_id=session.scalar(select(Warehouse.id)), status="delivered")
        session.add(shipment)
        session.flush()
        session.add(ShipmentLine(shipment_id=shipment.id, order_line_id=session.scalar(
            select(OrderLine.id).where(OrderLine.order_id == order_id)), sku_id=lot.sku_id, lot_id=lot.id, quantity=5))
        session.flush()
        sell_out(session, "D-SH-002", start + timedelta(days=20), "CV-DES-3018", 3, "12000.00")
        line = sell_out(session, "D-SH-002", start + timedelta(days=21), "CV-DES-3018", 2, None)
        session.execute(SellOutLine.__table__.update().where(SellOutLine.id == line).values(lot_id=lot.id))
        assert session.get(Lot, lot.id) is not None
    settle(as_tenant, world)
    # 3 × 12,000 reported + 2 × 9,000 (no price reported: the dealer's purchase price) = 54,000 → 1 % = 540
    assert amounts(as_tenant, world) == {("settled", "D-SH-002"): D("540.00")}


# --- the job: progress, report, a worker killed mid-run ------------------------------------------

def test_settlement_job_records_its_run_and_report(world, as_tenant, run_worker, app):
    import io

    from openpyxl import load_workbook

    with as_tenant(world) as session:
        volume_policy(session)
        order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 125, "10000.00")])
        run = settlement.request_settlement(session, LQ, None, "settle-" + uuid.uuid4().hex)
        run_id, job_id = run.id, run.job_id
    run_worker()
    with as_tenant(world) as session:
        run = session.get(SettlementRun, run_id)
        from app.compliance.models import Document, Job

        job = session.get(Job, job_id)
        assert (run.status, run.settled_entries, run.adjusted_entries, run.total_amount) == ("done", 1, 0, D("37500.00"))
        assert job.status == "done" and job.progress == 100
        doc = session.get(Document, job.document_id)
        with app.app_context():
            from app.core.storage import get_storage

            data = get_storage().get(doc.storage_key, doc.sha256)
    rows = list(load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True))
    assert any(r[0] == "D-SH-002" and r[2] == "VOL-T1" and D(str(r[7])) == D("37500") for r in rows[4:])


def test_same_request_id_is_one_settlement_run(world, as_tenant):
    rid = "settle-" + uuid.uuid4().hex
    with as_tenant(world) as session:
        first = settlement.request_settlement(session, LQ, None, rid).id
    with as_tenant(world) as session:
        assert settlement.request_settlement(session, LQ, None, rid).id == first
        assert session.scalar(select(func.count()).select_from(SettlementRun)) == 1


def test_a_worker_killed_mid_settlement_leaves_nothing_and_the_rerun_writes_one_set(world, app, as_tenant, worker_env,
                                                                                     run_worker):
    """The worker is stopped inside its one transaction, after its INSERT has begun writing
    ledger rows (it waits on a row this test holds), then killed with SIGKILL. Nothing of
    it survives; the sweeper hands the job to a new worker, which writes one set."""
    import psutil
    from sqlalchemy.orm import Session

    from app.core import jobs
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import pin

    codes = ("D-SH-002", "D-JS-001", "D-ZJ-001", "D-SD-001", "D-FJ-001", "D-HB-001")
    with as_tenant(world) as session:
        policy_id = volume_policy(session)
        for code in codes:
            order(session, code, day_in(LQ), [("CV-DES-3018", 60, "10000.00")])
        last_dealer = max(dealer(session, c).id for c in codes)
    run_worker()  # drain what other tests queued
    with as_tenant(world) as session:
        run = settlement.request_settlement(session, LQ, None, "settle-" + uuid.uuid4().hex)
        run_id, job_id = run.id, run.job_id
    with app.app_context():
        tenant = by_slug(db.session, world)
        db.session.rollback()
        blocker = Session(db.engine)
        pin(blocker, tenant)
        # hold the last dealer's settled row: the worker's bulk INSERT waits on it mid-statement
        # (a Core insert: the ORM's audit listener would take the audit chain's lock, which the
        # worker needs before it ever reaches its INSERT)
        blocker.execute(insert(RebateLedgerEntry.__table__).values(
            dealer_id=last_dealer, policy_id=policy_id, period_key=LQ, kind="settled", amount=D("1.00"),
            occurred_on=shanghai_today()))
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=worker_env,
                                  start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline, waiting = time.time() + 60, 0
            while time.time() < deadline and not waiting:
                with db.engine.connect() as conn:
                    waiting = conn.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'INSERT INTO rebate_ledger_entries%'")).scalar()
                time.sleep(0.2)
            assert waiting, "the worker never reached its INSERT"
        finally:
            doomed = [worker.pid] + [p.pid for p in psutil.Process(worker.pid).children(recursive=True)]
            for pid in doomed:
                os.kill(pid, signal.SIGKILL)
            worker.wait()
            blocker.rollback()
            blocker.close()
        time.sleep(1.5)
        with db.engine.connect() as conn:  # the dead worker's transaction is gone with it
            for _ in range(50):
                if not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                         "'INSERT INTO rebate_ledger_entries%' AND state <> 'idle'")).scalar():
                    break
                time.sleep(0.2)
        actions = jobs.sweep(db.engine, stale_after=1, lost_after=10**6)
    assert any(f"{world}/{job_id}: worker died" in a for a in actions), actions
    with as_tenant(world) as session:
        assert session.scalar(select(func.count()).select_from(RebateLedgerEntry)) == 0
    finisher = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"], cwd=ROOT,
                              env=worker_env, capture_output=True, text=True, timeout=120)
    assert finisher.returncode == 0, finisher.stderr[-2000:]
    with as_tenant(world) as session:
        from app.compliance.models import Job

        job = session.get(Job, job_id)
        assert (job.status, job.attempts) == ("done", 2)
        assert session.get(SettlementRun, run_id).status == "done"
        rows = ledger(session, LQ)
    assert sorted(d for _k, d, _c, _a, _p in rows) == sorted(codes)
    assert {k for k, *_ in rows} == {"settled"} and all(a == D("12000.00") for *_x, a, _p in rows)


def test_daily_accrual_requests_one_job_per_day_that_accrues_the_running_period(world, app, as_tenant, run_worker):
    from app.compliance.models import Job
    from app.core.db import db

    today = shanghai_today()
    with as_tenant(world) as session:
        volume_policy(session)
        order(session, "D-SH-002", today, [("CV-DES-3018", 70, "10000.00")], hour=0)     # 700,000 → 2 % = 14,000
    with app.app_context():
        lines = accrual.daily_accrual(db.engine)
        assert any(line.startswith(f"{world}: rebate accrual requested") for line in lines), lines
        assert accrual.daily_accrual(db.engine) == []                                  # once a day
    run_worker()
    with as_tenant(world) as session:
        job = session.scalar(select(Job).where(Job.request_id == f"rebates-accrue-{today.isoformat()}"))
        assert job.status == "done" and job.kind == "rebates.accrue"
        rows = session.scalars(select(RebateLedgerEntry).where(RebateLedgerEntry.kind == "accrued")).all()
        assert [(r.amount, r.period_key, r.ref_type, r.ref_id) for r in rows] == [
            (D("14000.00"), this_quarter(), "jobs", job.id)]
        assert rows[0].explanation["estimate"] is True and rows[0].explanation["next"]["gap"] == "300000.00"
        assert session.scalar(select(RebatePeriod.status).where(RebatePeriod.key == this_quarter())) == "open"


def test_conditions_of_a_dealer_with_nothing_counted_are_its_own(world, as_tenant):
    """The dealer page asks the conditions of a dealer the payout statement does not list
    (nothing bought yet): another dealer's late sell-out must not count against it."""
    _kind, start, _end = rules.parse_period(LQ)
    with as_tenant(world) as session:
        policy = session.get(RebatePolicy, volume_policy(session, conditions={
            "sell_out_on_time": {"effect": "gate"}, "qualifications_valid": {"effect": "gate"}}))
        delivered(session, "D-JS-001", start + timedelta(days=3))                  # never reported
        qualification(session, "D-JS-001", start + timedelta(days=5))
        window, today = bases.Window.of(LQ), shanghai_today()
        assert bases.conditions_met(session, policy, window, today, dealer(session, "D-SH-002").id) == {
            "sell_out_on_time": True, "qualifications_valid": True}
        assert bases.conditions_met(session, policy, window, today, dealer(session, "D-JS-001").id) == {
            "sell_out_on_time": False, "qualifications_valid": False}


def test_simulation_of_new_tiers_against_the_published_version(world, as_tenant):
    from app.channel.queries import ChannelScope
    from app.rebates import simulation

    with as_tenant(world) as session:
        v1 = session.get(RebatePolicy, volume_policy(session))
        order(session, "D-SH-002", day_in(LQ), [("CV-DES-3018", 125, "10000.00")])
        order(session, "D-JS-001", day_in(LQ), [("CV-NC-3012", 150, "5000.00")])
        draft = policies.revise(session, v1)
        policies.save_draft(session, dict(policies.form_values(draft), tiers=[
            {"from": "500000", "rate": "2"}, {"from": "700000", "rate": "3"}, {"from": "1200000", "rate": "4.5"}]), draft)
        assert simulation.same_base(draft, v1)  # only the tiers changed: one statement serves both sides
        sim = simulation.simulate(session, draft, ChannelScope(), period_key=LQ)
        east = simulation.simulate(session, draft, ChannelScope(region_paths=("/nowhere/",)), period_key=LQ)
    lines = {l.dealer_code: l for l in sim.lines}
    assert (lines["D-SH-002"].current.amount, lines["D-SH-002"].draft.amount) == (D("37500.00"), D("56250.00"))
    assert (lines["D-JS-001"].current.amount, lines["D-JS-001"].draft.amount) == (D("15000.00"), D("22500.00"))
    assert lines["D-JS-001"].tier_change == 1 and lines["D-SH-002"].difference == D("18750.00")
    assert (sim.total.current, sim.total.draft, sim.total.dealers) == (D("52500.00"), D("78750.00"), 2)
    assert [r.region for r in sim.regions] == ["华东"] and sim.regions[0].difference == D("26250.00")
    assert east.lines == [] and east.total.draft == 0  # a regional manager sees only their dealers
