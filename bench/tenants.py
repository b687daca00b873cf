"""Schema-per-tenant at scale: tenant creation, `tenants migrate --all` over 1,000
tenants (nothing to do, then one additive migration), and the memory a pooled
connection keeps after visiting every schema, with and without recycling.

Runs in its own database (dropped and recreated each run).

    python -m bench.tenants [--tenants 1000] [--jobs 2]

Targets: creation <= 0.5 s; no-op migrate --all <= 2 s; additive <= 60 s.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text

from bench.common import ROOT, bench_urls, pct

DB = "medchannel_bench_tenants"
ADDITIVE = '''"""bench: one additive change

Revision ID: t9999
Revises: {head}
"""
import sqlalchemy as sa
from alembic import op

revision = "t9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dealers", sa.Column("bench_note", sa.String(50)))
    op.create_index("ix_dealers_bench_note", "dealers", ["bench_note"])


def downgrade() -> None:
    op.drop_index("ix_dealers_bench_note", table_name="dealers")
    op.drop_column("dealers", "bench_note")
'''


def _fresh_db() -> str:
    from tenants.provisioning import recreate_database

    return recreate_database(bench_urls()[0], DB)


def _backend_uss(conn) -> float:
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    return psutil.Process(pid).memory_full_info().uss / 2**20


def run(n: int = 1000, jobs: int = 2) -> list[str]:
    from app.models import Tenant  # noqa: F401  (metadata)
    from tenants import migrations
    from tenants.migrations import migrate_all, schema_versions, upgrade_public
    from tenants.provisioning import create_tenant
    from tenants.registry import TenantRef
    from tenants.session import pin

    url = _fresh_db()
    engine = create_engine(url, pool_size=2, max_overflow=0)
    upgrade_public(engine)
    lines = []

    timings = []
    t_all = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        create_tenant(engine, f"b{i:04d}", f"基准租户{i:04d}")
        timings.append(time.perf_counter() - t0)
    lines.append(f"tenant creation x{n}: mean {statistics.mean(timings) * 1000:.0f} ms, p50 {pct(timings, 50) * 1000:.0f} ms, "
                 f"p95 {pct(timings, 95) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms "
                 f"(total {time.perf_counter() - t_all:.1f} s; target <= 500 ms)")

    with engine.connect() as conn:
        schemas = [r[0] for r in conn.execute(text("SELECT schema_name FROM public.tenants"))]
        t0 = time.perf_counter()
        schema_versions(conn, schemas)
        lines.append(f"reading {len(schemas)} schema versions: {(time.perf_counter() - t0) * 1000:.0f} ms")

    summary = migrate_all(engine, jobs=jobs)
    lines.append(f"no-op migrate --all over {summary.total} tenants: {summary.seconds:.2f} s "
                 f"({summary.up_to_date} skipped; target <= 2 s)")

    tree = Path(tempfile.mkdtemp(prefix="medchannel-tree-"))
    shutil.copytree(ROOT / "migrations" / "tenant", tree, dirs_exist_ok=True)
    (tree / "versions" / "9999_bench_additive.py").write_text(ADDITIVE.format(head=migrations.tenant_head()))
    migrations.use_tenant_tree(tree)
    try:
        summary = migrate_all(engine, jobs=jobs)
        per = [r.duration_ms for r in summary.results]
        lines.append(f"additive migrate --all (add column + index) over {summary.total} tenants with --jobs {jobs}: "
                     f"{summary.seconds:.1f} s; per schema p50 {pct(per, 50)} ms, p95 {pct(per, 95)} ms, "
                     f"{len(summary.failed)} failed (target <= 60 s)")
    finally:
        migrations.use_tenant_tree(ROOT / "migrations" / "tenant")
        shutil.rmtree(tree)

    with engine.connect() as conn:
        tenants = [TenantRef(*r) for r in conn.execute(
            text("SELECT id, slug, name, schema_name, role_name, status FROM public.tenants ORDER BY slug"))]

    from sqlalchemy.orm import Session

    # One pooled connection visiting every tenant, never recycled.
    engine1 = create_engine(url, pool_size=1, max_overflow=0)
    with engine1.connect() as conn:
        start = _backend_uss(conn)
    for tenant in tenants:
        with Session(engine1) as session:
            pin(session, tenant)
            session.execute(text("SELECT count(*) FROM users JOIN dealers ON dealers.id = users.dealer_id"))
            session.commit()
    with engine1.connect() as conn:
        grown = _backend_uss(conn)
    engine1.dispose()
    lines.append(f"one pooled connection after visiting {len(tenants)} schemas: backend private memory "
                 f"{start:.0f} -> {grown:.0f} MiB")

    # The same walk with the app's recycling (a new backend every DB_RECYCLE_AFTER_USES checkouts).
    from app import _bound_connection_lifetime

    engine2 = create_engine(url, pool_size=1, max_overflow=0)
    _bound_connection_lifetime(engine2, 200)
    peak = 0.0
    for i, tenant in enumerate(tenants):
        with Session(engine2) as session:
            pin(session, tenant)
            session.execute(text("SELECT count(*) FROM users JOIN dealers ON dealers.id = users.dealer_id"))
            if i % 50 == 49:
                peak = max(peak, _backend_uss(session.connection()))
            session.commit()
    engine2.dispose()
    lines.append(f"with recycling after 200 checkouts: peak backend private memory {peak:.0f} MiB")
    engine.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    for line in run(args.tenants, args.jobs):
        print(line, flush=True)


if __name__ == "__main__":
    main()
