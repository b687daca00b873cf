"""The statement jobs: one dealer's month (``finance.statement``) and the close-of-month
run that asks for one of those per dealer (``finance.statement_run``), so that every
worker shares a run's load.

A statement job is safe to run any number of times: its first step writes the
statement and every line in one transaction (or nothing), and finds that statement
again when it runs a second time (a worker killed mid-way); the PDF is the job's
document; the .xlsx is stored and recorded in the transaction that records the PDF, so
the statement is issued with both documents or not at all. A job whose month has not
changed, or is confirmed, ends without a document.
"""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.compliance.models import Document
from app.compliance.operations import Actor, set_context
from app.core.jobs import JobContext, JobRefused, Output, job_kind
from app.core.storage import get_storage
from app.finance.models import Statement, StatementRun
from app.finance.statements import documents
from app.finance.statements import operations as ops
from app.finance.statements.queries import DEALER_ROLES, MANAGERS, VIEWERS
from tenants.session import current_tenant


def _statement_done(session, job, document) -> None:
    """In the transaction that records the PDF: store the .xlsx, issue the statement
    (superseding older versions), and count the dealer in its run."""
    dealer_id, run_id = int(job.params["dealer_id"]), job.params.get("run_id")
    statement = session.scalar(select(Statement).where(Statement.job_id == job.id))
    if document is not None and statement is not None:
        tenant = current_tenant(session)
        data = documents.render_xlsx(statement, ops.lines_of(session, statement.id), tenant.name)
        key = f"{tenant.slug}/{job.request_id}/{statement.number}.xlsx"
        xlsx = Document(kind="xlsx", filename=f"{statement.number}.xlsx", content_type=documents.XLSX_TYPE,
                        size=len(data), sha256=get_storage().put(key, data), storage_key=key,
                        entity_type="statements", entity_id=str(statement.id), dealer_id=statement.dealer_id,
                        created_by_id=job.requested_by_id)
        session.add(xlsx)
        session.flush()
        ops.issue(session, statement, document, xlsx)
        outcome = "issued"
    else:
        period = date.fromisoformat(job.params["period_start"])
        statement = ops.current(session, dealer_id, period)
        outcome = "kept" if statement is not None and statement.status == "confirmed" else "unchanged"
    if run_id is not None:
        ops.record_outcome(session, int(run_id), dealer_id, outcome, statement.id if statement is not None else None)


def _statement_failed(session, job) -> None:
    ops.fail(session, job.id)
    if job.params.get("run_id") is not None:
        ops.record_outcome(session, int(job.params["run_id"]), int(job.params["dealer_id"]), "failed", None)


@job_kind(ops.STATEMENT_JOB, _l("Reconciliation statement"), roles=VIEWERS, timeout=1800, on_done=_statement_done,
          on_failed=_statement_failed, portal_roles=DEALER_ROLES)
def statement(ctx: JobContext) -> Output | None:
    """Generate one dealer's statement of a month, then print it."""
    from app.channel.models import Dealer

    try:
        dealer_id, period = int(ctx.params["dealer_id"]), date.fromisoformat(ctx.params["period_start"])
    except (KeyError, TypeError, ValueError):
        raise JobRefused("bad parameters") from None
    run_id = ctx.params.get("run_id")
    with ctx.session() as session:
        set_context(session, Actor.system(f"job {ops.STATEMENT_JOB}"))
        if session.get(Dealer, dealer_id) is None:
            raise JobRefused(_("No such dealer."))
        generated = ops.generate(session, dealer_id, period, job_id=ctx.job_id,
                                 run_id=int(run_id) if run_id is not None else None)
        if generated.statement is not None and generated.statement.status == "failed":
            generated.statement.status = "generating"  # a failed job tried again picks up its statement
        statement_id = generated.statement.id if generated.statement is not None else None
        kept_version = generated.statement.version if generated.statement is not None else None
    if generated.outcome == "unchanged":
        ctx.progress(100, _("Nothing changed in the records: version %(v)d is kept.", v=kept_version))
        return None
    if generated.outcome == "kept":
        ctx.progress(100, _("The dealer confirmed this month: its statement is final."))
        return None
    ctx.progress(30, _("Laying out the statement"))
    with ctx.session() as session:
        row = session.get(Statement, statement_id)
        previous = session.get(Statement, row.previous_statement_id) if row.previous_statement_id else None
        data = documents.render_pdf(row, ops.lines_of(session, row.id), ctx.tenant.name,
                                    previous.number if previous is not None else None)
        filename = f"{row.number}.pdf"
    return Output(filename, data, "application/pdf", "pdf")


def _run_done(session, job, document) -> None:
    ops.refresh_run(session, int(job.params["run_id"]))


def _run_failed(session, job) -> None:
    from app.compliance.operations import lock_audit_chain

    lock_audit_chain(session)
    run = session.get(StatementRun, int(job.params["run_id"]), with_for_update=True)
    if run is not None and run.status == "running":
        ops.refresh_run(session, run.id)
        run.status = "failed"
        session.flush()


@job_kind(ops.RUN_JOB, _l("Close-of-month statements"), roles=MANAGERS, timeout=1800, on_done=_run_done,
          on_failed=_run_failed)
def statement_run(ctx: JobContext) -> None:
    """Ask for one statement job per dealer of the month (the jobs spread over the workers)."""
    try:
        run_id = int(ctx.params["run_id"])
    except (KeyError, TypeError, ValueError):
        raise JobRefused("bad parameters") from None
    with ctx.session() as session:
        set_context(session, Actor.system(f"job {ops.RUN_JOB}"))
        if session.get(StatementRun, run_id) is None:
            raise JobRefused("no such run")
        count = ops.plan_run(session, run_id)
    ctx.progress(100, _("%(n)d dealer statement(s) requested.", n=count))
    return None

