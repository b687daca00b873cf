"""Reading statements, their lines, disputes and runs — always within the acting
user's ``ChannelScope``: a dealer's users see their own dealer's issued statements, a
regional manager the dealers of their regions, the rest of the manufacturer every dealer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, or_, select, text
from sqlalchemy.orm import Session

from app.channel.models import Dealer, Region
from app.channel.queries import ChannelScope
from app.compliance.models import Job
from app.core.pagination import Page, keyset_page
from app.finance.models import Statement, StatementDispute, StatementLine, StatementRun, StatementRunItem
from app.finance.statements import rules

#: manufacturer roles that read statements (a regional manager: in their regions)
VIEWERS = ("admin", "finance", "channel_manager", "regional_manager")
#: manufacturer roles that run months, answer disputes and issue corrections
MANAGERS = ("admin", "finance")
#: dealer roles that read, confirm and dispute their statements
DEALER_ROLES = ("dealer_owner", "dealer_finance")
#: what a dealer sees (a version still generating, or failed, is not a statement yet)
DEALER_VISIBLE = ("issued", "confirmed", "disputed", "superseded")

STATUS_LABELS = {
    "generating": _l("Generating"), "issued": _l("Awaiting confirmation"), "confirmed": _l("Confirmed"),
    "disputed": _l("Disputed"), "superseded": _l("Superseded"), "failed": _l("Failed"),
}
STATUS_BADGES = {"generating": "", "issued": "wait", "confirmed": "on", "disputed": "late", "superseded": "",
                 "failed": "off"}
DISPUTE_LABELS = {"open": _l("Open"), "answered": _l("Answered"), "corrected": _l("Corrected")}
RUN_LABELS = {"running": _l("Running"), "done": _l("Done"), "failed": _l("Done with failures")}
OUTCOME_LABELS = {"pending": _l("Waiting"), "issued": _l("New version issued"), "unchanged": _l("Unchanged, kept"),
                  "kept": _l("Confirmed, kept"), "failed": _l("Failed")}
KIND_LABELS = {
    "invoice": _l("Invoice"),
    "credit_note_return": _l("Credit note (return)"),
    "credit_note_rebate_offset": _l("Credit note (rebate offset)"),
    "credit_note_price_adjustment": _l("Credit note (price adjustment)"),
    "credit_note_other": _l("Credit note"),
    "payment": _l("Payment"),
    "rebate_settled": _l("Rebate settled"),
    "rebate_adjusted": _l("Rebate adjusted"),
    "rebate_claim": _l("Rebate claim"),
    "rebate_price_protection": _l("Price protection"),
    "rebate_released": _l("Rebate released"),
    "rebate_used": _l("Rebate use"),
    "rebate_expired": _l("Rebate expiry"),
    "rebate_accrued": _l("Rebate accrued (estimate)"),
}
SECTION_LABELS = {"receivable": _l("Accounts receivable"), "rebate": _l("Rebate balance"),
                  "accrual": _l("Estimated accruals (memo)")}
FIGURE_LABELS = {
    "opening_balance": _l("Opening balance"), "invoiced": _l("Invoiced"), "credited": _l("Credit notes"),
    "paid": _l("Payments"), "closing_balance": _l("Closing balance"), "rebate_opening": _l("Rebate opening"),
    "rebate_earned": _l("Rebate earned"), "rebate_used": _l("Rebate used"), "rebate_expired": _l("Rebate expired"),
    "rebate_closing": _l("Rebate closing"), "rebate_accrued": _l("Accrued, not yet settled"),
}
#: the lines a filter shows: a figure's lines, or a section
SHOW_CHOICES = tuple(rules.FIGURE_LINES) + ("receivable", "rebate", "accrual", "disputed")


def scoped(stmt, scope: ChannelScope, dealer_view: bool):
    """Statements (joined to their dealer) within the scope; a dealer sees issued ones only."""
    if scope.hospital_id is not None:
        return stmt.where(false())
    if scope.dealer_id is not None:
        return stmt.where(Statement.dealer_id == scope.dealer_id, Statement.status.in_(DEALER_VISIBLE))
    clause = scope.regions_clause(Dealer.region_id)
    stmt = stmt if clause is None else stmt.where(clause)
    return stmt.where(Statement.status.in_(DEALER_VISIBLE)) if dealer_view else stmt


@dataclass(frozen=True)
class StatementFilter:
    month: date | None = None
    status: str = ""
    search: str = ""
    region_id: int | None = None
    dealer_id: int | None = None


def statement_filter(params) -> StatementFilter:
    """The list's filters as the page reads them (anything malformed is ignored)."""
    from app.core.coerce import as_id

    status = str(params.get("status") or "")
    return StatementFilter(month=rules.parse_month(params.get("month")),
                           status=status if status in STATUS_LABELS else "",
                           search=str(params.get("q") or "")[:40].strip(), region_id=as_id(params.get("region")),
                           dealer_id=as_id(params.get("dealer")))


