"""Invoices and collections at scale: 300,000 invoices and credit notes and 200,000
payments on the bench tenant's 500 dealers (one dealer deliberately heavy: 5 % of all),
then the receivables aggregates, the invoice lists and the per-order credit check,
timed server-side (in the process, pinned session; median and p95 of repeated calls).

    python -m bench.finance [--invoices 300000] [--payments 200000] [--repeat 15]

The generator is set-based and runs once; a second run reuses the data.
"""
from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import text

from bench.common import bench_app, pct
from bench.generate import generate

SLUG = "bench"


def fill(app, invoices: int, payments: int) -> str:
    from app.compliance.operations import Actor, record_event, set_context
    from app.core.db import db
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("bench generator"))
            have = session.scalar(text("SELECT count(*) FROM invoices"))
            if have:
                return f"{SLUG}: {have:,} invoices already there"
            t0 = time.perf_counter()
            heavy = session.scalar(text("SELECT min(id) FROM dealers"))
            count = session.scalar(text("SELECT count(*) FROM dealers"))
            # invoices over the last two years, due 60 days later; what was issued more than
            # 75 days ago is mostly settled, the rest open; 3 % are credit notes
            session.execute(text(
                "INSERT INTO invoices (number, kind, reason, dealer_id, status, issued_on, due_on, net_amount, tax_amount, "
                "amount, settled_amount) "
                "SELECT 'INV-B-' || lpad(i::text, 8, '0'), k, CASE WHEN k = 'credit_note' THEN 'other' END, d, "
                "CASE WHEN s = a THEN 'settled' ELSE 'open' END, day, CASE WHEN k = 'invoice' THEN day + 60 END, "
                "round(a / 1.13, 2), a - round(a / 1.13, 2), a, s "
                "FROM (SELECT i, CASE WHEN i % 33 = 0 THEN 'credit_note' ELSE 'invoice' END AS k, "
                "      CASE WHEN i % 20 = 0 THEN :heavy ELSE :heavy + i % :count END AS d, "
                "      CURRENT_DATE - (i * 7919 % 730)::int AS day, (1000 + i * 37 % 99000)::numeric(14, 2) AS a FROM "
                "      generate_series(1::bigint, :n) AS i) g, "
                "LATERAL (SELECT CASE WHEN g.day < CURRENT_DATE - 75 AND g.i % 10 <> 0 THEN g.a "
                "                     WHEN g.i % 4 = 0 THEN round(g.a / 2, 2) ELSE 0 END AS s) x"),
                {"n": invoices, "heavy": heavy, "count": count})
            session.execute(text(
                "INSERT INTO payments (number, dealer_id, received_on, amount, applied_amount, status, bank_ref, source) "
                "SELECT 'RC-B-' || lpad(i::text, 8, '0'), CASE WHEN i % 20 = 0 THEN :heavy ELSE :heavy + i % :count END, "
                "CURRENT_DATE - (i * 104729 % 700)::int, a, CASE WHEN i % 15 = 0 THEN 0 ELSE a END, "
                "CASE WHEN i % 15 = 0 THEN 'unapplied' ELSE 'applied' END, 'B' || i, 'import' "
                "FROM (SELECT i, (1000 + i * 53 % 140000)::numeric(14, 2) AS a FROM generate_series(1::bigint, :n) AS i) g"),
                {"n": payments, "heavy": heavy, "count": count})
            record_event(session, "bulk_generate", "tenants", SLUG, after={"invoices": invoices, "payments": payments},
                         reason_text="bench finance data")
            message = f"{SLUG}: generated {invoices:,} invoices and {payments:,} payments in {time.perf_counter() - t0:.1f} s"
        with db.engine.begin() as conn:
            for table in ("invoices", "payments"):
                conn.execute(text(f'ANALYZE "{tenant.schema}".{table}'))
        return message


def _timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), pct(times, 95)


