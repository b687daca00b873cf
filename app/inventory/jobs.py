"""Inventory's scheduled work: once a day, available stock past its expiry date moves
to ``expired`` (movement kind "expiry") in every active tenant, so FEFO, the stock
overview and the alerts never count it as sellable."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import text

from app.core.i18n import shanghai_today
from app.core.jobs import periodic

log = logging.getLogger(__name__)

DONE_KEY = "medchannel:stock-expiry:done:{day}"


@periodic
def expire_due_stock(engine, now: datetime | None = None) -> list[str]:
    """Once per Shanghai calendar day: ``expire_stock`` in each active tenant. Safe to
    run twice (nothing is left to expire); a Redis key makes the other minutes of the
    day one Redis read."""
    from app.compliance.operations import Actor, set_context
    from app.core.db import db
    from app.core.redis import get_redis
    from app.inventory.operations import expire_stock
    from tenants.registry import TenantRef
    from tenants.session import tenant_session

    day = shanghai_today(now)
    redis, done_key = get_redis(), DONE_KEY.format(day=day.isoformat())
    if redis.exists(done_key):
        return []
    with engine.connect() as conn:
        tenants = conn.execute(text(
            "SELECT id, slug, name, schema_name, role_name, status FROM public.tenants WHERE status = 'active' "
            "ORDER BY slug")).all()
        have_stock = set(conn.execute(text(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'stock_balances'")).scalars())
    actions, failed = [], False
    for row in tenants:
        if row.schema_name not in have_stock:
            continue
        tenant = TenantRef(*row)
        try:
            with tenant_session(db.session, tenant) as session:
                set_context(session, Actor.system("stock expiry"))
                moved = expire_stock(session, day)
            if moved:
                actions.append(f"{tenant.slug}: {moved} balance(s) of stock expired on {day}")
        except Exception:
            failed = True
            log.exception("could not expire stock for %s", tenant.slug)
    if not failed:
        redis.set(done_key, "1", ex=2 * 86400)
    return actions
