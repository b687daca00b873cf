"""Special prices and the two-invoice check at scale, on a tenant of their own:

    python -m bench.special_prices [--orders 40000] [--sales 300000] [--chains 3000] [--repeat 20]

2,000 approved special-price requests (half of them the heaviest dealer's), 200,000 order
lines of which the heaviest dealer's are priced by its special prices (consumption is
summed from them), 300,000 sell-out lines to hospitals and 3,000 dealer-to-dealer sales
each sold on to a hospital. Prints the median time of: the special prices a line may
use (with what its caps have used), the order check of a five-line order, the cap check
under row locks, the dealer's and the manufacturer's request lists, and the first page
of two-invoice violations with one evidence chain. Data are generated once, set-based.
"""
from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import text

from bench.common import bench_app
from bench.generate import generate

SLUG = "benchsp"


def fill(app, orders: int, sales: int, chains: int) -> str:
    from app.compliance.operations import Actor, record_event, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("bench generator"))
            run = session.execute
            if session.scalar(text("SELECT count(*) FROM price_requests")):
                return f"{SLUG}: data already there"
            t0 = time.perf_counter()
            heavy = session.scalar(text("SELECT min(id) FROM dealers"))
            run(text("UPDATE skus SET status = 'active', tracking = 'lot'"))
            run(text("UPDATE hospitals SET ownership = 'private' WHERE id % 10 = 0"))
            run(text("INSERT INTO warehouses (code, name, kind) VALUES ('SPW-HQ', '总仓', 'central')"))
            # 2,000 approved requests, half the heavy dealer's (for its first 1,000 hospitals), two lines each
            run(text(
                "INSERT INTO price_requests (number, dealer_id, hospital_id, status, valid_from, valid_until, total_amount, "
                "max_discount_pct) SELECT 'SP-B-' || lpad(i::text, 6, '0'), "
                "CASE WHEN i <= 1000 THEN :hd ELSE (SELECT min(id) FROM dealers) + i % 500 END, "
                "(SELECT min(id) FROM hospitals) + i % 3000, 'approved', current_date - 10, current_date + 180, 200000, 8 "
                "FROM generate_series(1, 2000) AS i"), {"hd": heavy})
            run(text(
                "INSERT INTO price_request_lines (price_request_id, sku_id, quantity_cap, requested_price, reference_price, "
                "band_floor) SELECT r.id, (SELECT min(id) FROM skus) + (r.id * 2 + k) % 2000, 1000000, 100, 120, 110 "
                "FROM price_requests r, generate_series(0, 1) AS k"))
            # orders of five lines; the heavy dealer's lines are priced by its special prices
            run(text(
                "INSERT INTO orders (number, kind, dealer_id, hospital_id, status, submitted_at, total_amount) "
                "SELECT 'SO-SP-' || lpad(i::text, 8, '0'), 'standard', "
                "CASE WHEN i % 5 = 0 THEN :hd ELSE (SELECT min(id) FROM dealers) + i % 500 END, "
                "(SELECT min(id) FROM hospitals) + i % 3000, "
                "(ARRAY['delivered','allocated','approved','cancelled','shipped'])[1 + i % 5], now(), 0 "
                "FROM generate_series(1, :n) AS i"), {"n": orders, "hd": heavy})
            run(text(
                "INSERT INTO order_lines (order_id, line_no, sku_id, quantity, unit_price, amount, tax_rate, "
                "price_source_type, price_source_id) "
                "SELECT o.id, k, (SELECT min(id) FROM skus) + (o.id * 7 + k) % 2000, 1 + (o.id + k) % 5, 100, "
                "100 * (1 + (o.id + k) % 5), 0.13, "
                "CASE WHEN o.dealer_id = :hd THEN 'price_request_lines' ELSE 'price_lists' END, "
                "CASE WHEN o.dealer_id = :hd THEN (SELECT min(id) FROM price_request_lines) + (o.id * 5 + k) % 2000 "
                "ELSE 1 END "
                "FROM orders o, generate_series(1, 5) AS k"), {"hd": heavy})
            # lots, delivered shipments of lots to dealers, sell-out to hospitals
            run(text("INSERT INTO lots (sku_id, lot_no, expires_on) SELECT (SELECT min(id) FROM skus) + i % 2000, "
                     "'SPL' || lpad(i::text, 7, '0'), current_date + 700 FROM generate_series(1, 20000) AS i"))
            run(text(
                "INSERT INTO shipments (number, order_id, dealer_id, hospital_id, warehouse_id, status, shipped_at, delivered_at) "
                "SELECT 'SH-SP-' || lpad(o.id::text, 8, '0'), o.id, o.dealer_id, o.hospital_id, "
                "(SELECT id FROM warehouses WHERE code = 'SPW-HQ'), 'delivered', now() - interval '40 days', "
                "now() - interval '38 days' FROM orders o WHERE o.status = 'delivered'"))
            run(text(
                "INSERT INTO shipment_lines (shipment_id, order_line_id, sku_id, lot_id, quantity, received_quantity) "
                "SELECT s.id, ol.id, l.sku_id, l.id, 50, 50 FROM shipments s "
                "JOIN order_lines ol ON ol.order_id = s.order_id AND ol.line_no = 1 "
                "JOIN lots l ON l.id = (SELECT min(id) FROM lots) + s.id % 20000"))
            run(text(
                "INSERT INTO sell_out_lines (dealer_id, sold_on, hospital_id, sku_id, lot_id, quantity, unit_price, "
                "invoice_no, source) SELECT (SELECT min(id) FROM dealers) + i % 500, current_date - i % 30, "
                "(SELECT min(id) FROM hospitals) + i % 3000, l.sku_id, l.id, 1, 130, 'F' || i, 'import' "
                "FROM generate_series(1, :n) AS i JOIN lots l ON l.id = (SELECT min(id) FROM lots) + i % 20000"),
                {"n": sales})
            # dealer-to-dealer sales, each sold on to a hospital the next day
            run(text(
                "INSERT INTO sell_out_lines (dealer_id, sold_on, buyer_dealer_id, sku_id, lot_id, quantity, unit_price, "
                "invoice_no, source) SELECT (SELECT min(id) FROM dealers) + i % 500, current_date - 20, "
                "(SELECT min(id) FROM dealers) + (i + 1) % 500, l.sku_id, l.id, 5, 120, 'D' || i, 'api' "
                "FROM generate_series(1, :n) AS i JOIN lots l ON l.id = (SELECT min(id) FROM lots) + (i * 7) % 20000"),
                {"n": chains})
            run(text(
                "INSERT INTO sell_out_lines (dealer_id, sold_on, hospital_id, sku_id, lot_id, quantity, unit_price, "
                "invoice_no, source) SELECT d.buyer_dealer_id, d.sold_on + 1, (SELECT min(id) FROM hospitals) + d.id % 3000, "
                "d.sku_id, d.lot_id, 3, 140, 'H' || d.id, 'api' FROM sell_out_lines d WHERE d.buyer_dealer_id IS NOT NULL"))
            record_event(session, "bulk_generate", "tenants", SLUG, reason_text="bench special prices data",
                         after={"orders": orders, "sales": sales, "chains": chains})
            message = f"{SLUG}: generated the data in {time.perf_counter() - t0:.1f} s"
        with db.engine.begin() as conn:
            for table in ("price_requests", "price_request_lines", "orders", "order_lines", "lots", "shipments",
                          "shipment_lines", "sell_out_lines", "hospitals"):
                conn.execute(text(f'ANALYZE "{tenant.schema}".{table}'))
        return message


