"""After-sales at scale (issue 7): the maintenance calendar, the ticket queue, the region
view, escalation and recalls, in a throwaway tenant on the bench database (created,
filled set-based with generate_series, dropped afterwards unless BENCH_KEEP is set or
``--keep`` is given).

    python -m bench.service [--units 5000] [--plans 5000] [--tickets 100000] [--overdue 2000]
                            [--shipments 20000] [--sellout 100000] [--recall-lots 100] [--keep]

Figures, all in this run on the same data (times include the commit where something is
written; read figures are the median of 5 after one warm-up):

1. maintenance calendar: ``--plans`` plans (every 1, 3, 6 or 12 months, started up to a
   year ago or within the next month) on ``--units`` installed units and no visits yet.
   ``app.service.plans.extend_calendars`` the first time (visits added, seconds, plans
   it touched), again the same day (nothing to add), and the whole daily job
   (``daily_visits``: extend, reminders, overdue count) a month later.
2. tickets: ``--tickets`` tickets raised over the last year across the seven areas
   (four urgencies, ~2 % cancelled, about three quarters within their targets), of which
   ``--overdue`` are still open past their targets and 200 are recent and on time. The
   manufacturer queue's first page and its overdue-filtered first page
   (``tickets_page`` as admin), the region view of the 'service_times' page
   (``region_times``: 90 days, the page's default, and the whole year, with the per-area
   medians and shares within the SLA), and ``escalate_overdue`` raising the overdue
   tickets (three after-sales users, a regional manager per area, the admin: mail to
   each of the new level's people), then once more with nothing to raise.
3. recalls: 10,000 lots of 200 SKUs received into the central warehouse,
   ``--shipments`` shipments (three lines each, a third delivered straight to hospitals,
   a tenth still in transit) and ``--sellout`` sell-out lines of what dealers received;
   a campaign over ``--recall-lots`` lots (ranges of lots of a few SKUs). The live trace
   (``recall_queries.live_trace``: seconds, holdings) and the activation
   (``recalls.activate_campaign``: quarantine, frozen trace, notices and their mail; seconds,
   holdings, notices).

Ticket timelines (``ticket_events``) are not generated: no measured read uses them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from bench.common import bench_app
from bench.generate import generate

RECENT_TICKETS = 200


@contextmanager
def _tenant(app, slug: str, actor: str = "bench service"):
    """A pinned tenant session in one transaction, committed on leaving."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        tenant = by_slug(db.session, slug)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system(actor))
            yield session
        db.session.remove()


def _analyze(app, slug: str, tables) -> None:
    from app.core.db import db
    from tenants.registry import by_slug

    with app.app_context():
        schema = by_slug(db.session, slug).schema
        db.session.rollback()
        with db.engine.begin() as conn:  # statistics are the owner's job, not the tenant role's
            for table in tables:
                conn.execute(text(f'ANALYZE "{schema}".{table}'))
        db.session.remove()


def _median_ms(fn, repeat: int = 5) -> tuple[float, object]:
    fn()  # warm-up
    times, result = [], None
    for _i in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), result


# --- data --------------------------------------------------------------------------------------

def fill_staff(app, slug: str) -> None:
    """After-sales engineers, a regional manager per area (covering it), beside the admin."""
    with _tenant(app, slug) as session:
        run = session.execute
        run(text("INSERT INTO users (email, name, portal, roles) SELECT 'as' || i || '@bench.test', '售后工程师' || i, "
                 "'manufacturer', ARRAY['after_sales'] FROM generate_series(1, 3) AS i"))
        run(text("INSERT INTO users (email, name, portal, roles) SELECT 'rm-' || lower(r.code) || '@bench.test', "
                 "r.name || '区域经理', 'manufacturer', ARRAY['regional_manager'] FROM regions r WHERE r.level = 1"))
        run(text("INSERT INTO user_regions (user_id, region_id) SELECT u.id, r.id FROM regions r "
                 "JOIN users u ON u.email = 'rm-' || lower(r.code) || '@bench.test' WHERE r.level = 1"))


