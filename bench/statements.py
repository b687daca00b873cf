"""Reconciliation statements: throughput of a close-of-month run on two real RQ workers,
next to bare WeasyPrint on both cores for the same template, and one 5,000-line
statement (seconds and the worker's peak RSS).

    python -m bench.statements [--dealers 150] [--lines 60] [--big 5000] [--workers 2]

Each run makes a throwaway tenant on the bench database (dropped at the end), so that
every statement is new (a second run of an unchanged month renders nothing).
(a) ``--dealers`` active dealers with ``--lines`` lines each in 2026-10 (invoices,
credit notes, payments, rebate entries, plus history before the month for the opening
balances); two ``flask --app wsgi worker --no-fork`` processes are started and warmed
up, then the close-of-month run is started and timed from the run's creation to its last
statement issued (both PDF and .xlsx stored) in the database's own clock. The same books
in 2026-11 are then run on two default (forking) workers, for comparison.
(b) one inactive dealer (not in the run) with ``--big`` invoices in 2026-09: its
statement job runs alone in a fresh ``worker --burst``; the job's own duration and the
peak RSS of the worker's processes (RUSAGE_CHILDREN) are reported.
Targets (issue 6): >= 150 three-page statements per minute on two workers (bare
WeasyPrint ~175/min on both cores); a 5,000-line statement <= 15 s and <= 1 GB.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import date
from multiprocessing import get_context

from sqlalchemy import text

from bench.common import ROOT, bench_app

MONTH = date(2026, 10, 1)
FORK_MONTH = date(2026, 11, 1)  # the same books again, for the run with forking workers
BIG_MONTH = date(2026, 9, 1)


def _fill(session, dealers: int, lines: int, big: int) -> tuple[list[int], int]:
    """Set-based books: per dealer ~2/3 invoices, 1/12 credit notes, 1/6 payments and the
    rest rebate ledger entries in the month, and a little history before it."""
    from app.channel import operations as channel_ops

    country = channel_ops.add_region(session, "B-CN", "中国", "China")
    region = channel_ops.add_region(session, "B-EAST", "华东", "East China", country)
    run = session.execute
    run(text("INSERT INTO dealers (code, name, tier, region_id, status, uscc) "
             "SELECT 'BS-' || lpad(i::text, 5, '0'), '基准经销商' || lpad(i::text, 5, '0') || '医疗器械有限公司', 'tier1', :r, "
             "'active', '91310000' || lpad(i::text, 9, '0') || 'X' FROM generate_series(1, :n) AS i"),
        {"r": region.id, "n": dealers})
    ids = list(session.scalars(text("SELECT id FROM dealers WHERE code LIKE 'BS-%' ORDER BY id")))
    invoices, credits, payments = max(1, lines * 2 // 3), max(1, lines // 12), max(1, lines // 6)
    ledger = max(1, lines - invoices - credits - payments)

    def books(dealer_ids, start, n_inv, n_cn, n_pay, n_led, tag):
        params = {"ids": dealer_ids, "start": start, "tag": tag}
        run(text(
            "INSERT INTO invoices (number, kind, dealer_id, issued_on, due_on, net_amount, tax_amount, amount) "
            "SELECT :tag || 'I' || d || '-' || k, 'invoice', d, CAST(:start AS date) + (k * 7 % 28), CAST(:start AS date) + 60, "
            "round(x / 1.13, 2), x - round(x / 1.13, 2), x "
            "FROM unnest(CAST(:ids AS bigint[])) AS d, generate_series(1, :k) AS k, "
            "LATERAL (SELECT CAST(1000 + (d * 37 + k * 101) % 90000 AS numeric) + (k % 100) / 100.0 AS x) v"),
            dict(params, k=n_inv))
        run(text(
            "INSERT INTO invoices (number, kind, reason, dealer_id, issued_on, net_amount, tax_amount, amount) "
            "SELECT :tag || 'C' || d || '-' || k, 'credit_note', 'return', d, CAST(:start AS date) + (k * 5 % 28), "
            "round(x / 1.13, 2), x - round(x / 1.13, 2), x "
            "FROM unnest(CAST(:ids AS bigint[])) AS d, generate_series(1, :k) AS k, "
            "LATERAL (SELECT CAST(100 + (d * 13 + k * 7) % 5000 AS numeric) AS x) v"), dict(params, k=n_cn))
        run(text(
            "INSERT INTO payments (number, dealer_id, received_on, amount, method, reference, bank_ref) "
            "SELECT :tag || 'P' || d || '-' || k, d, CAST(:start AS date) + (k * 3 % 28), 20000 + (d * 11 + k) % 70000, "
            "'bank_transfer', '货款 ' || k, :tag || 'B' || d || '-' || k "
            "FROM unnest(CAST(:ids AS bigint[])) AS d, generate_series(1, :k) AS k"), dict(params, k=n_pay))
        run(text(
            "INSERT INTO rebate_ledger_entries (dealer_id, kind, amount, occurred_on, period_key, note) "
            "SELECT d, (ARRAY['settled', 'used', 'accrued', 'adjusted'])[1 + k % 4], "
            "CASE WHEN k % 4 = 1 THEN -(100 + k) ELSE 200 + k * 3 END, CAST(:start AS date) + (k % 28), '2026-Q4', '季度返利' "
            "FROM unnest(CAST(:ids AS bigint[])) AS d, generate_series(1, :k) AS k"), dict(params, k=n_led))

    books(ids, date(2026, 8, 1), 5, 1, 2, 2, "H")  # history: the opening balances
    books(ids, MONTH, invoices, credits, payments, ledger, "M")
    books(ids, FORK_MONTH, invoices, credits, payments, ledger, "F")
    run(text("INSERT INTO dealers (code, name, tier, region_id, status) "
             "VALUES ('BS-BIG', '基准大客户医疗器械有限公司', 'agent', :r, 'inactive')"), {"r": region.id})
    big_id = session.scalar(text("SELECT id FROM dealers WHERE code = 'BS-BIG'"))
    books([big_id], BIG_MONTH, big - big // 10 - 10, big // 20, big // 20 - 1, 11, "G")
    return ids, big_id


def _workers(env, count: int, fork: bool) -> list[subprocess.Popen]:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"] + ([] if fork else ["--no-fork"])
    return [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _i in range(count)]


def _wait_for_workers(app, count: int, timeout: float = 120) -> None:
    from rq import Worker

    from app.core.redis import get_redis

    deadline = time.time() + timeout
    with app.app_context():
        while time.time() < deadline:
            if len(Worker.all(connection=get_redis())) >= count:
                time.sleep(1.0)  # registered workers have finished warming up
                return
            time.sleep(0.2)
    raise RuntimeError("workers did not start")


def _bare_render(args):
    html, base, n = args
    from weasyprint import HTML

    HTML(string=html, base_url=base).render().write_pdf()  # warm-up, not timed
    start = time.perf_counter()
    for _i in range(n):
        HTML(string=html, base_url=base).render().write_pdf()
    return time.perf_counter() - start


def _big_statement(app, tenant, env, big_id: int, finance_id: int) -> list[str]:
    """(b) The large statement's job alone in a fresh burst worker: the job's own time and
    the peak RSS of the worker's processes (this runs before any other child process, so
    RUSAGE_CHILDREN is theirs)."""
    from app.channel.models import Dealer
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.finance.statements import operations as ops
    from app.identity.models import User
    from tenants.session import tenant_session

    with app.app_context():
        with tenant_session(db.session, tenant) as session:
            set_context(session, Actor.system("bench statements"))
            job_id = ops.request_statement(session, session.get(Dealer, big_id), BIG_MONTH, session.get(User, finance_id),
                                           "big").id
    started = time.perf_counter()
    finisher = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with app.app_context():
        with tenant_session(db.session, tenant) as session:
            status, job_seconds = session.execute(text(
                "SELECT status, extract(epoch FROM finished_at - started_at) FROM jobs WHERE id = :j"), {"j": job_id}).one()
            lines, st_status = session.execute(text("SELECT line_count, status FROM statements WHERE job_id = :j"),
                                               {"j": job_id}).one()
    out = [f"(b) one statement of {lines} lines: job {status} in {float(job_seconds or 0):.1f} s "
           f"(the burst worker {wall:.1f} s with its start-up), peak RSS of the worker's processes {peak / 1024:.0f} MiB; "
           f"statement {st_status}",
           "    target: <= 15 s and <= 1 GB (a naive single 110-page table: 28 s, 922 MB)"]
    if finisher.returncode != 0:
        out.append("    worker failed: " + finisher.stderr[-500:])
    return out


def _close_of_month(app, tenant, env, workers: int, finance_id: int, month: date = MONTH,
                    fork: bool = False) -> tuple[list[str], float, str]:
    """(a) A close-of-month run on ``workers`` real RQ workers, started and warmed up first."""
    import io

    import pypdf
    from flask import render_template

    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.core.redis import get_redis
    from app.finance.models import Statement
    from app.finance.statements import documents
    from app.finance.statements import operations as ops
    from app.finance.statements import queries as q
    from app.identity.models import User
    from tenants.session import tenant_session

    with app.app_context():
        get_redis().delete("rq:queue:default")  # nothing left over from elsewhere runs in the timing
    procs = _workers(env, workers, fork)
    try:
        _wait_for_workers(app, workers)
        with app.app_context():
            with tenant_session(db.session, tenant) as session:
                set_context(session, Actor.system("bench statements"))
                run_id = ops.start_run(session, month, session.get(User, finance_id), f"bench{fork}").id
            deadline = time.time() + 3600
            while time.time() < deadline:
                with tenant_session(db.session, tenant) as session:
                    row = session.execute(text(
                        "SELECT status, done, failed, total, extract(epoch FROM finished_at - created_at) "
                        "FROM statement_runs WHERE id = :r"), {"r": run_id}).one()
                if row[0] != "running":
                    break
                time.sleep(0.25)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    status, done, failed, total, seconds = row
    with app.app_context():
        with tenant_session(db.session, tenant) as session:
            sample = session.scalar(text("SELECT id FROM statements WHERE run_id = :r ORDER BY id LIMIT 1"), {"r": run_id})
            sample = session.get(Statement, sample)
            lines = ops.lines_of(session, sample.id)
            from datetime import datetime

            from app.core.i18n import SHANGHAI

            html = render_template("documents/statement.html", st=sample, dealer=sample.dealer, tenant_name=tenant.name,
                                   previous_number=None, figure_labels=q.FIGURE_LABELS, sections=q.SECTION_LABELS,
                                   generated_at=datetime.now(SHANGHAI), page_label=documents.page_label_css(),
                                   **documents.layout(sample, lines))
            pages = len(pypdf.PdfReader(io.BytesIO(documents.render_pdf(sample, lines, tenant.name, None))).pages)
            line_count = sample.line_count
            retried = session.execute(text(
                "SELECT count(*), string_agg(DISTINCT left(error, 120), ' | ') FROM jobs WHERE attempts > 1")).one()
    rate = 60 * done / float(seconds) if seconds else 0.0
    mode = "forking a work horse per job" if fork else "--no-fork"
    return ([f"(a) close-of-month run on {workers} RQ workers ({mode}): {done}/{total} statements ({failed} failed, run {status}) "
             f"in {float(seconds or 0):.1f} s = {rate:.0f} statements/min "
             f"({line_count} lines and {pages} pages each; PDF and .xlsx stored per statement)"]
            + ([f"    {retried[0]} job(s) needed a second attempt: {retried[1]}"] if retried[0] else []), rate, html)


def run(dealers: int = 150, lines: int = 60, big: int = 5000, workers: int = 2, compare_fork: bool = True) -> list[str]:
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.identity.models import User
    from tenants.migrations import migrate_all, upgrade_public
    from tenants.provisioning import create_tenant, drop_tenant
    from tenants.registry import by_slug
    from tenants.session import tenant_session

    doc_root = ROOT / "instance" / "bench-documents"
    app = bench_app(DOCUMENT_ROOT=str(doc_root))
    slug = "bst" + uuid.uuid4().hex[:8]
    with app.app_context():
        upgrade_public(db.engine)
        migrate_all(db.engine, jobs=1)
        create_tenant(db.engine, slug, "基准对账医疗器械有限公司")
        tenant = by_slug(db.session, slug)
        db.session.rollback()
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"],
               DOCUMENT_ROOT=str(doc_root))
    out = []
    try:
        with app.app_context():
            t0 = time.perf_counter()
            with tenant_session(db.session, tenant) as session:
                set_context(session, Actor.system("bench statements"))
                _ids, big_id = _fill(session, dealers, lines, big)
                finance = User(email="finance@bench.test", name="基准财务", portal="manufacturer", roles=["finance"])
                session.add(finance)
                session.flush()
                finance_id = finance.id
            out.append(f"{slug}: {dealers} dealers x {lines} lines in {MONTH:%Y-%m}, one dealer x {big} lines in "
                       f"{BIG_MONTH:%Y-%m}; written in {time.perf_counter() - t0:.1f} s")
        out += _big_statement(app, tenant, env, big_id, finance_id)
        lines_a, rate, html = _close_of_month(app, tenant, env, workers, finance_id)
        out += lines_a
        if compare_fork:
            out += _close_of_month(app, tenant, env, workers, finance_id, FORK_MONTH, fork=True)[0]
        n = max(60, dealers // 2)
        static = str(ROOT / "static") + "/"
        with get_context("fork").Pool(2) as pool:
            times = pool.map(_bare_render, [(html, static, n // 2), (html, static, n - n // 2)])
        bare = 60 * n / max(times)
        out.append(f"    bare WeasyPrint, the same template and statement, 2 processes: {n} renders in {max(times):.1f} s "
                   f"= {bare:.0f}/min; the run reaches {100 * rate / bare:.0f} % of it")
        out.append("    target: >= 150 three-page statements/min on two workers (bare WeasyPrint ~175/min)")
    finally:
        if not os.environ.get("BENCH_KEEP"):
            with app.app_context():
                drop_tenant(db.engine, slug)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dealers", type=int, default=150)
    parser.add_argument("--lines", type=int, default=60)
    parser.add_argument("--big", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-fork-comparison", action="store_true", help="Skip the run with forking workers.")
    args = parser.parse_args()
    for line in run(args.dealers, args.lines, args.big, args.workers, not args.no_fork_comparison):
        print(line, flush=True)


if __name__ == "__main__":
    main()
