"""The rebate ledger at scale: 500 dealers, 200,000 ledger rows (credits each quarter, uses
drawing on them, estimates), one dealer deliberately heavy (10 % of all rows).

    python -m bench.rebate_ledger [--dealers 500] [--rows 200000]

Figures (server-side, in this process, median of repeated calls): replaying the heavy
dealer's rows into what is left of each credit (the Python rule every use and the
ledger's head run), its ledger page (figures and the first and a deep keyset page of
entries with the running balance), the manufacturer's balances page, planning an order's
票折 under the lock, and the daily expiry over every dealer. The rows are written
set-based once; a second run reuses them.
"""
from __future__ import annotations

import argparse
import statistics
import time
from decimal import Decimal

from sqlalchemy import text

from bench.common import bench_app, pct
from bench.generate import generate

SLUG = "benchrb"
REPEAT = 9


def _fill(app, rows: int) -> str:
    from app.compliance.operations import Actor, record_event, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as s:
            set_context(s, Actor.system("bench generator"))
            have = s.scalar(text("SELECT count(*) FROM rebate_ledger_entries"))
            if have:
                return f"{SLUG}: {have:,} ledger rows already there"
            t0 = time.perf_counter()
            heavy = s.scalar(text("SELECT min(id) FROM dealers"))
            s.execute(text("INSERT INTO rebate_policies (code, name, status, valid_from, usable_as, expires_after_days) "
                           "VALUES ('RB-BENCH', '基准返利政策', 'published', DATE '2024-01-01', '{offset,free_goods}', 365)"))
            policy = s.scalar(text("SELECT id FROM rebate_policies WHERE code = 'RB-BENCH'"))
            # a third of the rows are credits (settled, some claims), a third uses drawing half of a credit,
            # a third estimates; 10 % of every kind belongs to the heavy dealer
            per_kind = rows // 3
            s.execute(text(
                "INSERT INTO rebate_ledger_entries (dealer_id, policy_id, period_key, kind, amount, occurred_on, "
                "expires_on, explanation) "
                "SELECT CASE WHEN i % 10 = 0 THEN :heavy ELSE d.id END, :policy, "
                "  (2020 + (i % 28) / 4)::text || '-Q' || (1 + i % 4)::text, "
                "  CASE WHEN i % 7 = 0 THEN 'claim' ELSE 'settled' END, round((1000 + (i * 7919) % 90000)::numeric, 2), "
                "  CURRENT_DATE - (i % 900), CURRENT_DATE - (i % 900) + 365, '{}'::jsonb "
                "FROM generate_series(1, :n) AS i "
                "JOIN LATERAL (SELECT id FROM dealers ORDER BY id OFFSET (i % (SELECT count(*) FROM dealers)) LIMIT 1) d ON true"),
                {"heavy": heavy, "policy": policy, "n": per_kind})
            s.execute(text(
                "INSERT INTO rebate_ledger_entries (dealer_id, policy_id, period_key, kind, amount, occurred_on, "
                "ref_type, ref_id, explanation) "
                "SELECT c.dealer_id, c.policy_id, c.period_key, 'used', -round(c.amount / 2, 2), c.occurred_on + 30, "
                "  'orders', c.id, jsonb_build_object('purpose', 'offset', 'credit_entry_id', c.id) "
                "FROM rebate_ledger_entries c WHERE c.amount > 0"))
            s.execute(text(
                "INSERT INTO rebate_ledger_entries (dealer_id, policy_id, period_key, kind, amount, occurred_on, explanation) "
                "SELECT dealer_id, policy_id, '2099-Q1', 'accrued', round(amount / 3, 2), CURRENT_DATE, '{}'::jsonb "
                "FROM rebate_ledger_entries WHERE kind IN ('settled', 'claim')"))
            s.execute(text("ANALYZE rebate_ledger_entries"))
            n = s.scalar(text("SELECT count(*) FROM rebate_ledger_entries"))
            record_event(s, "bulk_load", "rebate_ledger_entries", None, after={"rows": n})
            return f"{SLUG}: wrote {n:,} ledger rows in {time.perf_counter() - t0:.1f} s"


