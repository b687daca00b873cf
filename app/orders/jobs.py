"""Background work on orders: re-allocating every open back-order (after receipts, QC
releases or transfers), oldest order first. Safe to run twice: it only allocates what
is still missing."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.compliance.operations import Actor, set_context
from app.core.jobs import JobContext, Output, job_kind

REALLOCATE_JOB = "orders.reallocate"
REALLOCATE_ROLES = ("admin", "channel_manager")


@job_kind(REALLOCATE_JOB, _l("Re-allocate back-orders"), roles=REALLOCATE_ROLES, timeout=1800)
def reallocate_backorders(ctx: JobContext) -> Output:
    from app.orders.operations import reallocate_open_orders

    ctx.progress(10)
    with ctx.session() as session:
        set_context(session, Actor.system(f"job {REALLOCATE_JOB}"))
        served = reallocate_open_orders(session, actor_id=ctx.requested_by_id, limit=100_000)
    ctx.progress(100)
    return Output("reallocation.txt", f"orders that received units: {served}\n".encode(), "text/plain", "txt")