def figures(app, repeat: int) -> list[str]:
    from app.channel.models import Region
    from app.core.db import db
    from app.core.i18n import shanghai_today
    from app.finance import matching, queries as q, rules
    from app.finance.reminders import send_reminders
    from app.orders.operations import OPEN_FOR_CREDIT
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    out = [f"{'read':<48} {'median ms':>10} {'p95 ms':>8}"]
    with app.app_context():
        tenant = by_slug(db.session, SLUG)
        db.session.rollback()
        with tenant_session(db.session, tenant) as s:
            day = shanghai_today()
            heavy = s.scalar(text("SELECT min(id) FROM dealers"))
            area = s.scalar(text("SELECT id FROM regions WHERE level = 1 ORDER BY id LIMIT 1"))
            everyone = SimpleNamespace(portal="manufacturer", roles=["finance"], regions=[],
                                       has_role=lambda *r: "finance" in r)
            manager = SimpleNamespace(portal="manufacturer", roles=["regional_manager"], regions=[s.get(Region, area)],
                                      has_role=lambda *r: "regional_manager" in r)
            dealer = SimpleNamespace(portal="dealer", dealer_id=heavy, roles=["dealer_owner"],
                                     has_role=lambda *r: "dealer_owner" in r)
            f90 = q.ReceivablesFilter(days=90)
            checks = [
                ("receivables by region, whole tenant", lambda: q.receivables_by_region(s, everyone, f90, day)),
                ("receivables by region, one regional manager", lambda: q.receivables_by_region(s, manager, f90, day)),
                ("receivables by dealer, first page", lambda: q.receivables_by_dealer(s, everyone, None, f90, day)),
                ("receivables, the heavy dealer alone", lambda: q.receivables_by_dealer(
                    s, everyone, None, q.ReceivablesFilter(dealer_id=heavy), day)),
                ("invoice list, first page", lambda: q.invoices_page(s, everyone, None, q.InvoiceFilter(), day)),
                ("invoice list, overdue", lambda: q.invoices_page(s, everyone, None, q.InvoiceFilter(status="overdue"), day)),
                ("heavy dealer's own invoice list", lambda: q.invoices_page(s, dealer, None, q.InvoiceFilter(), day)),
                ("payment list, not matched", lambda: q.payments_page(s, everyone, None, q.PaymentFilter(status="unapplied"))),
                ("credit check of the heavy dealer (per order)", lambda: q.credit_figures(s, heavy, OPEN_FOR_CREDIT, day)),
                ("heavy dealer's position (dashboard)", lambda: q.dealer_position(s, heavy, day)),
                ("auto-match plan over the heavy dealer's open invoices", lambda: rules.plan_auto_match(
                    Decimal("12345.67"), "货款 INV-B-00000020", matching.open_items(s, heavy))),
            ]
            for name, fn in checks:
                median, p95 = _timed(fn, repeat)
                out.append(f"{name:<48} {median:10.1f} {p95:8.1f}")
            open_count = s.scalar(text("SELECT count(*) FROM invoices WHERE status = 'open' AND kind = 'invoice'"))
            heavy_open = len(matching.open_items(s, heavy))
            t0 = time.perf_counter()
            sent = send_reminders(s, day)
            took = time.perf_counter() - t0
            s.rollback()  # the figures, not the mails
            out.append(f"daily reminders, first run: {sent:,} reminders (and their mails) for {open_count:,} open invoices "
                       f"in {took:.1f} s (rolled back)")
            out.append(f"heavy dealer: {heavy_open:,} open invoices")
            out.append(f"as of {day}, period {timedelta(days=90).days} days")
    return out


def run(invoices: int = 300_000, payments: int = 200_000, repeat: int = 15) -> list[str]:
    app = bench_app()
    return [generate(app), fill(app, invoices, payments), *figures(app, repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=300_000)
    parser.add_argument("--payments", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    for line in run(args.invoices, args.payments, args.repeat):
        print(line, flush=True)


if __name__ == "__main__":
    main()
