"""Our reconciliation statements (对账单): the list by month, one statement with its
figures traced to their lines and its lines to their records, the confirmation (an
electronic signature) and disputes of named lines — never another dealer's."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.coerce import as_id
from app.core.db import db
from app.core.handlers import RHDealer
from app.core.htmx import redirect, render_page
from app.finance.statements import operations as ops
from app.finance.statements import queries as q
from portals import statements as shared
from portals.forms import refused

TEMPLATE = "dealer/statement.html"


class RHStatements(RHDealer):
    """Our statements, newest first, by month and status."""

    roles = q.DEALER_ROLES

    def get(self):
        f = q.statement_filter(request.args)
        page = q.statements_page(db.session, shared.scope(), f, request.args.get("after"))
        return render_page("dealer/statements.html", block="results", page=page, f=f, month_text=request.args.get("month", ""),
                           status_labels=q.STATUS_LABELS, badges=q.STATUS_BADGES, dealer_statuses=q.DEALER_VISIBLE)


class RHStatementRecord(RHDealer):
    roles = q.DEALER_ROLES

    def _load(self, statement_id, **kwargs):
        self.statement = shared.load_statement(statement_id)


def statement_page(statement, errors: dict | None = None, form: dict | None = None, status: int = 200):
    return render_page(TEMPLATE, block="lines" if not errors else "content", status=status,
                       **shared.statement_context(statement, errors, form, portal="dealer"))


class RHStatement(RHStatementRecord):
    def get(self, statement_id):
        return statement_page(self.statement)


class RHStatementConfirm(RHStatementRecord):
    """Confirm with an electronic signature: the password again (and the code from the
    authenticator app with two-step verification)."""

    def post(self, statement_id):
        try:
            ops.confirm(db.session, self.statement, current_user, request.form.get("password", ""),
                        request.form.get("totp_code"))
        except ops.StatementError as err:
            # nothing was written but the refusal's audit event, which is kept (not rolled back)
            field = err.field if err.field in ("password", "totp_code") else "form"
            return statement_page(self.statement, {field: err.message}, status=400)
        flash(_("Statement %(number)s confirmed and signed.", number=self.statement.number), "success")
        return redirect(url_for("dealer.statement", statement_id=self.statement.id))


class RHStatementDispute(RHStatementRecord):
    """Dispute the statement, or the lines ticked, with a comment for finance."""

    def post(self, statement_id):
        line_ids = [i for i in (as_id(v) for v in request.form.getlist("line_id")[:5000]) if i is not None]
        comment = request.form.get("comment", "")
        try:
            ops.dispute(db.session, self.statement, current_user, line_ids, comment)
        except ops.StatementError as err:
            errors = refused(err, fields=("comment", "line_ids"))
            return statement_page(shared.load_statement(statement_id), errors,
                                  {"comment": comment[:ops.MAX_COMMENT], "line_ids": set(line_ids)}, status=400)
        flash(_("Your dispute was sent to the manufacturer's finance team."), "success")
        return redirect(url_for("dealer.statement", statement_id=self.statement.id))


class RHStatementFile(shared.StatementFile, RHDealer):
    roles = q.DEALER_ROLES
