"""Background work on orders: the packing list (装箱单) PDF of a shipment, and
re-allocating every open back-order (after receipts, QC releases or transfers), oldest
order first — safe to run twice: it only allocates what is still missing."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.channel.queries import CHANNEL_VIEWERS
from app.compliance.operations import Actor, set_context
from app.core.i18n import shanghai_today
from app.core.jobs import JobContext, JobRefused, Output, job_kind

PACKING_LIST_JOB = "orders.packing_list"


def _packing_list_done(session, job, document) -> None:
    """Link the shipment to its newest packing list."""
    from app.compliance.models import Document
    from app.orders.models import Shipment

    shipment = session.get(Shipment, int(job.params["shipment_id"]))
    if shipment is None:
        return
    current = session.get(Document, shipment.packing_list_document_id) if shipment.packing_list_document_id else None
    if current is None or (current.job_id or 0) < job.id:
        shipment.packing_list_document_id = document.id
        session.flush()


@job_kind(PACKING_LIST_JOB, _l("Packing list (PDF)"), roles=CHANNEL_VIEWERS, timeout=300, on_done=_packing_list_done)
def packing_list(ctx: JobContext) -> Output:
    from app.core.pdf import render_pdf
    from app.orders.models import Shipment

    with ctx.session() as session:
        shipment = session.get(Shipment, int(ctx.params["shipment_id"]))
        if shipment is None:
            raise JobRefused(_("No such shipment."))
        ctx.progress(30, _("Laying out the packing list"))
        order = shipment.order
        destination = order.hospital if shipment.ship_to == "hospital" else order.dealer
        data = render_pdf("documents/packing_list.html", shipment=shipment, order=order, destination=destination,
                          lines=shipment.lines, tenant=ctx.tenant, issued_on=shanghai_today(),
                          units=sum(line.quantity for line in shipment.lines))
        filename = f"{shipment.number}.pdf"
    return Output(filename, data, "application/pdf", "pdf")


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
    return Output("reallocation.txt", (_("Orders that received units: %(n)d", n=served) + "\n").encode(), "text/plain", "txt")
