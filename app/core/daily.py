"""Work done once per Shanghai calendar day in every active tenant.

    @daily("stock-expiry", needs_table="stock_balances", actor="stock expiry")
    def expire_due_stock(session, day) -> str | None: ...

registers a periodic task (``app.core.jobs.periodic``) that, the first time the worker's
loop runs on a Shanghai day, calls the function once per active tenant whose schema has
``needs_table`` (a tenant not yet migrated is skipped), in its own pinned transaction
acting as the named system actor. The function returns a line for the log, or None when
there was nothing to do. A Redis key marks the day done only when every tenant
succeeded, so the other minutes of the day cost one Redis read and a failed tenant is
tried again a minute later; each function must therefore be safe to run twice a day.
"""
from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Callable

from sqlalchemy import text

from app.core.i18n import shanghai_today
from app.core.jobs import periodic

log = logging.getLogger(__name__)

DONE_KEY = "medchannel:daily:{name}:done:{day}"


def active_tenants(engine, needs_table: str) -> list:
    """The active tenants (``TenantRef``) whose schema has ``needs_table``, by slug."""
    from tenants.registry import TenantRef

    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, slug, name, schema_name, role_name, status FROM public.tenants WHERE status = 'active' "
            "ORDER BY slug")).all()
        have = set(conn.execute(text(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = :t"), {"t": needs_table}).scalars())
    return [TenantRef(*row) for row in rows if row.schema_name in have]


def run_daily(name: str, fn: Callable, engine, needs_table: str, actor: str, now: datetime | None = None) -> list[str]:
    """``fn(session, day)`` in every active tenant, once per Shanghai day (see the module)."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.core.redis import get_redis
    from tenants.session import tenant_session

    day: date = shanghai_today(now)
    redis, done_key = get_redis(), DONE_KEY.format(name=name, day=day.isoformat())
    if redis.exists(done_key):
        return []
    lines, failed = [], False
    for tenant in active_tenants(engine, needs_table):
        try:
            with tenant_session(db.session, tenant) as session:
                set_context(session, Actor.system(actor))
                line = fn(session, day)
            if line:
                lines.append(f"{tenant.slug}: {line}")
        except Exception:
            failed = True
            log.exception("daily %s failed for %s", name, tenant.slug)
    if not failed:
        redis.set(done_key, "1", ex=2 * 86400)
    return lines


def daily(name: str, needs_table: str, actor: str):
    """Register ``fn(session, day) -> str | None`` to run once per Shanghai day in each
    active tenant. The decorated name becomes ``task(engine, now=None) -> list[str]``,
    what the worker's periodic loop (and a test) calls."""

    def register(fn):
        def task(engine, now: datetime | None = None) -> list[str]:
            return run_daily(name, fn, engine, needs_table, actor, now)

        task.__name__, task.__doc__, task.per_tenant = fn.__name__, fn.__doc__, fn
        return periodic(task)

    return register