def _median_ms(fn, repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(app, repeat: int) -> list[str]:
    from sqlalchemy import func, select

    from app.channel.models import Dealer
    from app.channel.queries import ChannelScope
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.finance import two_invoice
    from app.orders import operations as order_ops
    from app.pricing import rules
    from app.pricing import special_prices as sp
    from app.pricing.models import PriceRequest, PriceRequestLine
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    out = []
    with app.app_context(), app.test_request_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as s:
            set_context(s, Actor.system("bench"))
            busiest = s.scalar(text("SELECT price_source_id FROM order_lines WHERE price_source_type = "
                                    "'price_request_lines' GROUP BY 1 ORDER BY sum(quantity) DESC LIMIT 1"))
            line = s.get(PriceRequestLine, busiest)
            request = s.get(PriceRequest, line.price_request_id)
            heavy = s.get(Dealer, request.dealer_id)  # the dealer whose orders use its special prices
            used = sp.consumption(s, [line.id]).get(line.id, 0)
            lines = s.scalar(text("SELECT count(*) FROM order_lines"))
            priced = s.scalar(text("SELECT count(*) FROM order_lines WHERE price_source_type = 'price_request_lines'"))
            out.append(f"{lines:,} order lines, {priced:,} priced by special prices; "
                       f"{s.scalar(text('SELECT count(*) FROM sell_out_lines')):,} sell-out lines")
            out.append(f"  special prices for one line (dealer × hospital × SKU, caps summed, {used:,} units used): "
                       f"{_median_ms(lambda: rules.choose_special_price(sp.offers_for(s, heavy.id, request.hospital_id, line.sku_id, request.valid_from), 1), repeat):.1f} ms")
            skus = [pl.sku_id for pl in s.scalars(select(PriceRequestLine).join(PriceRequest).where(
                PriceRequest.dealer_id == heavy.id, PriceRequest.hospital_id == request.hospital_id))][:5]
            given = [{"sku_id": sku, "quantity": 1} for sku in skus]
            out.append(f"  order check of {len(given)} lines at a hospital with special prices (no price lists here): "
                       f"{_median_ms(lambda: order_ops.check_lines(s, heavy, given, request.hospital_id), repeat):.1f} ms")
            checks = [order_ops.LineCheck(0, line.sku, 1, price_source=(sp.SOURCE, line.id))]
            out.append(f"  cap check under row locks (place_order): "
                       f"{_median_ms(lambda: sp.check_caps(s, checks, lock=True), repeat):.1f} ms")
            dealer_scope = ChannelScope(region_paths=(), dealer_id=heavy.id)
            out.append(f"  dealer's request list, first page ({s.scalar(select(func.count()).select_from(PriceRequest).where(PriceRequest.dealer_id == heavy.id)):,} requests): "
                       f"{_median_ms(lambda: sp.requests_page(s, dealer_scope, None), repeat):.1f} ms")
            busiest_dealer, count = s.execute(select(PriceRequest.dealer_id, func.count()).group_by(PriceRequest.dealer_id)
                                              .order_by(func.count().desc()).limit(1)).one()
            heaviest = ChannelScope(region_paths=(), dealer_id=busiest_dealer)
            out.append(f"  the busiest dealer's request list, first page ({count:,} requests): "
                       f"{_median_ms(lambda: sp.requests_page(s, heaviest, None), repeat):.1f} ms")
            out.append(f"  manufacturer's request list, first page (2,000 requests): "
                       f"{_median_ms(lambda: sp.requests_page(s, ChannelScope(), None), repeat):.1f} ms")
            page = two_invoice.violations_page(s, ChannelScope(), None)
            out.append(f"  two-invoice violations, first page ({len(page.items)} shown): "
                       f"{_median_ms(lambda: two_invoice.violations_page(s, ChannelScope(), None), repeat):.1f} ms")
            first = page.items[0].id
            out.append(f"  one violation's evidence chain: "
                       f"{_median_ms(lambda: two_invoice.evidence_chain(s, ChannelScope(), first), repeat):.1f} ms")
            s.rollback()
    return out


def run(orders: int = 40_000, sales: int = 300_000, chains: int = 3_000, repeat: int = 20) -> list[str]:
    app = bench_app()
    return [generate(app, slug=SLUG), fill(app, orders, sales, chains), *measure(app, repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=40_000)
    parser.add_argument("--sales", type=int, default=300_000)
    parser.add_argument("--chains", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    for line in run(args.orders, args.sales, args.chains, args.repeat):
        print(line, flush=True)


if __name__ == "__main__":
    main()
