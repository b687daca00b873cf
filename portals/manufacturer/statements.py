"""Reconciliation statements for the manufacturer: close-of-month runs with their
progress, every dealer's statements (a regional manager: in their regions) with the
export, one statement traced to its lines and records, a new version on request, and
the finance inbox of disputes with answers and corrections."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel.queries import regions as all_regions
from app.compliance import queries as compliance_q
from app.core.coerce import as_id
from app.core.db import db
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.finance.statements import operations as ops
from app.finance.statements import queries as q
from app.finance.statements import rules
from portals import statements as shared
from portals.forms import refused


def _can_manage() -> bool:
    return current_user.has_role(*q.MANAGERS)


def list_page(errors: dict | None = None, form: dict | None = None, status: int = 200):
    f = q.statement_filter(request.args)
    page = q.statements_page(db.session, shared.scope(), f, request.args.get("after"))
    today = shanghai_today()
    return render_page("manufacturer/statements.html", block="results", status=status, page=page, f=f,
                       month_text=request.args.get("month", ""), status_labels=q.STATUS_LABELS, badges=q.STATUS_BADGES,
                       regions=all_regions(db.session, max_level=1), can_manage=_can_manage(),
                       runs=q.recent_runs(db.session) if _can_manage() else [], run_labels=q.RUN_LABELS,
                       outcome_labels=q.OUTCOME_LABELS, months=q.month_choices(today), errors=errors or {},
                       form=form or {}, open_disputes=q.open_dispute_count(db.session, shared.scope()))


class RHStatements(RHManufacturer):
    """Statements by month, dealer, status and region; the close-of-month runs."""

    roles = q.VIEWERS

    def get(self):
        return list_page()


class RHStatementRunStart(RHManufacturer):
    """Start the close-of-month run for a month (a double click is the same run)."""

    roles = q.MANAGERS

    def post(self):
        month = rules.parse_month(request.form.get("month"))
        form = {"month": request.form.get("month", "")}
        if month is None:
            return list_page({"month": _("Choose a month.")}, form, status=400)
        try:
            run = ops.start_run(db.session, month, current_user, (request.form.get("request_id") or "")[:32])
        except ops.StatementError as err:
            return list_page(refused(err, fields=("month",)), form, status=400)
        flash(_("Statements for %(month)s are being generated.", month=month.strftime("%Y-%m")), "info")
        return redirect(url_for("manufacturer.statement_run", run_id=run.id))


class RHStatementRunRecord(RHManufacturer):
    roles = q.MANAGERS

    def _load(self, run_id, **kwargs):
        self.run = get_or_404(q.run_for(db.session, run_id))


class RHStatementRun(RHStatementRunRecord):
    """One run's progress (the fragment polls itself while the run works)."""

    def get(self, run_id):
        return render_page("manufacturer/statement_run.html", block="progress", p=q.run_progress(db.session, self.run),
                           run_labels=q.RUN_LABELS, outcome_labels=q.OUTCOME_LABELS, errors={})


class RHStatementRunRetry(RHStatementRunRecord):
    """Run the failed statements of a run again (all, or one dealer's)."""

    def post(self, run_id):
        try:
            count = ops.retry_failed(db.session, self.run, as_id(request.form.get("item_id")))
        except ops.StatementError as err:
            errors = refused(err)
            return render_page("manufacturer/statement_run.html", status=400, p=q.run_progress(db.session, self.run),
                               run_labels=q.RUN_LABELS, outcome_labels=q.OUTCOME_LABELS, errors=errors)
        flash(_("%(n)d statement(s) will be generated again.", n=count), "info")
        return redirect(url_for("manufacturer.statement_run", run_id=self.run.id))


class RHStatementRecord(RHManufacturer):
    roles = q.VIEWERS

    def _load(self, statement_id, **kwargs):
        self.statement = shared.load_statement(statement_id)


