"""Rebate settlement at scale: 1,000,000 order lines of 500 dealers in the last ended
quarter, in a throwaway tenant (created, filled set-based, dropped afterwards).

    python -m bench.rebates [--lines 1000000] [--dealers 500] [--keep]

Figures, all in this run on the same data:

* the bare floor: one ``INSERT … SELECT`` computing every dealer's tiered payout over
  the same lines (same window, statuses, free-goods and product-line filters), into a
  temporary table — the statement the issue measured at 0.26 s;
* the settlement (``app.rebates.settlement.settle`` for the quarter, one policy, in one
  transaction: the payout statement, the rules check per dealer, the ledger comparison,
  the bulk insert, the audit event, commit) in a child process, with that process's
  peak RSS (``getrusage``: the Python process only; the PostgreSQL backend is a separate
  process and is **not** counted — its own high-water mark is printed beside it), and
  the ratio to the bare statement;
* a second settlement of the same period (nothing changed: nothing written), one after
  10,000 more lines (adjustments only), one with two more policies stacked (an
  incremental volume policy for agents and a growth policy), and the what-if
  simulation of a draft (the page runs it inline).

Targets: settlement ≤ 3 s and ≤ 300 MB peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta

from sqlalchemy import text

from bench.common import ROOT, bench_app
from bench.generate import generate

ORDER_STATUSES = "ARRAY['closed','delivered','delivered','shipped','allocated','approved','closed','cancelled','pending_approval','closed']"
TIERS = [{"from": "1000000", "rate": "2"}, {"from": "2000000", "rate": "3"}, {"from": "4000000", "rate": "4"}]


def _session(app, slug):
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    tenant = by_slug(db.session, slug)
    db.session.rollback()
    ctx = tenant_session(db.session, tenant)
    session = ctx.__enter__()
    set_context(session, Actor.system("bench rebates"))
    return ctx, session, tenant


def fill(app, slug: str, lines: int, key: str) -> str:
    """Orders and lines of every dealer across the quarter ``key`` (5 lines an order;
    a tenth of the orders not accepted, one line in fifty free goods), the policy."""
    from app.catalog.models import ProductLine
    from app.compliance.operations import record_event
    from app.core.db import db
    from app.rebates import policies, rules
    from sqlalchemy import select

    _kind, start, end = rules.parse_period(key)
    with app.app_context():
        ctx, session, tenant = _session(app, slug)
        try:
            t0 = time.perf_counter()
            per_order = 5
            orders = lines // per_order
            dealers = session.execute(text("SELECT min(id), count(*) FROM dealers")).one()
            span = (end - start).days * 86400 + 86399  # seconds in the quarter
            # dealer volumes differ: the first fifth of the dealers buys about three times as much
            session.execute(text(
                "INSERT INTO orders (number, kind, dealer_id, status, submitted_at, total_amount) "
                "SELECT 'SO-R-' || lpad(i::text, 8, '0'), 'standard', "
                "CASE WHEN i % 3 = 0 THEN :d0 + (i / 3) % (:dc / 5) ELSE :d0 + (i * 7) % :dc END, "
                f"({ORDER_STATUSES})[1 + abs(hashint4(i)) % 10], "
                "(CAST(:start AS date)::timestamp AT TIME ZONE 'Asia/Shanghai') + make_interval(secs => (i * 7919) % :span), 0 "
                "FROM generate_series(1, :n) AS i"),
                {"d0": dealers[0], "dc": dealers[1], "start": start, "span": span, "n": orders})
            session.execute(text(
                "INSERT INTO order_lines (order_id, line_no, sku_id, quantity, unit_price, amount, tax_rate, free_goods) "
                "SELECT o, k, s.first + (o * 7 + k * 13) % s.n, 1 + (o + k) % 10, "
                "CASE WHEN (o + k) % 50 = 0 THEN 0 ELSE 100 + (o * 31 + k) % 900 + ((o + k) % 100) / 100.0 END, "
                "CASE WHEN (o + k) % 50 = 0 THEN 0 ELSE (1 + (o + k) % 10) * (100 + (o * 31 + k) % 900 + ((o + k) % 100) / 100.0) END, "
                "0.13, (o + k) % 50 = 0 "
                "FROM (SELECT id AS o FROM orders) AS ord, generate_series(1, :k) AS k, "
                "(SELECT min(id) AS first, count(*) AS n FROM skus) AS s"), {"k": per_order})
            session.execute(text("UPDATE orders o SET total_amount = t.total FROM (SELECT order_id, sum(amount) AS total "
                                 "FROM order_lines GROUP BY order_id) t WHERE t.order_id = o.id"))
            record_event(session, "bulk_generate", "tenants", slug, after={"orders": orders, "order_lines": lines},
                         reason_text="bench rebates data")
            cv = session.scalar(select(ProductLine.id).where(ProductLine.code == "CV"))
            draft = policies.save_draft(session, dict(
                code="BENCH-VOL", name="基准季度采购返利", period="quarter", kind="volume", basis="purchase",
                method="retroactive", valid_from=start, tiers=TIERS, product_line_ids=[cv], priority=10,
                expires_after_days=365))
            policies.publish(session, draft, None)
            generated = time.perf_counter() - t0
            ctx.__exit__(None, None, None)
        except BaseException as exc:
            ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        with db.engine.begin() as conn:
            for table in ("orders", "order_lines", "skus", "dealers", "rebate_policies"):
                conn.execute(text(f'ANALYZE "{tenant.schema}".{table}'))
        db.session.remove()
    return f"{slug}: {orders:,} orders / {lines:,} order lines in {key} generated in {generated:.1f} s"


BARE = """
INSERT INTO bare_payouts (dealer_id, base, amount)
SELECT o.dealer_id, sum(ol.amount),
       round(sum(ol.amount) * CASE WHEN sum(ol.amount) >= 4000000 THEN 0.04 WHEN sum(ol.amount) >= 2000000 THEN 0.03
                                   WHEN sum(ol.amount) >= 1000000 THEN 0.02 ELSE 0 END, 2)
