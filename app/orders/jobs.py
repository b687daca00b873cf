"""Background work for fulfilment: the packing list (装箱单) PDF of a shipment."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.channel.queries import CHANNEL_VIEWERS
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
            raise JobRefused("no such shipment")
        ctx.progress(30, _("Laying out the packing list"))
        order = shipment.order
        destination = order.hospital if shipment.ship_to == "hospital" else order.dealer
        data = render_pdf("documents/packing_list.html", shipment=shipment, order=order, destination=destination,
                          lines=shipment.lines, tenant=ctx.tenant, issued_on=shanghai_today(),
                          units=sum(line.quantity for line in shipment.lines))
        filename = f"{shipment.number}.pdf"
    return Output(filename, data, "application/pdf", "pdf")
