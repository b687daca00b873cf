"""The recall report (召回报告) PDF, rendered by a worker: the campaign, its scope, the
frozen trace per holder and lot, every notice with its acknowledgement and report, and
effectiveness per region — what the regulator asks for."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.i18n import shanghai_today
from app.core.jobs import JobContext, JobRefused, Output, job_kind
from app.service.recall_queries import RECALL_VIEWERS
from app.service.recalls import RECALL_REPORT_JOB


def _report_done(session, job, document) -> None:
    """Point the campaign at its newest report."""
    from app.compliance.models import Document
    from app.service.models import RecallCampaign

    campaign = session.get(RecallCampaign, int(job.params["campaign_id"]))
    if campaign is None:
        return
    current = session.get(Document, campaign.report_document_id) if campaign.report_document_id else None
    if current is None or (current.job_id or 0) < job.id:
        campaign.report_document_id = document.id
        session.flush()


@job_kind(RECALL_REPORT_JOB, _l("Recall report (PDF)"), roles=RECALL_VIEWERS, timeout=900, on_done=_report_done)
def recall_report(ctx: JobContext) -> Output:
    from app.core.pdf import render_pdf
    from app.service import recall_queries as q
    from app.service.recalls import campaign_class_label

    with ctx.session() as session:
        campaign = q.campaign(session, int(ctx.params["campaign_id"]))
        if campaign is None:
            raise JobRefused(_("No such recall campaign."))
        ctx.progress(10, _("Reading the trace"))
        holdings = q.holdings(session, campaign.id)
        names = q.frozen_parties(session, holdings)
        lots = q.lots_by_id(session, [h.lot_id for h in holdings])
        ctx.progress(40, _("Reading the notices"))
        notices = q.notices(session, campaign.id)
        total, regions = q.effectiveness(session, campaign.id)
        region_names = q.region_names(session, [r.region_id for r in regions])
        units = q.installed_units(session, campaign.id)
        ctx.progress(60, _("Laying out the report"))
        data = render_pdf("documents/recall_report.html", campaign=campaign, scopes=q.scopes(session, campaign.id),
                          holdings=holdings, names=names, lots=lots, notices=notices, total=total, regions=regions,
                          region_names=region_names, units=units, tenant=ctx.tenant, issued_on=shanghai_today(),
                          class_label=campaign_class_label(campaign.classification))
        ctx.progress(95, _("Storing the report"))
        filename = f"{campaign.number}.pdf"
    return Output(filename, data, "application/pdf", "pdf")

