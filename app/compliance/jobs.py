"""Audit trail exports, run in the background (CSV for spreadsheets, PDF for the file)."""
from __future__ import annotations

import csv
import io
import json

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.compliance.queries import AuditFilter, audit_count, audit_rows
from app.core.jobs import JobContext, Output, job_kind
from app.core.pdf import render_pdf

AUDIT_ROLES = ("admin", "qa_ra")
PDF_ROW_LIMIT = 5000


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@job_kind("audit.export_csv", _l("Audit trail export (CSV)"), roles=AUDIT_ROLES)
def export_csv(ctx: JobContext) -> Output:
    flt = AuditFilter.from_params(ctx.params)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["seq", "occurred_at_utc", "actor_type", "actor_id", "actor", "action", "entity_type", "entity_id",
                     "before", "after", "reason", "request_id", "client_ip", "prev_hash", "hash"])
    with ctx.session() as session:
        total = max(audit_count(session, flt), 1)
        for i, ev in enumerate(audit_rows(session, flt), 1):
            writer.writerow([ev.seq, ev.occurred_at.isoformat(), ev.actor_type, ev.actor_id or "", ev.actor_label or "",
                             ev.action, ev.entity_type, ev.entity_id or "", _json(ev.before), _json(ev.after),
                             ev.reason or "", ev.request_id or "", ev.client_ip or "", ev.prev_hash, ev.hash])
            if i % 500 == 0:
                ctx.progress(int(95 * i / total))
    # UTF-8 with BOM: Excel on Chinese Windows opens it with the right encoding.
    return Output(f"audit-{ctx.tenant.slug}-{ctx.job_id}.csv", buf.getvalue().encode("utf-8-sig"),
                  "text/csv; charset=utf-8", "csv")


@job_kind("audit.export_xlsx", _l("Audit trail export (Excel)"), roles=AUDIT_ROLES)
def export_xlsx(ctx: JobContext) -> Output:
    from openpyxl import Workbook

    flt = AuditFilter.from_params(ctx.params)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Audit trail"))
    sheet.append(["seq", "occurred_at_utc", "actor", "action", "entity_type", "entity_id", "before", "after", "reason",
                  "request_id", "client_ip", "hash"])
    with ctx.session() as session:
        total = max(audit_count(session, flt), 1)
        for i, ev in enumerate(audit_rows(session, flt), 1):
            sheet.append([ev.seq, ev.occurred_at.replace(tzinfo=None), ev.actor_label or ev.actor_type, ev.action,
                          ev.entity_type, ev.entity_id or "", _json(ev.before), _json(ev.after), ev.reason or "",
                          ev.request_id or "", ev.client_ip or "", ev.hash])
            if i % 500 == 0:
                ctx.progress(int(95 * i / total))
    buf = io.BytesIO()
    book.save(buf)
    return Output(f"audit-{ctx.tenant.slug}-{ctx.job_id}.xlsx", buf.getvalue(),
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")


@job_kind("audit.export_pdf", _l("Audit trail export (PDF)"), roles=AUDIT_ROLES)
def export_pdf(ctx: JobContext) -> Output:
    flt = AuditFilter.from_params(ctx.params)
    with ctx.session() as session:
        total = audit_count(session, flt)
        events = []
        for ev in audit_rows(session, flt):
            events.append(ev)
            if len(events) >= PDF_ROW_LIMIT:
                break
        ctx.progress(40, _("Laying out the document"))
        data = render_pdf("documents/audit_export.html", events=events, total=total, flt=flt, tenant=ctx.tenant,
                          limit=PDF_ROW_LIMIT, job_id=ctx.job_id)
    return Output(f"audit-{ctx.tenant.slug}-{ctx.job_id}.pdf", data, "application/pdf", "pdf")


@job_kind("approvals.record_pdf", _l("Signed approval record (PDF)"), roles=AUDIT_ROLES)
def approval_record_pdf(ctx: JobContext) -> Output:
    """The printed form of a request: its facts, route and every decision with the
    manifestation of its electronic signature."""
    from app.compliance import approvals
    from app.compliance.models import ApprovalRequest
    from app.core.jobs import JobRefused

    with ctx.session() as session:
        request = session.get(ApprovalRequest, int(ctx.params["request_id"]))
        if request is None:
            raise JobRefused("no such request")
        signatures = {s.id: s for s in approvals.signatures_for(session, "approval_requests", request.id)}
        data = render_pdf("documents/approval_record.html", req=request, kind=approvals.KINDS.get(request.kind),
                          signatures=signatures, tenant=ctx.tenant)
        filename = f"approval-{request.id}-v{request.version}.pdf"
    return Output(filename, data, "application/pdf", "pdf")