def statements_page(session: Session, scope: ChannelScope, f: StatementFilter, cursor: str | None,
                    per_page: int = 50) -> Page:
    """Statements, newest first, as plain rows with their dealer's code, name and region."""
    stmt = (select(Statement.id, Statement.number, Statement.version, Statement.status, Statement.period_start,
                   Statement.opening_balance, Statement.closing_balance, Statement.rebate_closing, Statement.line_count,
                   Statement.issued_at, Statement.confirmed_at, Statement.pdf_document_id, Statement.xlsx_document_id,
                   Statement.dealer_id, Dealer.code.label("dealer_code"), Dealer.name.label("dealer_name"),
                   Region.name.label("region_name"), Region.name_en.label("region_name_en"))
            .join(Dealer, Dealer.id == Statement.dealer_id).join(Region, Region.id == Dealer.region_id))
    stmt = scoped(stmt, scope, dealer_view=False)
    if f.month:
        stmt = stmt.where(Statement.period_start == f.month)
    if f.status:
        stmt = stmt.where(Statement.status == f.status)
    if f.dealer_id:
        stmt = stmt.where(Statement.dealer_id == f.dealer_id)
    if f.search:
        like = f"%{f.search}%"
        stmt = stmt.where(or_(Dealer.name.ilike(like), Dealer.code.ilike(like), Statement.number.ilike(like)))
    if f.region_id:
        subtree = select(Region.path).where(Region.id == f.region_id).scalar_subquery()
        stmt = stmt.where(Dealer.region_id.in_(select(Region.id).where(Region.path.startswith(subtree))))
    return keyset_page(session, stmt, (Statement.id,), lambda r: (r.id,), cursor, per_page=per_page, entities=False,
                       descending=True)


def statement_for(session: Session, scope: ChannelScope, statement_id) -> Statement | None:
    """The statement if it exists and the user may see it, else None (a 404)."""
    from app.core.coerce import as_id

    statement_id = as_id(statement_id)
    if statement_id is None:
        return None
    stmt = scoped(select(Statement).join(Dealer, Dealer.id == Statement.dealer_id), scope, dealer_view=False)
    return session.scalar(stmt.where(Statement.id == statement_id))


def versions_of(session: Session, scope: ChannelScope, statement: Statement) -> list[Statement]:
    """Every version of the statement's month the user may see, newest first."""
    stmt = scoped(select(Statement).join(Dealer, Dealer.id == Statement.dealer_id), scope, dealer_view=False)
    return list(session.scalars(stmt.where(Statement.dealer_id == statement.dealer_id,
                                           Statement.period_start == statement.period_start)
                                .order_by(Statement.version.desc())))


def _show_clause(statement_id: int, show: str, line_ids: list[int] | None = None):
    clauses = [StatementLine.statement_id == statement_id]
    if show in rules.FIGURE_LINES:
        section, kinds = rules.FIGURE_LINES[show]
        clauses.append(StatementLine.section == section)
        if kinds:
            clauses.append(StatementLine.kind.in_(kinds))
    elif show in ("receivable", "rebate", "accrual"):
        clauses.append(StatementLine.section == show)
    elif show == "disputed":
        clauses.append(StatementLine.id.in_(line_ids or []))
    return clauses


def lines_page(session: Session, statement: Statement, show: str, cursor: str | None, line_ids: list[int] | None = None,
               per_page: int = 100) -> Page:
    """One page of the statement's lines (all, a figure's, a section's, or the disputed ones)."""
    stmt = select(StatementLine).where(*_show_clause(statement.id, show, line_ids))
    return keyset_page(session, stmt, (StatementLine.line_no,), lambda ln: (ln.line_no,), cursor, per_page=per_page)


@dataclass(frozen=True)
class LineTotals:
    count: int
    debit: Decimal
    credit: Decimal


def line_totals(session: Session, statement: Statement, show: str, line_ids: list[int] | None = None) -> LineTotals:
    """How many lines a filter shows and what they add up to (the figure, traced)."""
    count, debit, credit = session.execute(
        select(func.count(), func.coalesce(func.sum(StatementLine.debit), 0), func.coalesce(func.sum(StatementLine.credit), 0))
        .where(*_show_clause(statement.id, show, line_ids))).one()
    return LineTotals(count, debit, credit)


def lines_by_id(session: Session, statement_id: int, ids: list[int]) -> list[StatementLine]:
    if not ids:
        return []
    return list(session.scalars(select(StatementLine).where(StatementLine.statement_id == statement_id,
                                                           StatementLine.id.in_(ids)).order_by(StatementLine.line_no)))


def people(session: Session, user_ids) -> dict[int, str]:
    """Names of the people who raised or resolved disputes."""
    from app.identity.models import User

    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def disputes_of(session: Session, statement_ids: list[int]) -> list[StatementDispute]:
    if not statement_ids:
        return []
    return list(session.scalars(select(StatementDispute).where(StatementDispute.statement_id.in_(statement_ids))
                                .order_by(StatementDispute.id.desc())))


