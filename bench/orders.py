"""Orders and stock at scale: 1,000,000 order lines and 50,000 lots on the bench tenant,
then the dealer's order list, the manufacturer's stock overview and the hospital's
delivery page under concurrent load against /healthz.

    python -m bench.orders [--lines 1000000] [--lots 50000] [--seconds 10] [--connections 16]

The generator is set-based (INSERT … SELECT over generate_series; the ledger trigger keeps
stock balances as it would for real receipts) and runs once: a second run reuses the data.
One dealer and one hospital are deliberately heavy (5 % of all orders, 2 % of all
shipments) so the figures are for the worst account, not the average one.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
from sqlalchemy import text

from bench.common import ROOT, bench_app
from bench.generate import generate
from bench.http import _ensure_wrk, _free_port, _sign_in, _wrk

SLUG = "bench"
PASSWORD = "MedChannel-demo-1"


def fill(app, lines: int = 1_000_000, lots: int = 50_000) -> str:
    from app.compliance.operations import Actor, record_event, set_context
    from app.core.db import db
    from app.identity.operations import hash_password
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("bench generator"))
            if session.scalar(text("SELECT count(*) FROM order_lines")):
                n = session.scalar(text("SELECT count(*) FROM order_lines"))
                return f"{SLUG}: {n:,} order lines already there"
            t0 = time.perf_counter()
            run = session.execute
            run(text("INSERT INTO warehouses (code, name, kind, region_id) "
                     "SELECT 'BW-' || r.code, r.name || '区域仓', 'regional', r.id FROM regions r WHERE r.level = 1"))
            run(text("INSERT INTO warehouses (code, name, kind) VALUES ('BW-HQ', '总仓', 'central')"))
            run(text("INSERT INTO dealer_warehouses (dealer_id, warehouse_id) "
                     "SELECT d.id, w.id FROM dealers d JOIN warehouses w ON w.region_id = d.region_id "
                     "UNION ALL SELECT d.id, (SELECT id FROM warehouses WHERE code = 'BW-HQ') FROM dealers d"))
            run(text("UPDATE skus SET status = 'active', tracking = 'lot', shelf_life_months = 36"))
            # lots: spread over SKUs, expiring over the next three years (some soon)
            run(text("INSERT INTO lots (sku_id, lot_no, manufactured_on, expires_on) "
                     "SELECT s.id, 'B' || lpad(i::text, 7, '0'), DATE '2025-01-01' + (i % 300), "
                     "CURRENT_DATE + 10 + (i * 7919) % 1000 "
                     "FROM generate_series(1, :n) AS i "
                     "JOIN LATERAL (SELECT id FROM skus ORDER BY id OFFSET (i % (SELECT count(*) FROM skus)) LIMIT 1) s ON true"),
                {"n": lots})
            # receive every lot into one warehouse, release 90 % of it, leave the rest in inspection
            run(text("INSERT INTO stock_movements (kind, warehouse_id, lot_id, sku_id, to_state, quantity, reason) "
                     "SELECT 'receipt', w.id, l.id, l.sku_id, 'inspection', 100 + l.id % 400, 'bench' "
                     "FROM lots l JOIN LATERAL (SELECT id FROM warehouses ORDER BY id "
                     "OFFSET (l.id % (SELECT count(*) FROM warehouses)) LIMIT 1) w ON true"))
            run(text("INSERT INTO stock_movements (kind, warehouse_id, lot_id, sku_id, from_state, to_state, quantity, reason) "
                     "SELECT 'qc_release', m.warehouse_id, m.lot_id, m.sku_id, 'inspection', 'available', m.quantity, 'bench' "
                     "FROM stock_movements m WHERE m.kind = 'receipt' AND m.lot_id % 10 <> 0"))
            t_stock = time.perf_counter() - t0
            per_order = 5
            orders = lines // per_order
            heavy_dealer = session.scalar(text("SELECT min(id) FROM dealers"))
            heavy_hospital = session.scalar(text("SELECT min(id) FROM hospitals"))
            dealer_count = session.scalar(text("SELECT count(*) FROM dealers"))
            hospital_count = session.scalar(text("SELECT count(*) FROM hospitals"))
            run(text(
                "INSERT INTO orders (number, kind, dealer_id, hospital_id, status, submitted_at, total_amount) "
                "SELECT 'SO-B-' || lpad(i::text, 8, '0'), 'standard', "
                "CASE WHEN i % 20 = 0 THEN :hd ELSE :hd + i % :dc END, "
                "CASE WHEN i % 50 = 0 THEN :hh ELSE :hh + i % :hc END, "
                "(ARRAY['delivered','delivered','delivered','shipped','allocated','approved','closed'])[1 + i % 7], "
                "now() - make_interval(mins => (:n - i) * 3), 0 "
                "FROM generate_series(1, :n) AS i"),
                {"n": orders, "hd": heavy_dealer, "dc": dealer_count, "hh": heavy_hospital, "hc": hospital_count})
            run(text(
                "INSERT INTO order_lines (order_id, line_no, sku_id, quantity, unit_price, amount, tax_rate, "
                "shipped_quantity, delivered_quantity) "
                "SELECT o, k, 1 + (o * 7 + k * 13) % :skus, 1 + (o + k) % 10, 100 + (o + k) % 900, "
                "(1 + (o + k) % 10) * (100 + (o + k) % 900), 0.13, 1 + (o + k) % 10, 1 + (o + k) % 10 "
                "FROM (SELECT id AS o FROM orders) AS ord, generate_series(1, :k) AS k"),
                {"k": per_order, "skus": session.scalar(text("SELECT count(*) FROM skus"))})
            run(text("UPDATE orders o SET total_amount = t.total FROM "
                     "(SELECT order_id, sum(amount) AS total FROM order_lines GROUP BY order_id) t WHERE t.order_id = o.id"))
            run(text(
                "INSERT INTO shipments (number, order_id, dealer_id, hospital_id, ship_to, warehouse_id, status, carrier, tracking_no, "
                "shipped_at, eta, delivered_at) "
                "SELECT 'SH-B-' || lpad(o.id::text, 8, '0'), o.id, o.dealer_id, o.hospital_id, "
                "CASE WHEN o.id % 2 = 0 THEN 'hospital' ELSE 'dealer' END, "
                "(SELECT id FROM warehouses WHERE code = 'BW-HQ'), "
                "CASE WHEN o.status IN ('delivered', 'closed') THEN 'delivered' ELSE 'shipped' END, '顺丰速运', "
                "'SF' || (1400000000 + o.id), o.submitted_at + interval '1 day', (o.submitted_at + interval '3 days')::date, "
                "CASE WHEN o.status IN ('delivered', 'closed') THEN o.submitted_at + interval '3 days' END "
                "FROM orders o WHERE o.status IN ('shipped', 'delivered', 'closed')"))
            run(text(
                "INSERT INTO shipment_lines (shipment_id, order_line_id, sku_id, lot_id, quantity, received_quantity) "
                "SELECT s.id, ol.id, ol.sku_id, (SELECT id FROM lots WHERE sku_id = ol.sku_id LIMIT 1), ol.quantity, "
                "CASE WHEN s.status = 'delivered' THEN ol.quantity END "
                "FROM shipments s JOIN order_lines ol ON ol.order_id = s.order_id "
                "WHERE EXISTS (SELECT 1 FROM lots WHERE sku_id = ol.sku_id)"))
            admin_hash = hash_password(PASSWORD)
            run(text("INSERT INTO users (email, name, portal, dealer_id, roles, password_hash) "
                     "VALUES ('dealer@bench.test', '基准经销商', 'dealer', :d, ARRAY['dealer_owner'], :h) "
                     "ON CONFLICT DO NOTHING"), {"d": heavy_dealer, "h": admin_hash})
            run(text("INSERT INTO users (email, name, portal, hospital_id, roles, password_hash) "
                     "VALUES ('hospital@bench.test', '基准医院设备科', 'hospital', :hh, ARRAY['equipment'], :h) "
                     "ON CONFLICT DO NOTHING"), {"hh": heavy_hospital, "h": admin_hash})
            record_event(session, "bulk_generate", "tenants", SLUG,
                         after={"orders": orders, "order_lines": lines, "lots": lots}, reason_text="bench orders data")
            message = (f"{SLUG}: generated {lots:,} lots with their stock in {t_stock:.1f} s and {orders:,} orders / "
                       f"{lines:,} order lines with shipments in {time.perf_counter() - t0:.1f} s")
        with db.engine.begin() as conn:
            for table in ("lots", "stock_movements", "stock_balances", "orders", "order_lines", "shipments",
                          "shipment_lines", "warehouses", "users"):
                conn.execute(text(f'ANALYZE "{tenant.schema}".{table}'))
        return message


def run(seconds: int = 10, connections: int = 16, lines: int = 1_000_000, lots: int = 50_000, workers: int = 4,
        threads: int = 4) -> list[str]:
    wrk = _ensure_wrk()
    app = bench_app()
    out = [generate(app), fill(app, lines, lots)]
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"],
               LOGIN_MAX_FAILURES="1000")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env)
    try:
        import http.client

        host = "bench.localhost"
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        cookies = {who: _sign_in(port, host, f"{who}@bench.test", PASSWORD) for who in ("admin", "dealer", "hospital")}
        base = f"http://127.0.0.1:{port}"
        pages = [("/healthz", None), ("/dealer/orders", cookies["dealer"]), ("/manufacturer/stock", cookies["admin"]),
                 ("/hospital/deliveries", cookies["hospital"])]
        for path, ck in pages:  # warm every worker's pool and caches
            _wrk(wrk, base + path, host, 2, connections, ck)
        results = {path: _wrk(wrk, base + path, host, seconds, connections, ck) for path, ck in pages}
        health = results["/healthz"]["rps"]
        out.append(f"gunicorn gthread x{workers} ({threads} threads) on 127.0.0.1, wrk -t2 -c{connections}, "
                   f"{seconds} s per page, after a 2 s warm-up")
        for path, r in results.items():
            share = f"{100 * r['rps'] / health:5.1f} % of /healthz" if path != "/healthz" else "baseline"
            out.append(f"  {path:<24} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
                       f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}  ({share})")
        rss = [p.memory_info().rss / 2**20 for p in psutil.Process(server.pid).children()]
        out.append(f"  gunicorn worker RSS after the run: {', '.join(f'{m:.0f}' for m in rss)} MiB")
        out.append("  targets: each page >= 15 % of /healthz throughput, p95 <= 50 ms at 16 connections")
    finally:
        server.terminate()
        server.wait(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--lots", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    for line in run(args.seconds, args.connections, args.lines, args.lots):
        print(line, flush=True)


if __name__ == "__main__":
    main()