def fill_calendar(app, slug: str, units: int, plans: int) -> str:
    """Installed units at the hospitals, and one plan per unit (more plans: several per unit)."""
    t0 = time.perf_counter()
    with _tenant(app, slug) as session:
        run = session.execute
        run(text(
            "INSERT INTO installed_units (hospital_id, sku_id, serial_no, dealer_id, department, installed_on, "
            "warranty_start, warranty_end) "
            "SELECT h.first + (i * 7) % h.n, s.first + i % s.n, 'SN-B-' || lpad(i::text, 7, '0'), d.first + i % d.n, "
            "(ARRAY['放射科','检验科','心内科','手术室'])[1 + i % 4], CURRENT_DATE - 30 - (i * 13) % 1500, "
            "CURRENT_DATE - 30 - (i * 13) % 1500, CURRENT_DATE - 30 - (i * 13) % 1500 + 730 "
            "FROM generate_series(1, :n) AS i, (SELECT min(id) AS first, count(*) AS n FROM hospitals) h, "
            "(SELECT min(id) AS first, count(*) AS n FROM skus) s, (SELECT min(id) AS first, count(*) AS n FROM dealers) d"),
            {"n": units})
        run(text(
            "INSERT INTO service_plans (unit_id, name, interval_months, starts_on, checklist, engineer_id, dealer_id) "
            "SELECT u.first + i % u.n, '预防性维护 ' || i, (ARRAY[1, 3, 3, 6, 6, 12])[1 + i % 6], "
            "CURRENT_DATE - 365 + (i * 37) % 400, ARRAY['外观与附件检查', '电气安全测试', '性能校准', '软件版本'], "
            "(SELECT min(id) FROM users WHERE 'after_sales' = ANY(roles)), d.first + i % d.n "
            "FROM generate_series(1, :n) AS i, (SELECT min(id) AS first, count(*) AS n FROM installed_units) u, "
            "(SELECT min(id) AS first, count(*) AS n FROM dealers) d"), {"n": plans})
    _analyze(app, slug, ("installed_units", "service_plans", "service_visits", "users"))
    return f"{units:,} installed units and {plans:,} maintenance plans written in {time.perf_counter() - t0:.1f} s"


TICKETS = """
WITH base AS (
    SELECT i, h.id AS hospital_id, h.region_id,
           (ARRAY['critical', 'high', 'normal', 'normal', 'normal', 'low'])[1 + (i / 7) % 6] AS urgency,
           now() - make_interval(secs => CASE WHEN i > :n - :recent THEN (:n - i) * 240 ELSE (:n - i) * :step END) AS raised,
           CASE WHEN i > :n - :recent THEN 'recent'
                WHEN i % :ostep = 0 AND i / :ostep <= :overdue THEN 'overdue' ELSE 'closed' END AS kind
    FROM generate_series(1, :n) AS i JOIN hospitals h ON h.id = :h0 + (i * 11) % :hc
), targeted AS (
    SELECT b.*, CASE urgency WHEN 'critical' THEN 120 WHEN 'high' THEN 240 WHEN 'normal' THEN 480 ELSE 1440 END AS resp,
           CASE urgency WHEN 'critical' THEN 1440 WHEN 'high' THEN 2880 WHEN 'normal' THEN 7200 ELSE 14400 END AS res
    FROM base b
), timed AS (
    SELECT t.*,
           CASE kind WHEN 'recent' THEN CASE WHEN raised + interval '30 minutes' < now() THEN raised + interval '30 minutes' END
                     WHEN 'overdue' THEN CASE WHEN (i / :ostep) % 2 = 1 THEN raised + make_interval(mins => resp / 2) END
                     ELSE least(raised + make_interval(mins => 5 + abs(hashint4(i)) % (resp * 5 / 4)),
                                now() - interval '2 minutes') END AS responded,
           CASE WHEN kind = 'closed' AND i % 50 <> 7
                THEN least(raised + make_interval(mins => 5 + abs(hashint4(i)) % (resp * 5 / 4)
                                                          + abs(hashint4(i * 7 + 3)) % (res * 6 / 5)),
                           now() - interval '1 minute') END AS resolved
    FROM targeted t
)
INSERT INTO service_tickets (number, hospital_id, unit_id, region_id, raised_via, urgency, title, description, status,
                             warranty_standing, response_due_at, resolution_due_at, responded_at, resolved_at,
                             confirmed_at, rating, created_at, updated_at)
SELECT 'TK-B-' || lpad(i::text, 8, '0'), hospital_id, CASE WHEN :uc > 0 THEN :u0 + i % greatest(:uc, 1) END, region_id,
       'hospital', urgency, '设备故障 ' || i, '开机报警，无法完成自检',
       CASE kind WHEN 'recent' THEN CASE WHEN responded IS NULL THEN 'open' ELSE 'in_progress' END
                 WHEN 'overdue' THEN CASE WHEN responded IS NULL THEN 'open' ELSE 'in_progress' END
                 ELSE CASE WHEN i % 50 = 7 THEN 'cancelled' WHEN i % 5 = 1 THEN 'resolved' ELSE 'confirmed' END END,
       'unknown', raised + make_interval(mins => resp), raised + make_interval(mins => res), responded, resolved,
       CASE WHEN kind = 'closed' AND i % 50 <> 7 AND i % 5 <> 1 THEN least(resolved + interval '1 day', now()) END,
       CASE WHEN kind = 'closed' AND i % 50 <> 7 AND i % 5 <> 1 THEN 3 + abs(hashint4(i * 3)) % 3 END,
       raised, coalesce(resolved, responded, raised)
FROM timed
"""