FROM order_lines ol JOIN orders o ON o.id = ol.order_id
WHERE o.submitted_at >= :from_ AND o.submitted_at < :to_
  AND o.status NOT IN ('pending_approval', 'rejected', 'cancelled') AND NOT ol.free_goods
  AND ol.sku_id IN (SELECT id FROM skus WHERE product_line_id = :cv)
GROUP BY o.dealer_id
"""


def bare(app, slug: str, key: str, repeat: int = 3) -> tuple[float, int]:
    """Median seconds of the bare INSERT … SELECT (after one warm-up), and its rows."""
    from app.rebates import rules
    from app.rebates.bases import shanghai_start

    _kind, start, end = rules.parse_period(key)
    times, rows = [], 0
    with app.app_context():
        ctx, session, _tenant = _session(app, slug)
        cv = session.scalar(text("SELECT id FROM product_lines WHERE code = 'CV'"))
        session.execute(text("CREATE TEMP TABLE bare_payouts (dealer_id bigint, base numeric, amount numeric) "
                             "ON COMMIT DELETE ROWS"))
        params = {"from_": shanghai_start(start), "to_": shanghai_start(end + timedelta(days=1)), "cv": cv}
        for i in range(repeat + 1):
            session.execute(text("DELETE FROM bare_payouts"))
            t0 = time.perf_counter()
            rows = session.execute(text(BARE), params).rowcount
            if i:
                times.append(time.perf_counter() - t0)
        session.rollback()
        ctx.__exit__(None, None, None)
    return statistics.median(times), rows


def _child(slug: str, key: str, what: str) -> dict:
    """Run one timed step in a fresh process: its wall time and peak RSS."""
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-m", "bench.rebates", "--child", what, "--slug", slug, "--period", key],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def _backend_peak_mib(session) -> float | None:
    """The PostgreSQL backend's resident high-water mark (VmHWM; it includes the shared
    buffers it touched), where /proc lets us read it."""
    pid = session.scalar(text("SELECT pg_backend_pid()"))
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def child(slug: str, key: str, what: str) -> None:
    """The timed step, in this (fresh) process; prints one JSON line."""
    from app.core.i18n import shanghai_today

    app = bench_app()
    with app.app_context():
        from app.channel.queries import ChannelScope
        from app.rebates import policies, settlement, simulation
        from app.rebates.models import RebatePolicy
        from sqlalchemy import select

        ctx, session, _tenant = _session(app, slug)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out: dict = {}
        t0 = time.perf_counter()
        if what == "settle":
            summary = settlement.settle(session, key, None, shanghai_today())
            backend = _backend_peak_mib(session)
            ctx.__exit__(None, None, None)  # commit
            out.update(settled=summary.settled, adjusted=summary.adjusted, policies=summary.policies,
                       dealers=summary.dealers, total=str(summary.period_total), backend_mib=backend)
        elif what == "dealer":
            from app.channel.models import Dealer
            from app.rebates import explain

            heaviest = session.scalar(text(
                "SELECT o.dealer_id FROM orders o GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"))
            dealer = session.get(Dealer, heaviest)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                views = explain.dealer_views(session, dealer, key, shanghai_today())
                explain.base_lines(session, dealer.id, views[0].policy, views[0].window, None)
                times.append(time.perf_counter() - t0)
            out.update(policies=len(views), median_ms=1000 * statistics.median(times))
            session.rollback()
            ctx.__exit__(None, None, None)
        elif what == "simulate":
            v1 = session.scalar(select(RebatePolicy).where(RebatePolicy.code == "BENCH-VOL",
                                                           RebatePolicy.status == "published"))
            draft = policies.revise(session, v1)
            draft.tiers = [{"from": "1000000.00", "rate": "0.0200"}, {"from": "1500000.00", "rate": "0.0300"},
                           {"from": "3000000.00", "rate": "0.0450"}]
            session.flush()
            t0 = time.perf_counter()
            sim = simulation.simulate(session, draft, ChannelScope(), period_key=key)
            out.update(dealers=len(sim.lines), current=str(sim.total.current), draft=str(sim.total.draft))
            ctx.__exit__(None, None, None)
        out["seconds"] = time.perf_counter() - t0
        out["rss_before_mib"] = rss_before
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _more_lines(app, slug: str, key: str, n: int = 10_000) -> None:
    """n more order lines for 50 dealers in the period (a late batch of orders)."""
    from app.rebates import rules

    _kind, start, _end = rules.parse_period(key)
    with app.app_context():
        ctx, session, _tenant = _session(app, slug)
        d0 = session.scalar(text("SELECT min(id) FROM dealers"))
        session.execute(text(
            "WITH o AS (INSERT INTO orders (number, kind, dealer_id, status, submitted_at, total_amount) "
            "SELECT 'SO-L-' || lpad(i::text, 8, '0'), 'standard', :d0 + i % 50, 'closed', "
            "(CAST(:start AS date)::timestamp AT TIME ZONE 'Asia/Shanghai') + interval '20 days', 0 "
            "FROM generate_series(1, :orders) AS i RETURNING id) "
            "INSERT INTO order_lines (order_id, line_no, sku_id, quantity, unit_price, amount, tax_rate) "
            "SELECT o.id, k, (SELECT min(s.id) FROM skus s JOIN product_lines p ON p.id = s.product_line_id "
            "WHERE p.code = 'CV'), 2, 1500.00, 3000.00, 0.13 FROM o, generate_series(1, 5) AS k"),
            {"d0": d0, "start": start, "orders": n // 5})
        ctx.__exit__(None, None, None)


def _more_policies(app, slug: str, key: str) -> None:
    from app.rebates import policies, rules

    _kind, start, _end = rules.parse_period(key)
    with app.app_context():
        ctx, session, _tenant = _session(app, slug)
        for values in (
            dict(code="BENCH-AGENT", name="代理商分段累进", kind="volume", method="incremental", dealer_tiers=["agent"],
                 tiers=TIERS, priority=20),
            dict(code="BENCH-GROWTH", name="同比增长返利", kind="growth", method="retroactive", priority=30,
                 tiers=[{"from": "10", "rate": "1"}, {"from": "20", "rate": "2"}])):
            draft = policies.save_draft(session, dict(values, period="quarter", basis="purchase", valid_from=start))
            policies.publish(session, draft, None)
        ctx.__exit__(None, None, None)


def run(lines: int = 1_000_000, dealers: int = 500, keep: bool = False) -> list[str]:
    from app.core.db import db
    from app.core.i18n import shanghai_today
    from app.rebates import rules
    from tenants.provisioning import drop_tenant

    app = bench_app()
    key = rules.shift_key(rules.period_key("quarter", shanghai_today()), -1)
    slug = "rb" + uuid.uuid4().hex[:8]
    out = [generate(app, slug, dealers=dealers, hospitals=300, skus=2000), fill(app, slug, lines, key)]
    try:
        bare_s, bare_rows = bare(app, slug, key)
        first = _child(slug, key, "settle")
        bare_after, _rows = bare(app, slug, key)
        floor = min(bare_s, bare_after)
        out.append(f"bare INSERT … SELECT of the tiered payouts ({bare_rows} dealers): {bare_s:.3f} s before, "
                   f"{bare_after:.3f} s after the settlement (median of 3 each)")
        out.append(f"settlement of {key}, 1 policy, {first['dealers']} dealers, {first['settled']} settled rows: "
                   f"{first['seconds']:.3f} s = {first['seconds'] / floor:.1f}× the bare statement; "
                   f"peak RSS {first['peak_rss_mib']:.0f} MiB (the Python process; {first['rss_before_mib']:.0f} MiB "
                   f"of it is the application loaded before settling; the PostgreSQL backend is not counted: its own "
                   f"high-water mark was {first['backend_mib'] or 0:.0f} MiB, shared buffers included)")
        again = _child(slug, key, "settle")
        out.append(f"settled again, nothing changed: {again['seconds']:.3f} s, {again['settled']} settled / "
                   f"{again['adjusted']} adjusted rows written")
        _more_lines(app, slug, key)
        adjusted = _child(slug, key, "settle")
        out.append(f"after 10,000 more lines for 50 dealers: {adjusted['seconds']:.3f} s, {adjusted['adjusted']} "
                   f"adjustment rows, {adjusted['settled']} settled rows")
        _more_policies(app, slug, key)
        stacked = _child(slug, key, "settle")
        out.append(f"with 3 policies (retroactive, incremental for agents, growth): {stacked['seconds']:.3f} s, "
                   f"{stacked['settled']} first settlements of the new policies, peak RSS {stacked['peak_rss_mib']:.0f} MiB")
        page = _child(slug, key, "dealer")
        out.append(f"the heaviest dealer's why-page figures ({page['policies']} policies computed live, and the first "
                   f"page of the lines behind the base): {page['median_ms']:.0f} ms median of 5")
        sim = _child(slug, key, "simulate")
        out.append(f"what-if simulation of a draft against the published version ({sim['dealers']} dealers): "
                   f"{sim['seconds']:.3f} s — inline in the page")
        out.append("targets: settlement <= 3 s and <= 300 MB peak RSS")
    finally:
        if not keep:
            with app.app_context():
                drop_tenant(db.engine, slug)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--dealers", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="keep the throwaway tenant")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--slug", help=argparse.SUPPRESS)
    parser.add_argument("--period", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.slug, args.period, args.child)
        return
    for line in run(args.lines, args.dealers, args.keep):
        print(line, flush=True)


if __name__ == "__main__":
    main()