def _timed(fn, repeat: int = REPEAT) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, pct(times, 95) * 1000


def _figures(app) -> list[str]:
    from app.channel.queries import ChannelScope
    from app.core.db import db
    from app.core.pagination import encode_cursor
    from app.rebates import ledger, ledger_queries as lq
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    out = []
    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as s:
            heavy = s.scalar(text("SELECT min(id) FROM dealers"))
            n_heavy = s.scalar(text("SELECT count(*) FROM rebate_ledger_entries WHERE dealer_id = :d"), {"d": heavy})
            n_all = s.scalar(text("SELECT count(*) FROM rebate_ledger_entries"))
            out.append(f"rows: {n_all:,} in all, {n_heavy:,} of the heavy dealer")
            med, p95 = _timed(lambda: ledger.position(s, heavy))
            out.append(f"replay of the heavy dealer into its credits (rules_use.position): median {med:.0f} ms, p95 {p95:.0f} ms")
            med, p95 = _timed(lambda: ledger.balances(s, heavy))
            out.append(f"ledger head figures (balances): median {med:.0f} ms, p95 {p95:.0f} ms")
            typical = s.scalar(text("SELECT max(id) FROM dealers"))
            n_typical = s.scalar(text("SELECT count(*) FROM rebate_ledger_entries WHERE dealer_id = :d"), {"d": typical})
            med, p95 = _timed(lambda: ledger.balances(s, typical))
            out.append(f"ledger head figures of an ordinary dealer ({n_typical:,} rows): median {med:.0f} ms, "
                       f"p95 {p95:.0f} ms")
            flt = lq.EntryFilter()
            med, p95 = _timed(lambda: lq.entries_page(s, heavy, flt, None))
            deep_id = s.scalar(text("SELECT id FROM rebate_ledger_entries WHERE dealer_id = :d ORDER BY id "
                                    "OFFSET (SELECT count(*) / 10 FROM rebate_ledger_entries WHERE dealer_id = :d) LIMIT 1"),
                               {"d": heavy})
            cursor = encode_cursor([deep_id])
            dmed, dp95 = _timed(lambda: lq.entries_page(s, heavy, flt, cursor))
            out.append(f"entries with running balance, first page: median {med:.0f} ms (p95 {p95:.0f}); "
                       f"page at 90 % depth: median {dmed:.0f} ms (p95 {dp95:.0f})")
            med, p95 = _timed(lambda: lq.balances_page(s, ChannelScope(), lq.BalanceFilter(), None))
            out.append(f"manufacturer balances per dealer, first page: median {med:.0f} ms, p95 {p95:.0f} ms")
            med, p95 = _timed(lambda: ledger.plan_order_use(s, heavy, Decimal("1000.00"), Decimal("0"),
                                                            Decimal("100000.00")))
            out.append(f"planning an order's 票折 under the lock (heavy dealer): median {med:.0f} ms, p95 {p95:.0f} ms")
            s.rollback()
            t0 = time.perf_counter()
            n = ledger.expire_due(s)
            first = time.perf_counter() - t0
            s.commit()
            t0 = time.perf_counter()
            again = ledger.expire_due(s)
            second = time.perf_counter() - t0
            s.rollback()
            out.append(f"daily expiry over every dealer: {n:,} credits expired in {first:.1f} s; "
                       f"run again: {again} in {second:.2f} s")
    return out


def run(dealers: int = 500, rows: int = 200_000) -> list[str]:
    app = bench_app()
    lines = [generate(app, SLUG, dealers, 100, 100), _fill(app, rows)]
    return lines + _figures(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dealers", type=int, default=500)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    for line in run(args.dealers, args.rows):
        print(line, flush=True)


if __name__ == "__main__":
    main()