def statement_page(statement, errors: dict | None = None, form: dict | None = None, status: int = 200):
    job = None
    job_id = as_id(request.args.get("job"))
    if job_id is not None:
        job = compliance_q.job_for(db.session, current_user, job_id)
    return render_page("manufacturer/statement.html", block="lines" if not errors else "content", status=status,
                       **shared.statement_context(statement, errors, form, portal="manufacturer", job=job,
                                                  can_manage=_can_manage()))


class RHStatement(RHStatementRecord):
    def get(self, statement_id):
        return statement_page(self.statement)


class RHStatementRegenerate(RHStatementRecord):
    """Generate the month again: a new version if the records changed (after a payment
    was recorded late, an invoice voided…), nothing new otherwise."""

    roles = q.MANAGERS

    def post(self, statement_id):
        try:
            job = ops.request_statement(db.session, self.statement.dealer, self.statement.period_start, current_user,
                                        (request.form.get("request_id") or "")[:32] or "x")
        except ops.StatementError as err:
            return statement_page(shared.load_statement(statement_id), refused(err, fields=()), status=400)
        return redirect(url_for("manufacturer.statement", statement_id=self.statement.id, job=job.id))


# --- the finance inbox ---------------------------------------------------------------------

def disputes_page(errors: dict | None = None, status: int = 200, error_dispute: int | None = None, form=None):
    tab = request.args.get("status", "open")
    tab = tab if tab in q.DISPUTE_LABELS or tab == "all" else "open"
    page = q.disputes_page(db.session, shared.scope(), tab, request.args.get("after"))
    return render_page("manufacturer/statement_disputes.html", block="results", status=status, page=page, tab=tab,
                       dispute_labels=q.DISPUTE_LABELS, kind_labels=q.KIND_LABELS, status_labels=q.STATUS_LABELS,
                       badges=q.STATUS_BADGES, can_manage=_can_manage(), errors=errors or {},
                       error_dispute=error_dispute, form=form or {},
                       lines_by_id=lambda st, ids: q.lines_by_id(db.session, st.id, ids or []),
                       source_url=shared.source_url)


class RHStatementDisputes(RHManufacturer):
    roles = q.VIEWERS

    def get(self):
        return disputes_page()


class RHDisputeRecord(RHManufacturer):
    roles = q.MANAGERS

    def _load(self, dispute_id, **kwargs):
        self.dispute = get_or_404(q.dispute_for(db.session, shared.scope(), dispute_id))


class RHDisputeAnswer(RHDisputeRecord):
    """Answer a dispute without a new version (the statement was right)."""

    def post(self, dispute_id):
        text_ = request.form.get("resolution", "")
        try:
            ops.answer(db.session, self.dispute, current_user, text_)
        except ops.StatementError as err:
            return disputes_page(refused(err, fields=("resolution",)), status=400, error_dispute=dispute_id,
                                 form={"resolution": text_[:ops.MAX_COMMENT]})
        flash(_("Answer sent to the dealer."), "success")
        return redirect(url_for("manufacturer.statement_disputes"))


class RHDisputeCorrect(RHDisputeRecord):
    """Generate a corrected version: it supersedes the disputed one (kept, still
    downloadable) and resolves the dispute, if the records now differ."""

    def post(self, dispute_id):
        from app.finance.models import Statement

        if self.dispute.status != "open":
            return disputes_page({"form": _("This dispute is already resolved.")}, status=400, error_dispute=dispute_id)
        statement = db.session.get(Statement, self.dispute.statement_id)
        try:
            job = ops.request_statement(db.session, statement.dealer, statement.period_start, current_user,
                                        (request.form.get("request_id") or "")[:32] or f"d{self.dispute.id}",
                                        dispute=self.dispute)
        except ops.StatementError as err:
            return disputes_page(refused(err, fields=()), status=400, error_dispute=dispute_id)
        flash(_("A corrected version is being generated from the records as they are now."), "info")
        return redirect(url_for("manufacturer.statement", statement_id=statement.id, job=job.id))


class RHStatementFile(shared.StatementFile, RHManufacturer):
    roles = q.VIEWERS