def fill_tickets(app, slug: str, tickets: int, overdue: int) -> str:
    from app.compliance.operations import record_event

    t0 = time.perf_counter()
    with _tenant(app, slug) as session:
        h0, hc = session.execute(text("SELECT min(id), count(*) FROM hospitals")).one()
        u0, uc = session.execute(text("SELECT min(id), count(*) FROM installed_units")).one()
        older = max(1, tickets - RECENT_TICKETS)
        ostep = max(1, int(older * 0.9) // max(1, overdue))  # overdue ones raised well before their targets
        session.execute(text(TICKETS), {"n": tickets, "step": 365 * 86400 / tickets, "recent": RECENT_TICKETS,
                                        "ostep": ostep, "overdue": overdue, "h0": h0, "hc": hc, "u0": u0 or 0,
                                        "uc": uc})
        record_event(session, "bulk_generate", "tenants", slug, after={"service_tickets": tickets},
                     reason_text="bench service data")
    _analyze(app, slug, ("service_tickets", "hospitals", "regions"))
    return f"{tickets:,} service tickets over a year written in {time.perf_counter() - t0:.1f} s"


def fill_recalls(app, slug: str, shipments: int, sellout: int, lots_per_sku: int = 50, skus: int = 200) -> str:
    """Lots received into the central warehouse, orders shipped from it (to dealers, or
    straight to hospitals), and what the dealers reported selling to hospitals."""
    from app.compliance.operations import record_event

    t0 = time.perf_counter()
    with _tenant(app, slug) as session:
        run = session.execute
        run(text("INSERT INTO warehouses (code, name, kind) VALUES ('RW-HQ', '总仓', 'central')"))
        run(text("INSERT INTO lots (sku_id, lot_no, manufactured_on, expires_on) "
                 "SELECT s.id, 'R' || lpad(k::text, 4, '0'), DATE '2025-01-01' + k * 5, CURRENT_DATE + 200 + k * 10 "
                 "FROM (SELECT id FROM skus ORDER BY id LIMIT :skus) s, generate_series(1, :k) AS k"),
            {"skus": skus, "k": lots_per_sku})
        run(text("INSERT INTO stock_movements (kind, warehouse_id, lot_id, sku_id, to_state, quantity, reason) "
                 "SELECT 'receipt', w.id, l.id, l.sku_id, 'inspection', 2000, 'bench' FROM lots l, "
                 "(SELECT id FROM warehouses WHERE code = 'RW-HQ') w"))
        run(text("INSERT INTO stock_movements (kind, warehouse_id, lot_id, sku_id, from_state, to_state, quantity, reason) "
                 "SELECT 'qc_release', warehouse_id, lot_id, sku_id, 'inspection', 'available', quantity, 'bench' "
                 "FROM stock_movements WHERE kind = 'receipt'"))
        d0, dc = run(text("SELECT min(id), count(*) FROM dealers")).one()
        h0, hc = run(text("SELECT min(id), count(*) FROM hospitals")).one()
        run(text(
            "INSERT INTO orders (number, kind, dealer_id, hospital_id, status, submitted_at, total_amount) "
            "SELECT 'SO-S-' || lpad(i::text, 8, '0'), 'standard', :d0 + i % :dc, :h0 + (i * 7) % :hc, "
            "CASE WHEN i % 10 = 0 THEN 'shipped' ELSE 'delivered' END, now() - make_interval(hours => :n - i), 0 "
            "FROM generate_series(1, :n) AS i"), {"n": shipments, "d0": d0, "dc": dc, "h0": h0, "hc": hc})
        run(text(
            "INSERT INTO order_lines (order_id, line_no, sku_id, quantity, unit_price, amount, tax_rate, "
            "shipped_quantity, delivered_quantity) "
            "SELECT o.id, k, l.sku_id, 5 + (o.id + k) % 10, 500, (5 + (o.id + k) % 10) * 500, 0.13, 5 + (o.id + k) % 10, "
            "CASE WHEN o.status = 'delivered' THEN 5 + (o.id + k) % 10 ELSE 0 END "
            "FROM orders o CROSS JOIN generate_series(1, 3) AS k "
            "JOIN lots l ON l.id = (SELECT min(id) FROM lots) + abs(hashint4(o.id::int * 3 + k)) % (SELECT count(*) FROM lots) "
            "WHERE o.number LIKE 'SO-S-%'"))
        run(text("UPDATE orders o SET total_amount = t.total FROM (SELECT order_id, sum(amount) AS total "
                 "FROM order_lines GROUP BY order_id) t WHERE t.order_id = o.id AND o.number LIKE 'SO-S-%'"))
        run(text(
            "INSERT INTO shipments (number, order_id, dealer_id, hospital_id, ship_to, warehouse_id, status, carrier, "
            "tracking_no, shipped_at, eta, delivered_at) "
            "SELECT 'SH-S-' || lpad(o.id::text, 8, '0'), o.id, o.dealer_id, o.hospital_id, "
            "CASE WHEN o.id % 3 = 0 THEN 'hospital' ELSE 'dealer' END, (SELECT id FROM warehouses WHERE code = 'RW-HQ'), "
            "o.status, '顺丰速运', 'SF' || (1500000000 + o.id), o.submitted_at + interval '1 hour', "
            "(o.submitted_at + interval '3 days')::date, "
            "CASE WHEN o.status = 'delivered' THEN o.submitted_at + interval '2 days' END "
            "FROM orders o WHERE o.number LIKE 'SO-S-%'"))
        run(text(
            "INSERT INTO shipment_lines (shipment_id, order_line_id, sku_id, lot_id, quantity, received_quantity) "
            "SELECT s.id, ol.id, ol.sku_id, l.id, ol.quantity, CASE WHEN s.status = 'delivered' THEN ol.quantity END "
            "FROM shipments s JOIN order_lines ol ON ol.order_id = s.order_id "
            "JOIN lots l ON l.sku_id = ol.sku_id AND l.id = (SELECT min(id) FROM lots) "
            "+ abs(hashint4(s.order_id::int * 3 + ol.line_no)) % (SELECT count(*) FROM lots) "
            "WHERE s.number LIKE 'SH-S-%'"))
        # the units leave the warehouse as shipped (the ledger trigger keeps the balances)
        run(text(
            "INSERT INTO stock_movements (kind, warehouse_id, lot_id, sku_id, from_state, quantity, reason) "
            "SELECT 'shipment', s.warehouse_id, sl.lot_id, sl.sku_id, 'available', sum(sl.quantity), 'bench' "
            "FROM shipment_lines sl JOIN shipments s ON s.id = sl.shipment_id WHERE s.number LIKE 'SH-S-%' "
            "GROUP BY s.warehouse_id, sl.lot_id, sl.sku_id"))
        # dealers report selling what they received, a unit or two a line
        run(text(
            "INSERT INTO sell_out_lines (dealer_id, sold_on, hospital_id, sku_id, lot_id, quantity, unit_price, source) "
            "SELECT s.dealer_id, (s.delivered_at + make_interval(days => 1 + k))::date, :h0 + (sl.id * 13 + k) % :hc, "
            "sl.sku_id, sl.lot_id, 1 + k % 2, 800, 'import' "
            "FROM shipment_lines sl JOIN shipments s ON s.id = sl.shipment_id CROSS JOIN generate_series(1, 8) AS k "
            "WHERE s.number LIKE 'SH-S-%' AND s.ship_to = 'dealer' AND s.status = 'delivered' "
            "AND k * 3 <= sl.received_quantity * 2 ORDER BY sl.id, k LIMIT :n"), {"n": sellout, "h0": h0, "hc": hc})
        lines = run(text("SELECT count(*) FROM shipment_lines")).scalar()
        sold = run(text("SELECT count(*) FROM sell_out_lines")).scalar()
        record_event(session, "bulk_generate", "tenants", slug,
                     after={"shipments": shipments, "shipment_lines": lines, "sell_out_lines": sold},
                     reason_text="bench recall data")
    _analyze(app, slug, ("lots", "stock_movements", "stock_balances", "orders", "order_lines", "shipments",
                         "shipment_lines", "sell_out_lines", "warehouses"))
    return (f"{skus * lots_per_sku:,} lots, {shipments:,} shipments ({lines:,} lines) and {sold:,} sell-out lines "
            f"written in {time.perf_counter() - t0:.1f} s")


# --- 1. the maintenance calendar ---------------------------------------------------------------

def calendar(app, slug: str) -> list[str]:
    from app.core.i18n import shanghai_today
    from app.service import plans
    from app.service.rules import add_months

    touched = []
    generate_visits = plans.generate_visits

    def counting(session, plan, today=None, since=None):
        touched.append(plan.id)
        return generate_visits(session, plan, today, since)

    today = shanghai_today()
    out = []
    plans.generate_visits = counting  # extend_calendars looks it up in its module: count the plans it touches
    try:
        for label, day in (("first extension", today), ("same day again, nothing to add", today)):
            touched.clear()
            t0 = time.perf_counter()
            with _tenant(app, slug, "maintenance calendar") as session:
                added, overdue = plans.extend_calendars(session, day)
            seconds = time.perf_counter() - t0
            out.append(f"calendar, {label}: {seconds:.3f} s, {added:,} visits added, {len(touched):,} plans touched, "
                       f"{overdue:,} overdue")
        later = add_months(today, 1)
        touched.clear()
        t0 = time.perf_counter()
        with _tenant(app, slug, "maintenance calendar") as session:
            message = plans.daily_visits.per_tenant(session, later)
            visits = session.scalar(text("SELECT count(*) FROM service_visits"))
        seconds = time.perf_counter() - t0
        out.append(f"calendar, the daily job a month later ({later}): {seconds:.3f} s, {len(touched):,} plans touched: "
                   f"{message or 'nothing to do'}; {visits:,} visits on the calendar")
    finally:
        plans.generate_visits = generate_visits
    return out


# --- 2. tickets ----------------------------------------------------------------------------------

def tickets(app, slug: str) -> list[str]:
    from sqlalchemy import select

    from app.core.i18n import shanghai_today
    from app.identity.models import User
    from app.service import tickets as tk

    out = []
    today = shanghai_today()
    now = datetime.now(timezone.utc)
    with _tenant(app, slug) as session:
        admin = session.scalar(select(User).where(User.email == "admin@bench.test"))
        active = session.scalar(text("SELECT count(*) FROM service_tickets WHERE status IN ('open','assigned','in_progress')"))
        ms, page = _median_ms(lambda: tk.tickets_page(session, admin, None, now=now))
        out.append(f"manufacturer queue, first page ({len(page.items)} of {active:,} active tickets): {ms:.1f} ms")
        ms, page = _median_ms(lambda: tk.tickets_page(session, admin, None, overdue=True, now=now))
        out.append(f"manufacturer queue, overdue only, first page ({len(page.items)} rows): {ms:.1f} ms")
        for label, since in (("90 days (the page's default)", today - timedelta(days=89)),
                             ("the whole year", today - timedelta(days=365))):
            ms, rows = _median_ms(lambda since=since: tk.region_times(session, admin, since, today, now))
            counted = sum(r["tickets"] for r in rows)
            out.append(f"region view, {label}: {ms:.1f} ms ({len(rows)} areas, {counted:,} tickets)")
        for r in rows:
            out.append(f"    {r['name_en']}: {r['tickets']:,} tickets, median response {r['median_response']:.0f} min, "
                       f"resolution {r['median_resolution']:.0f} min; within SLA {r['response_pct']} % (response), "
                       f"{r['resolution_pct']} % (resolution)")
        session.rollback()
    for label in ("escalation", "escalation again"):
        t0 = time.perf_counter()
        with _tenant(app, slug, "ticket escalation") as session:
            raised = tk.escalate_overdue(session, datetime.now(timezone.utc))
            mails = session.scalar(text("SELECT count(*) FROM outbox_messages WHERE kind = 'ticket_escalated'"))
        seconds = time.perf_counter() - t0
        out.append(f"{label}: {seconds:.3f} s, {raised:,} tickets raised a level, {mails:,} escalation mails queued in all")
    return out


# --- 3. recalls ----------------------------------------------------------------------------------

def recalls(app, slug: str, recall_lots: int, lots_per_sku: int = 50) -> list[str]:
    from sqlalchemy import select

    from app.identity.models import User
    from app.service import recall_queries as q
    from app.service import recalls as rc

    out = []
    skus = max(1, -(-recall_lots // lots_per_sku))
    with _tenant(app, slug) as session:
        admin = session.scalar(select(User).where(User.email == "admin@bench.test"))
        # the SKUs whose lots were shipped most, so the campaign reaches many holders
        sku_ids = list(session.scalars(text("SELECT sku_id FROM shipment_lines GROUP BY sku_id ORDER BY count(*) DESC "
                                            "LIMIT :k"), {"k": skus}))
        lines, left = [], recall_lots
        for sku_id in sku_ids:
            k = min(left, lots_per_sku)
            lines.append({"sku_id": str(sku_id), "kind": "range", "lot_no": "R0001", "lot_to": f"R{k:04d}"})
            left -= k
        campaign = rc.create_campaign(session, admin, {
            "title": "基准召回", "reason": "灭菌批记录偏差", "classification": "2", "actions_required": "停止使用并退回",
            "lines": lines})
        campaign_id = campaign.id
        lots = len(q.affected_lots(session, campaign_id))
    with _tenant(app, slug) as session:
        ms, traced = _median_ms(lambda: q.live_trace(session, campaign_id), repeat=3)
        units = sum(h.quantity for h in traced)
        session.rollback()
    out.append(f"recall over {lots} lots of {len(sku_ids)} SKUs, live trace: {ms:.0f} ms (median of 3), "
               f"{len(traced):,} holdings, {units:,} units")
    t0 = time.perf_counter()
    with _tenant(app, slug) as session:
        admin = session.scalar(select(User).where(User.email == "admin@bench.test"))
        campaign = rc.activate_campaign(session, q.campaign(session, campaign_id), admin)
        facts = session.info["recall_activation"][campaign_id]
        notices = session.scalar(text("SELECT count(*) FROM recall_notices WHERE campaign_id = :c"), {"c": campaign_id})
        mails = session.scalar(text("SELECT count(*) FROM outbox_messages WHERE kind LIKE 'recall_notice%'"))
    seconds = time.perf_counter() - t0
    out.append(f"activation: {seconds:.3f} s, {facts['holdings']:,} holdings frozen, {notices:,} notices "
               f"({mails:,} mails and SMS queued), {facts['quarantined']:,} units quarantined")
    return out


def run(units: int = 5000, plans: int = 5000, tickets_n: int = 100_000, overdue: int = 2000,
        shipments: int = 20_000, sellout: int = 100_000, recall_lots: int = 100, keep: bool = False) -> list[str]:
    from app.core.db import db
    from tenants.provisioning import drop_tenant

    app = bench_app()
    slug = "sv" + uuid.uuid4().hex[:8]
    out = [generate(app, slug, dealers=500, hospitals=3000, skus=2000)]
    try:
        fill_staff(app, slug)
        out.append(fill_calendar(app, slug, units, plans))
        out += calendar(app, slug)
        out.append(fill_tickets(app, slug, tickets_n, overdue))
        out += tickets(app, slug)
        out.append(fill_recalls(app, slug, shipments, sellout))
        out += recalls(app, slug, recall_lots)
    finally:
        if not (keep or os.environ.get("BENCH_KEEP")):
            with app.app_context():
                drop_tenant(db.engine, slug)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--plans", type=int, default=5000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--overdue", type=int, default=2000)
    parser.add_argument("--shipments", type=int, default=20_000)
    parser.add_argument("--sellout", type=int, default=100_000)
    parser.add_argument("--recall-lots", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the throwaway tenant (or set BENCH_KEEP)")
    args = parser.parse_args()
    for line in run(args.units, args.plans, args.tickets, args.overdue, args.shipments, args.sellout,
                    args.recall_lots, args.keep):
        print(line, flush=True)


if __name__ == "__main__":
    main()
