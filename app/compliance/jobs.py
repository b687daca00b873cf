"""Background jobs of the compliance domain: audit trail exports (CSV, Excel, PDF), the
printed approval record, and data migration (imports and list exports)."""
from __future__ import annotations

import csv
import io
import json

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

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


# --- data migration: imports and list exports --------------------------------------------

@job_kind("data.import", _l("Data import"), roles=("admin", "channel_manager", "qa_ra", "finance"))
def data_import(ctx: JobContext) -> Output:
    """Check an uploaded file row by row and, if every row is right and it is not a dry
    run, keep all its writes in one transaction; the validation report is the output.
    Safe to run twice: a finished import only rebuilds its report."""
    from app.compliance import imports
    from app.compliance.models import Document, ImportRun
    from app.compliance.operations import Actor, reason, record_event, set_context
    from app.core.jobs import JobRefused
    from app.core.storage import get_storage
    from app.identity.models import User

    run_id = int(ctx.params["import_run_id"])
    with ctx.session() as session:
        run = session.get(ImportRun, run_id, with_for_update=True)
        if run is None:
            raise JobRefused("no such import")
        upload = session.get(Document, run.upload_document_id)
        spec = imports.SPECS.get(run.entity)
        finished = run.status in ("imported", "checked", "rejected")
        if not finished:
            run.status = "running"
        info = dict(entity=run.entity, filename=run.filename, dry_run=run.dry_run, key=upload.storage_key,
                    sha256=upload.sha256, user_id=run.requested_by_id, status=run.status,
                    errors=list(run.errors), total=run.total_rows, taken=run.taken_rows)
    if spec is None:
        raise JobRefused(f"no import for {info['entity']!r}")
    data = get_storage().get(info["key"], info["sha256"])
    if finished:  # a second run of a finished import: the same report again, nothing applied
        from app.core.tabular import TableError, read_table

        try:
            table = read_table(info["filename"], data)
        except TableError:
            table = None
        outcome = imports.Outcome(total=info["total"], taken=info["taken"])
        for e in info["errors"]:
            outcome.add(e["row"], e["column"], e["value"], e["message"])
        return _import_report(ctx, run_id, spec, info, table, outcome, info["status"])

    def progress(done: int, total: int) -> None:
        ctx.progress(int(95 * done / max(total, 1)), _("Row %(done)d of %(total)d", done=done, total=total))

    try:
        with ctx.session() as session:
            user = session.get(User, info["user_id"]) if info["user_id"] else None
            set_context(session, Actor.user(user) if user else Actor.system("data import"))
            with reason(session, _("Import #%(id)d (%(file)s)", id=run_id, file=info["filename"])):
                table, outcome = imports.check_and_import(session, spec, info["filename"], data, user, progress)
            status = "rejected" if outcome.errors else "checked" if info["dry_run"] else "imported"
            if status != "imported":
                session.rollback()  # all or nothing; the outcome is written in a new, short transaction
            run = session.get(ImportRun, run_id)
            stored = outcome.errors[:imports.MAX_STORED_ERRORS]
            if len(outcome.errors) > len(stored):
                stored.append({"row": None, "column": "", "value": "", "message": _(
                    "… and %(n)d more errors: see the report.", n=len(outcome.errors) - len(stored))})
            run.status, run.total_rows, run.taken_rows, run.errors = status, outcome.total, outcome.taken, stored
            run.finished_at = session.execute(select(func.now())).scalar()
            record_event(session, "import", "import_runs", run_id, after={
                "entity": info["entity"], "filename": info["filename"], "dry_run": info["dry_run"], "status": status,
                "rows": outcome.total, "taken": outcome.taken, "errors": len(outcome.errors)})
    except Exception:
        with ctx.session() as session:
            set_context(session, Actor.system("data import"))
            run = session.get(ImportRun, run_id)
            if run is not None and run.status == "running":
                run.status = "failed"
        raise
    return _import_report(ctx, run_id, spec, info, table, outcome, status)


def _import_report(ctx, run_id, spec, info, table, outcome, status) -> Output:
    from app.compliance import imports

    data = imports.report_xlsx(spec, info["filename"], table, outcome, status, info["dry_run"])
    return Output(f"import-{run_id}-report.xlsx", data, imports.XLSX_TYPE, "xlsx")


@job_kind("data.export_xlsx", _l("List export (Excel)"), roles=("admin",))
def data_export_xlsx(ctx: JobContext) -> Output:
    """Every row of a list as its requester sees it there (same scope and filters)."""
    from app.compliance import exports
    from app.core.jobs import JobRefused
    from app.identity.models import User

    export = exports.EXPORTS.get(ctx.params.get("list", ""))
    if export is None:
        raise JobRefused("no such list")
    with ctx.session() as session:
        user = session.get(User, ctx.requested_by_id) if ctx.requested_by_id else None
        if user is None or not user.active or not export.allows(user):
            raise JobRefused("the requester may not see this list")
        params = dict(ctx.params.get("params") or {})
        if export.found and not export.found(session, user, params):
            raise JobRefused("the list's record is gone or out of the requester's reach")
        data = exports.export_xlsx(session, export, user, params,
                                   lambda n: ctx.progress(min(95, 5 + n // 200), _("%(n)d rows", n=n)))
    return Output(f"{export.name}-{ctx.tenant.slug}-{ctx.job_id}.xlsx", data, exports.XLSX_TYPE, "xlsx")
