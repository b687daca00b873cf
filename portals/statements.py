"""Statement pages shared by the dealer and manufacturer portals: loading a statement
within the user's scope, the page's context (figures that link to their lines, lines
that link to their source records, versions, disputes, the signature), and downloads of
the statement's PDF and .xlsx (checked against their SHA-256 like every document)."""
from __future__ import annotations

from flask import abort, current_app, request, url_for
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.compliance import approvals
from app.compliance.models import Document
from app.core.db import db
from app.core.handlers import get_or_404
from app.finance.statements import queries as q
from app.finance.statements import rules
from portals.files.routes import RHDocument

#: where a line's source record is shown in each portal (linked only where the page exists)
SOURCE_PAGES = {"invoices": ("invoice", "invoice_id"), "payments": ("payment", "payment_id"),
                "rebate_ledger_entries": ("rebate_entry", "entry_id")}


def source_url(portal: str, ref_type: str, ref_id: int) -> str | None:
    """The page of a line's source record in ``portal``, or None when that page does not exist."""
    page = SOURCE_PAGES.get(ref_type)
    if page is None:
        return None
    endpoint = f"{portal}.{page[0]}"
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **{page[1]: ref_id})


def scope():
    return ChannelScope.of(current_user)


def load_statement(statement_id) -> object:
    return get_or_404(q.statement_for(db.session, scope(), statement_id))


def shown_filter() -> str:
    show = request.args.get("show", "")
    return show if show in q.SHOW_CHOICES else ""


def statement_context(statement, errors: dict | None = None, form: dict | None = None, **extra) -> dict:
    """What a statement page shows, for either portal."""
    show = shown_filter()
    disputes = q.disputes_of(db.session, [statement.id])
    disputed_ids = sorted({i for d in disputes for i in (d.statement_line_ids or [])})
    page = q.lines_page(db.session, statement, show, request.args.get("after"), disputed_ids)
    totals = q.line_totals(db.session, statement, show, disputed_ids)
    previous = db.session.get(type(statement), statement.previous_statement_id) if statement.previous_statement_id else None
    signature = None
    if statement.signature_id:
        signature = next((s for s in approvals.signatures_for(db.session, "statements", statement.id)
                          if s.id == statement.signature_id), None)
    versions = q.versions_of(db.session, scope(), statement)
    people = q.people(db.session, [d.raised_by_id for d in disputes] + [d.resolved_by_id for d in disputes])
    return dict(st=statement, dealer=statement.dealer, page=page, show=show, totals=totals, previous=previous,
                disputes=disputes, disputed_ids=set(disputed_ids), signature=signature, versions=versions,
                newest=versions[0] if versions else statement, errors=errors or {}, form=form or {},
                figures=rules.FIGURES, figure_labels=q.FIGURE_LABELS, figure_lines=rules.FIGURE_LINES,
                kind_labels=q.KIND_LABELS, section_labels=q.SECTION_LABELS, status_labels=q.STATUS_LABELS,
                badges=q.STATUS_BADGES, dispute_labels=q.DISPUTE_LABELS, source_url=source_url, people=people,
                lines_by_id=lambda ids: q.lines_by_id(db.session, statement.id, ids or []), **extra)


class StatementFile(RHDocument):
    """A statement's PDF or .xlsx, for whoever may see the statement (the portal's
    handler class decides who that is)."""

    def _load(self, statement_id, kind):
        statement = load_statement(statement_id)
        document_id = {"pdf": statement.pdf_document_id, "xlsx": statement.xlsx_document_id}.get(kind)
        if document_id is None:
            abort(404)
        self.document = get_or_404(db.session.get(Document, document_id))

    def get(self, statement_id, kind):
        return super().get(document_id=self.document.id)
