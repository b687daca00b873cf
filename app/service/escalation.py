"""Escalation of overdue service tickets, every few minutes in every active tenant.

A periodic task of the worker (``app.core.jobs.periodic``): at most once per
``EVERY_SECONDS`` (a Redis key), for each active tenant with tickets, it calls
``app.service.tickets.escalate_overdue`` in its own pinned transaction acting as the
system actor "ticket escalation". The function never lowers a level and only writes
when a ticket climbs one, so running it twice is harmless.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from app.core.jobs import periodic

log = logging.getLogger(__name__)

EVERY_SECONDS = 300
THROTTLE_KEY = "medchannel:ticket-escalation"


def run_escalation(engine, now: datetime | None = None, force: bool = False) -> list[str]:
    from app.compliance.operations import Actor, set_context
    from app.core.daily import active_tenants
    from app.core.db import db
    from app.core.redis import get_redis
    from app.service.tickets import escalate_overdue
    from tenants.session import tenant_session

    if not force and not get_redis().set(THROTTLE_KEY, "1", ex=EVERY_SECONDS, nx=True):
        return []
    now = now or datetime.now(timezone.utc)
    lines = []
    for tenant in active_tenants(engine, "service_tickets"):
        try:
            with tenant_session(db.session, tenant) as session:
                set_context(session, Actor.system("ticket escalation"))
                raised = escalate_overdue(session, now)
            if raised:
                lines.append(f"{tenant.slug}: escalated {raised} service tickets")
        except Exception:
            log.exception("ticket escalation failed for %s", tenant.slug)
    return lines


@periodic
def escalate_tickets(engine) -> list[str]:
    """The worker's periodic entry point."""
    return run_escalation(engine)