def disputes_page(session: Session, scope: ChannelScope, status: str, cursor: str | None, per_page: int = 30) -> Page:
    """The finance inbox: disputes (open ones by default), newest first, with their
    statement and dealer."""
    stmt = (select(StatementDispute, Statement).join(Statement, Statement.id == StatementDispute.statement_id)
            .join(Dealer, Dealer.id == Statement.dealer_id))
    stmt = scoped(stmt, scope, dealer_view=False)
    if status in DISPUTE_LABELS:
        stmt = stmt.where(StatementDispute.status == status)
    after_page = keyset_page(session, stmt, (StatementDispute.id,), lambda r: (r[0].id,), cursor, per_page=per_page,
                             entities=False, descending=True)
    return after_page


def dispute_for(session: Session, scope: ChannelScope, dispute_id) -> StatementDispute | None:
    from app.core.coerce import as_id

    dispute_id = as_id(dispute_id)
    if dispute_id is None:
        return None
    stmt = scoped(select(StatementDispute).join(Statement, Statement.id == StatementDispute.statement_id)
                  .join(Dealer, Dealer.id == Statement.dealer_id), scope, dealer_view=False)
    return session.scalar(stmt.where(StatementDispute.id == dispute_id))


def open_dispute_count(session: Session, scope: ChannelScope) -> int:
    stmt = scoped(select(func.count()).select_from(StatementDispute)
                  .join(Statement, Statement.id == StatementDispute.statement_id)
                  .join(Dealer, Dealer.id == Statement.dealer_id), scope, dealer_view=False)
    return session.scalar(stmt.where(StatementDispute.status == "open"))


# --- runs ----------------------------------------------------------------------------------

@dataclass
class RunProgress:
    run: StatementRun
    total: int
    done: int
    failed: int
    outcomes: dict
    failures: list  # (item id, dealer code, dealer name, error)
    planned: bool

    @property
    def finished(self) -> bool:
        return self.planned and self.done + self.failed >= self.total

    @property
    def percent(self) -> int:
        return 100 if self.finished else int(100 * self.done / self.total) if self.total else 0


def recent_runs(session: Session, limit: int = 5) -> list[RunProgress]:
    runs = list(session.scalars(select(StatementRun).order_by(StatementRun.id.desc()).limit(limit)))
    return [run_progress(session, run) for run in runs]


def run_progress(session: Session, run: StatementRun) -> RunProgress:
    """A run's progress counted live from its items and their jobs."""
    rows = session.execute(text(
        "SELECT i.outcome, j.status, count(*) FROM statement_run_items i LEFT JOIN jobs j ON j.id = i.job_id "
        "WHERE i.run_id = :r GROUP BY i.outcome, j.status"), {"r": run.id}).all()
    total = sum(n for _o, _s, n in rows)
    done = sum(n for _o, s, n in rows if s == "done")
    failed = sum(n for _o, s, n in rows if s == "failed")
    outcomes: dict[str, int] = {}
    for outcome, status, n in rows:
        key = "failed" if status == "failed" else outcome
        outcomes[key] = outcomes.get(key, 0) + n
    failures = session.execute(
        select(StatementRunItem.id, Dealer.code, Dealer.name, Job.error).join(Job, Job.id == StatementRunItem.job_id)
        .join(Dealer, Dealer.id == StatementRunItem.dealer_id)
        .where(StatementRunItem.run_id == run.id, Job.status == "failed").order_by(Dealer.code).limit(50)).all()
    planned = run.job_id is not None and session.scalar(select(Job.status).where(Job.id == run.job_id)) == "done"
    return RunProgress(run, total, done, failed, outcomes, failures, planned)


def run_for(session: Session, run_id) -> StatementRun | None:
    from app.core.coerce import as_id

    run_id = as_id(run_id)
    return session.get(StatementRun, run_id) if run_id is not None else None


def month_choices(today: date, count: int = 12) -> list[date]:
    """The months that can be stated, most recent first."""
    months, start = [], rules.month_start(today)
    for _i in range(count):
        start = rules.previous_month(start)
        months.append(start)
    return months


# --- the list export (Excel), with the page's scope and filters ----------------------------

def _export_rows(session: Session, user, params: dict):
    from app.compliance.exports import walk_batches

    scope, f = ChannelScope.of(user), statement_filter(params)
    for rows in walk_batches(lambda cursor: statements_page(session, scope, f, cursor, per_page=500)):
        for r in rows:
            yield [r.number, r.period_start.strftime("%Y-%m"), r.version, r.dealer_code, r.dealer_name, r.region_name,
                   str(STATUS_LABELS[r.status]), r.opening_balance, r.closing_balance, r.rebate_closing, r.line_count,
                   r.issued_at, r.confirmed_at]


def _register_export() -> None:
    from app.compliance.exports import register_export

    register_export("statements", _l("Statements"), VIEWERS,
                    (_l("Statement"), _l("Month"), _l("Version"), _l("Dealer code"), _l("Dealer"), _l("Region"),
                     _l("Status"), _l("Opening balance"), _l("Closing balance"), _l("Rebate closing"), _l("Lines"),
                     _l("Issued at"), _l("Confirmed")),
                    _export_rows, params=("q", "status", "month", "region", "dealer"))


_register_export()
