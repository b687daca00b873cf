"""Migrations for ``public`` and for every tenant schema.

Two Alembic trees: ``migrations/public`` and ``migrations/tenant``. Every tenant schema
(and the template schema new tenants are cloned from) keeps its own ``alembic_version``.

``migrate_all`` reads every schema's version in one query, skips the ones at head at
once, and upgrades the rest in parallel worker processes, each reusing one loaded
script directory; every schema's run is recorded with its duration.
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine

ROOT = Path(__file__).resolve().parent.parent
TENANT_TREE = ROOT / "migrations" / "tenant"
PUBLIC_TREE = ROOT / "migrations" / "public"
VERSION_CHUNK = 500


def alembic_config(tree: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(tree))
    return cfg


@lru_cache(maxsize=None)
def _script(tree: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(tree))


def tenant_head() -> str:
    return _script(TENANT_TREE).get_current_head()


def use_tenant_tree(tree: Path) -> None:
    """Point the tenant migrations at another tree (the bench times an additive
    revision on a copy). Worker processes forked afterwards inherit it."""
    global TENANT_TREE
    TENANT_TREE = tree
    _script.cache_clear()


def upgrade_public(engine: Engine) -> None:
    cfg = alembic_config(PUBLIC_TREE)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('medchannel:public-migrations'))"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def upgrade_schema_in(conn: Connection, schema: str, destination: str = "head") -> None:
    """Upgrade one schema inside the caller's transaction."""
    script = _script(TENANT_TREE)
    cfg = alembic_config(TENANT_TREE)
    conn.execute(text("SELECT set_config('search_path', :p, true)"), {"p": f'"{schema}", public'})

    def upgrade(rev, context):
        return script._upgrade_revs(destination, rev)

    with EnvironmentContext(cfg, script, fn=upgrade, destination_rev=destination) as env:
        env.configure(connection=conn, version_table_schema=schema, transactional_ddl=True)
        with env.begin_transaction():
            env.run_migrations()


def schema_versions(conn: Connection, schemas: list[str]) -> dict[str, str | None]:
    """Every schema's current revision, read in a handful of UNION ALL queries."""
    existing = set(
        conn.execute(
            text(
                "SELECT table_schema FROM information_schema.tables "
                "WHERE table_name = 'alembic_version' AND table_schema = ANY(:s)"
            ),
            {"s": schemas},
        ).scalars()
    )
    versions: dict[str, str | None] = {s: None for s in schemas}
    have = [s for s in schemas if s in existing]
    for i in range(0, len(have), VERSION_CHUNK):
        chunk = have[i : i + VERSION_CHUNK]
        sql = " UNION ALL ".join(
            f"SELECT '{s}' AS s, (SELECT version_num FROM \"{s}\".alembic_version LIMIT 1) AS v" for s in chunk
        )
        for s, v in conn.execute(text(sql)):
            versions[s] = v
    return versions


@dataclass
class SchemaResult:
    schema: str
    from_revision: str | None
    to_revision: str
    started_at: datetime
    duration_ms: int
    error: str | None = None


def _record(engine: Engine, results: list[SchemaResult]) -> None:
    if not results:
        return
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO public.schema_migration_runs "
                "(schema_name, from_revision, to_revision, started_at, duration_ms, status, error) "
                "VALUES (:schema, :from_revision, :to_revision, :started_at, :duration_ms, :status, :error)"
            ),
            [
                dict(r.__dict__, status="failed" if r.error else "ok")
                for r in results
            ],
        )


def migrate_one(engine: Engine, schema: str, role: str | None, from_revision: str | None) -> SchemaResult:
    from tenants.provisioning import grant_tenant_role

    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    head = tenant_head()
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": "medchannel:migrate:" + schema})
            upgrade_schema_in(conn, schema)
            if role:
                grant_tenant_role(conn, schema, role)
        error = None
    except Exception as exc:  # recorded and reported; the other schemas go on
        error = f"{type(exc).__name__}: {exc}"
    return SchemaResult(schema, from_revision, head, started, round((time.perf_counter() - t0) * 1000), error)


_worker_engine: Engine | None = None


def _init_worker(url: str) -> None:
    global _worker_engine
    _worker_engine = create_engine(url, pool_size=1, max_overflow=0)


def _migrate_batch(batch: list[tuple[str, str | None, str | None]]) -> list[SchemaResult]:
    return [migrate_one(_worker_engine, schema, role, rev) for schema, role, rev in batch]


@dataclass
class MigrateSummary:
    total: int
    up_to_date: int
    results: list[SchemaResult]
    seconds: float

    @property
    def failed(self) -> list[SchemaResult]:
        return [r for r in self.results if r.error]


def migrate_all(engine: Engine, jobs: int = 2, only: list[str] | None = None) -> MigrateSummary:
    """Bring the template schema and every tenant schema (or those in ``only``) to head."""
    from tenants.provisioning import ensure_template

    t0 = time.perf_counter()
    ensure_template(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT slug, schema_name, role_name FROM public.tenants ORDER BY slug")).all()
        if only is not None:
            rows = [r for r in rows if r.slug in only]
        versions = schema_versions(conn, [r.schema_name for r in rows])
    head = tenant_head()
    pending = [(r.schema_name, r.role_name, versions[r.schema_name]) for r in rows if versions[r.schema_name] != head]
    results: list[SchemaResult] = []
    if pending:
        if jobs <= 1 or len(pending) == 1:
            results = [migrate_one(engine, *p) for p in pending]
        else:
            engine.dispose()  # no pooled connection may cross the fork
            size = max(1, -(-len(pending) // (jobs * 4)))  # a few batches per worker balance the load
            batches = [pending[i : i + size] for i in range(0, len(pending), size)]
            with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(engine.url.render_as_string(hide_password=False),)) as pool:
                for batch_results in pool.map(_migrate_batch, batches):
                    results.extend(batch_results)
        _record(engine, results)
    return MigrateSummary(len(rows), len(rows) - len(pending), results, time.perf_counter() - t0)
