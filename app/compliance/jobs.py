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
