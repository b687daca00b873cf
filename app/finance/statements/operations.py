"""Writing statements: generation (set-based), issue, close-of-month runs, the dealer's
confirmation (an electronic signature) and disputes, and finance's answers and
corrections. Everything here flushes and never commits; the caller's transaction (a
request, or a job's step) commits once.

Versions of one dealer's month are serialised by a transaction-scoped advisory lock on
(dealer, month): generation, issue and confirmation take it, so a confirmation never
races a correction and two generations never pick the same version number. Every
transaction here takes the tenant's audit-chain lock before any other (the audit trail
serialises audited writes anyway), then the month's, then rows: one order, no deadlocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.compliance import approvals
from app.compliance.models import Document, Job
from app.compliance.operations import lock_audit_chain, record_event
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.finance.models import Statement, StatementDispute, StatementLine, StatementRun, StatementRunItem
from app.finance.statements import rules

STATEMENT_JOB = "finance.statement"
RUN_JOB = "finance.statement_run"
#: a statement that is the dealer's current word on its month (not replaced, not failed)
LIVE = ("issued", "disputed", "confirmed")
MAX_COMMENT = 2000


class StatementError(InvalidInput):
    """A step the statement's state does not allow, or input that is wrong; ``field``
    names the form field to show it next to (``form`` for the whole form)."""


# --- locking and reading a month ----------------------------------------------------------

def lock_month(session: Session, dealer_id: int, period_start: date) -> None:
    """Serialise the versions of a dealer's month. The audit chain's lock comes first:
    issuing a statement already holds it (its documents are audited writes) when it
    takes this one, and the same order everywhere means no two transactions wait on
    each other."""
    lock_audit_chain(session)
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.statements.' || :d || '.' || :p))"),
                    {"d": str(dealer_id), "p": period_start.isoformat()})


def versions(session: Session, dealer_id: int, period_start: date) -> list[Statement]:
    """Every version of a dealer's month, newest first."""
    return list(session.scalars(select(Statement).where(Statement.dealer_id == dealer_id,
                                                       Statement.period_start == period_start)
                                .order_by(Statement.version.desc())))


def current(session: Session, dealer_id: int, period_start: date) -> Statement | None:
    """The dealer's current statement of the month (issued, disputed or confirmed)."""
    return session.scalar(select(Statement).where(Statement.dealer_id == dealer_id, Statement.period_start == period_start,
                                                  Statement.status.in_(LIVE))
                          .order_by(Statement.version.desc()).limit(1))


# --- generation ------------------------------------------------------------------------------

OPENING_SQL = text("""
SELECT (SELECT coalesce(sum(CASE WHEN kind = 'invoice' THEN amount ELSE -amount END), 0) FROM invoices
         WHERE dealer_id = :dealer AND status <> 'void' AND issued_on < :start)
     - (SELECT coalesce(sum(amount), 0) FROM payments WHERE dealer_id = :dealer AND received_on < :start) AS opening,
       (SELECT coalesce(sum(amount), 0) FROM rebate_ledger_entries
         WHERE dealer_id = :dealer AND kind <> 'accrued' AND occurred_on < :start) AS rebate_opening
""")

# One INSERT … SELECT writes every line: the month's invoices (debit) and credit notes
# (credit) by issue day, payments (credit) by the day received, and rebate ledger
# entries by the day they belong to (signed amounts: positive a debit, negative a
# credit; accruals in their own memo section). Lines are numbered through the sections
# in date order; each section's running balance starts from its opening balance.
LINES_SQL = text("""
INSERT INTO statement_lines (statement_id, line_no, section, occurred_on, kind, ref_type, ref_id, ref_number,
                             description, debit, credit, balance)
SELECT :sid,
       row_number() OVER (ORDER BY s.section_order, s.occurred_on, s.sort, s.ref_id),
       s.section, s.occurred_on, s.kind, s.ref_type, s.ref_id, s.ref_number, s.description, s.debit, s.credit,
       s.opening + sum(s.debit - s.credit) OVER (PARTITION BY s.section ORDER BY s.occurred_on, s.sort, s.ref_id
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
FROM (
    SELECT 1 AS section_order, 'receivable' AS section, i.issued_on AS occurred_on,
           CASE WHEN i.kind = 'invoice' THEN 'invoice' ELSE 'credit_note_' || i.reason END AS kind,
           CASE WHEN i.kind = 'invoice' THEN 0 ELSE 1 END AS sort,
           'invoices' AS ref_type, i.id AS ref_id, i.number AS ref_number,
           left(nullif(concat_ws(' · ', o.number, r.number, i.tax_invoice_no), ''), 300) AS description,
           CASE WHEN i.kind = 'invoice' THEN i.amount ELSE 0 END AS debit,
           CASE WHEN i.kind = 'invoice' THEN 0 ELSE i.amount END AS credit,
           CAST(:opening AS numeric) AS opening
      FROM invoices i
      LEFT JOIN orders o ON o.id = i.order_id
      LEFT JOIN invoices r ON r.id = i.related_invoice_id
     WHERE i.dealer_id = :dealer AND i.status <> 'void' AND i.issued_on BETWEEN :start AND :end
    UNION ALL
    SELECT 1, 'receivable', p.received_on, 'payment', 2, 'payments', p.id, p.number,
           left(nullif(concat_ws(' · ', p.bank_ref, p.reference), ''), 300), 0, p.amount, CAST(:opening AS numeric)
      FROM payments p
     WHERE p.dealer_id = :dealer AND p.received_on BETWEEN :start AND :end
    UNION ALL
    SELECT CASE WHEN e.kind = 'accrued' THEN 3 ELSE 2 END, CASE WHEN e.kind = 'accrued' THEN 'accrual' ELSE 'rebate' END,
           e.occurred_on, 'rebate_' || e.kind, 0, 'rebate_ledger_entries', e.id,
           left(coalesce(o.number, inv.number, c.number, pp.number, e.period_key), 40),
           left(nullif(concat_ws(' · ', pol.name, e.period_key, e.note), ''), 300),
           greatest(e.amount, 0), greatest(-e.amount, 0),
           CASE WHEN e.kind = 'accrued' THEN 0 ELSE CAST(:rebate_opening AS numeric) END
      FROM rebate_ledger_entries e
      LEFT JOIN rebate_policies pol ON pol.id = e.policy_id
      LEFT JOIN orders o ON e.ref_type = 'orders' AND o.id = e.ref_id
      LEFT JOIN invoices inv ON e.ref_type = 'invoices' AND inv.id = e.ref_id
      LEFT JOIN rebate_claims c ON e.ref_type = 'rebate_claims' AND c.id = e.ref_id
      LEFT JOIN price_protections pp ON e.ref_type = 'price_protections' AND pp.id = e.ref_id
     WHERE e.dealer_id = :dealer AND e.occurred_on BETWEEN :start AND :end AND e.amount <> 0
) s
""")

# The figures are the sums of the lines, written in one statement so that they cannot
# be anything else (and the table's CHECKs hold the closing identities).
FIGURES_SQL = text("""
UPDATE statements s
   SET invoiced = f.invoiced, credited = f.credited, paid = f.paid,
       closing_balance = s.opening_balance + f.invoiced - f.credited - f.paid,
       rebate_earned = f.earned, rebate_used = f.used, rebate_expired = f.expired,
       rebate_closing = s.rebate_opening + f.earned - f.used - f.expired,
       rebate_accrued = f.accrued, line_count = f.n
  FROM (SELECT coalesce(sum(debit - credit) FILTER (WHERE section = 'receivable' AND kind = 'invoice'), 0) AS invoiced,
               coalesce(sum(credit - debit) FILTER (WHERE section = 'receivable' AND kind = ANY(:credit_notes)), 0) AS credited,
               coalesce(sum(credit - debit) FILTER (WHERE section = 'receivable' AND kind = 'payment'), 0) AS paid,
               coalesce(sum(debit - credit) FILTER (WHERE section = 'rebate' AND kind = ANY(:earned)), 0) AS earned,
               coalesce(sum(credit - debit) FILTER (WHERE section = 'rebate' AND kind = ANY(:used)), 0) AS used,
               coalesce(sum(credit - debit) FILTER (WHERE section = 'rebate' AND kind = ANY(:expired)), 0) AS expired,
               coalesce(sum(debit - credit) FILTER (WHERE section = 'accrual'), 0) AS accrued,
               count(*) AS n
          FROM statement_lines WHERE statement_id = :sid) f
 WHERE s.id = :sid
""")

LINE_COLUMNS = ("line_no", "section", "occurred_on", "kind", "ref_type", "ref_id", "ref_number", "description", "debit",
                "credit", "balance")


def lines_of(session: Session, statement_id: int) -> list[rules.Line]:
    """Every line of a statement, in order, as plain values."""
    rows = session.execute(select(*[getattr(StatementLine, c) for c in LINE_COLUMNS])
                           .where(StatementLine.statement_id == statement_id).order_by(StatementLine.line_no))
    return [rules.Line(*row) for row in rows]


def figures(statement: Statement) -> rules.Figures:
    return rules.Figures(**{name: getattr(statement, name) for name in rules.FIGURES})


class Unbalanced(Exception):
    """A statement whose figures do not add up (a bug, never user input): nothing is kept."""


@dataclass
class Generated:
    """What a generation did: ``issued`` (a new version, now generating its documents),
    ``unchanged`` (same content as the current version), ``kept`` (the month is
    confirmed, it is not generated again)."""

    outcome: str
    statement: Statement | None


def generate(session: Session, dealer_id: int, period_start: date, job_id: int | None = None,
             run_id: int | None = None) -> Generated:
    """Write the dealer's statement of the month as a new version, unless its content is
    the same as the current version's (or the month is confirmed). The statement is left
    ``generating``: it is issued once its documents exist (``issue``). A job that runs
    again finds the statement it already wrote."""
    period_start = rules.month_start(period_start)
    period_end = rules.month_end(period_start)
    lock_month(session, dealer_id, period_start)
    if job_id is not None:
        mine = session.scalar(select(Statement).where(Statement.job_id == job_id))
        if mine is not None:
            return Generated("issued", mine)
    all_versions = versions(session, dealer_id, period_start)
    live = [s for s in all_versions if s.status in LIVE]
    if live and live[0].status == "confirmed":
        return Generated("kept", live[0])
    latest = next((s for s in all_versions if s.status in LIVE + ("generating",)), None)

    opening, rebate_opening = session.execute(OPENING_SQL, {"dealer": dealer_id, "start": period_start}).one()
    previous = current(session, dealer_id, rules.previous_month(period_start))
    version = (all_versions[0].version + 1) if all_versions else 1
    savepoint = session.begin_nested()
    statement = Statement(dealer_id=dealer_id, period_start=period_start, period_end=period_end, version=version,
                          status="generating", opening_balance=opening, closing_balance=opening,
                          rebate_opening=rebate_opening, rebate_closing=rebate_opening, job_id=job_id, run_id=run_id,
                          previous_statement_id=previous.id if previous else None,
                          previous_closing=previous.closing_balance if previous else None,
                          previous_rebate_closing=previous.rebate_closing if previous else None)
    statement.id = session.scalar(text("SELECT nextval(pg_get_serial_sequence('statements', 'id'))"))
    family = all_versions[-1].id if all_versions else statement.id
    statement.number = f"ST-{period_start:%Y%m}-{family:06d}-v{version}"
    session.add(statement)
    session.flush()
    session.execute(LINES_SQL, {"sid": statement.id, "dealer": dealer_id, "start": period_start, "end": period_end,
                                "opening": opening, "rebate_opening": rebate_opening})
    session.execute(FIGURES_SQL, {"sid": statement.id, "credit_notes": list(rules.CREDIT_NOTE_KINDS),
                                  "earned": list(rules.EARNED_KINDS), "used": list(rules.USED_KINDS),
                                  "expired": list(rules.EXPIRED_KINDS)})
    session.refresh(statement)
    lines = lines_of(session, statement.id)
    stated = figures(statement)
    problems = rules.balance_problems(stated, opening, rebate_opening, lines)
    if problems:  # the CHECK-like assertion: a statement that does not add up is never kept
        _roll_back(session, savepoint)
        raise Unbalanced("; ".join(problems[:5]))
    digest = rules.content_hash(rules.content(dealer_id, period_start, period_end, stated,
                                              (statement.previous_closing, statement.previous_rebate_closing), lines))
    if latest is not None and latest.content_hash == digest:
        _roll_back(session, savepoint)
        return Generated("unchanged", latest)
    statement.content_hash = digest
    session.flush()
    savepoint.commit()
    record_event(session, "generate_statement", "statements", statement.id, after={
        "number": statement.number, "dealer_id": dealer_id, "period": period_start.strftime("%Y-%m"),
        "lines": len(lines), "content_hash": digest, **{k: str(v) for k, v in stated.as_dict().items()}})
    return Generated("issued", statement)


def _relock(session: Session, statement: Statement) -> None:
    """Lock the statement's row and read it again (its dealer is joined when loaded,
    which a plain ``FOR UPDATE`` refuses)."""
    session.execute(select(Statement.id).where(Statement.id == statement.id).with_for_update())
    session.refresh(statement)


def _roll_back(session: Session, savepoint) -> None:
    savepoint.rollback()
    # the savepoint took its audit events with it: the chain's end is read again
    session.info.pop("audit_chain", None)


def issue(session: Session, statement: Statement, pdf: Document, xlsx: Document) -> None:
    """The statement's documents exist: it is issued, and replaces the older versions of
    its month (their open disputes are corrected by it). A newer version issued first
    makes this one superseded at once."""
    lock_month(session, statement.dealer_id, statement.period_start)
    _relock(session, statement)
    if statement.status != "generating":
        return
    now = session.scalar(select(func.now()))
    statement.pdf_document_id, statement.xlsx_document_id, statement.issued_at = pdf.id, xlsx.id, now
    others = [s for s in versions(session, statement.dealer_id, statement.period_start) if s.id != statement.id]
    newer = [s for s in others if s.version > statement.version and s.status in LIVE + ("superseded",)]
    if newer:
        statement.status = "superseded"
        return
    statement.status = "issued"
    replaced = [s for s in others if s.version < statement.version and s.status in ("issued", "disputed")]
    for old in replaced:
        old.status = "superseded"
    if replaced:
        statement.supersedes_id = replaced[0].id
        open_disputes = session.scalars(select(StatementDispute).where(
            StatementDispute.statement_id.in_([s.id for s in replaced]), StatementDispute.status == "open"))
        for dispute in open_disputes:
            dispute.status, dispute.corrected_statement_id, dispute.resolved_at = "corrected", statement.id, now
            dispute.resolved_by_id = _requester_of(session, statement)
            _notify_dealer_user(session, dispute, statement, _("A corrected statement %(number)s was issued.",
                                                                number=statement.number))
    session.flush()


def generate_now(session: Session, dealer_id: int, period_start: date) -> Generated:
    """Generate, print and issue a statement in the caller's transaction, without a
    worker (the demo's seed, tools). Its documents are stored under its number."""
    from app.core.storage import get_storage
    from app.finance.statements import documents
    from tenants.session import current_tenant

    generated = generate(session, dealer_id, period_start)
    if generated.outcome != "issued":
        return generated
    statement, tenant = generated.statement, current_tenant(session)
    lines = lines_of(session, statement.id)
    previous = session.get(Statement, statement.previous_statement_id) if statement.previous_statement_id else None
    files = (("pdf", "application/pdf",
              documents.render_pdf(statement, lines, tenant.name, previous.number if previous else None)),
             ("xlsx", documents.XLSX_TYPE, documents.render_xlsx(statement, lines, tenant.name)))
    stored = []
    for kind, content_type, data in files:
        key = f"{tenant.slug}/statements/{statement.number}.{kind}"
        stored.append(Document(kind=kind, filename=f"{statement.number}.{kind}", content_type=content_type,
                               size=len(data), sha256=get_storage().put(key, data), storage_key=key,
                               entity_type="statements", entity_id=str(statement.id), dealer_id=dealer_id))
    session.add_all(stored)
    session.flush()
    issue(session, statement, *stored)
    return generated


def fail(session: Session, job_id: int) -> None:
    """A statement job failed for good: the statement it wrote (if any) is failed."""
    statement = session.scalar(select(Statement).where(Statement.job_id == job_id).with_for_update(of=Statement))
    if statement is not None and statement.status == "generating":
        statement.status = "failed"
        session.flush()


def _requester_of(session: Session, statement: Statement) -> int | None:
    if statement.job_id is None:
        return None
    return session.scalar(select(Job.requested_by_id).where(Job.id == statement.job_id))


# --- asking for statements -------------------------------------------------------------------

def _dealer_job(session: Session, dealer_id: int, period_start: date, request_id: str, user, **extra) -> Job:
    from app.core.jobs import request_job

    job = request_job(session, STATEMENT_JOB, {"dealer_id": dealer_id, "period_start": period_start.isoformat(), **extra},
                      request_id, requested_by=user, entity=("dealers", str(dealer_id)))
    job.dealer_id = dealer_id  # the dealer's users may read what it produces
    return job


def request_statement(session: Session, dealer, period_start: date, user, request_id: str,
                      dispute: StatementDispute | None = None, today: date | None = None) -> Job:
    """Ask for the dealer's statement of a month (again): a correction after a dispute,
    or after the records were put right. A month still running cannot be stated."""
    period_start = rules.month_start(period_start)
    if not rules.closable(period_start, today or shanghai_today()):
        raise StatementError("month", _("A month can be stated once it has ended."))
    live = current(session, dealer.id, period_start)
    if live is not None and live.status == "confirmed":
        raise StatementError("form", _("The dealer confirmed this month's statement; it is final. "
                                       "Later changes show in the next month's opening balance."))
    extra = {"dispute_id": dispute.id} if dispute is not None else {}
    return _dealer_job(session, dealer.id, period_start, f"statement-{dealer.id}-{period_start:%Y%m}-{request_id}"[:64],
                       user, **extra)


def start_run(session: Session, period_start: date, user, request_id: str, today: date | None = None) -> StatementRun:
    """Start the close-of-month run for a month: a coordinating job asks for one
    statement job per dealer. One run of a month at a time."""
    from app.core.jobs import request_job

    period_start = rules.month_start(period_start)
    if not rules.closable(period_start, today or shanghai_today()):
        raise StatementError("month", _("A month can be stated once it has ended."))
    running = session.scalar(select(StatementRun).where(StatementRun.period_start == period_start,
                                                        StatementRun.status == "running"))
    if running is not None:
        return running
    run = StatementRun(period_start=period_start, requested_by_id=user.id)
    session.add(run)
    session.flush()
    job = request_job(session, RUN_JOB, {"run_id": run.id}, f"statement-run-{run.id}-{request_id}"[:64],
                      requested_by=user, entity=("statement_runs", str(run.id)))
    run.job_id = job.id
    session.flush()
    return run


#: dealers a run states: every active dealer, and any other with records in the month
RUN_DEALERS_SQL = text("""
INSERT INTO statement_run_items (run_id, dealer_id)
SELECT :run, d.id FROM dealers d
 WHERE d.status = 'active'
    OR EXISTS (SELECT 1 FROM invoices i WHERE i.dealer_id = d.id AND i.issued_on BETWEEN :start AND :end)
    OR EXISTS (SELECT 1 FROM payments p WHERE p.dealer_id = d.id AND p.received_on BETWEEN :start AND :end)
    OR EXISTS (SELECT 1 FROM rebate_ledger_entries e WHERE e.dealer_id = d.id AND e.occurred_on BETWEEN :start AND :end)
ON CONFLICT (run_id, dealer_id) DO NOTHING
""")


def plan_run(session: Session, run_id: int) -> int:
    """The coordinating job's work: one item and one statement job per dealer (safe to
    repeat: items and jobs are keyed by run and dealer). Returns the number of dealers."""
    from app.identity.models import User

    lock_audit_chain(session)  # before the run's row, as every writer of a run does
    run = session.get(StatementRun, run_id, with_for_update=True)
    start, end = run.period_start, rules.month_end(run.period_start)
    session.execute(RUN_DEALERS_SQL, {"run": run.id, "start": start, "end": end})
    user = session.get(User, run.requested_by_id) if run.requested_by_id else None
    items = list(session.scalars(select(StatementRunItem).where(StatementRunItem.run_id == run.id)
                                 .order_by(StatementRunItem.dealer_id)))
    for item in items:
        if item.job_id is None:
            item.job_id = _dealer_job(session, item.dealer_id, start, f"statement-run-{run.id}-{item.dealer_id}", user,
                                      run_id=run.id).id
    run.total = len(items)
    session.flush()
    record_event(session, "plan_statement_run", "statement_runs", run.id,
                 after={"period": start.strftime("%Y-%m"), "dealers": len(items)})
    refresh_run(session, run.id)
    return len(items)


def refresh_run(session: Session, run_id: int) -> StatementRun:
    """Count the run's outcomes from its jobs (locking the run first, so that two
    workers finishing at once count each other's results)."""
    lock_audit_chain(session)  # the chain's lock before the run's row, in every transaction
    run = session.get(StatementRun, run_id, with_for_update=True, populate_existing=True)
    session.flush()
    total, done, failed = session.execute(text(
        "SELECT count(*), count(*) FILTER (WHERE j.status = 'done'), count(*) FILTER (WHERE j.status = 'failed') "
        "FROM statement_run_items i JOIN jobs j ON j.id = i.job_id WHERE i.run_id = :r"), {"r": run_id}).one()
    planned = session.scalar(select(func.count()).where(StatementRunItem.run_id == run_id))
    run.total, run.done, run.failed = planned, done, failed
    finished = run.job_id is not None and _job_status(session, run.job_id) == "done" and done + failed >= planned
    status = ("failed" if failed else "done") if finished else "running"
    if status != run.status:
        run.status = status
        run.finished_at = session.scalar(select(func.now())) if finished else None
    session.flush()
    return run


def _job_status(session: Session, job_id: int) -> str | None:
    return session.scalar(select(Job.status).where(Job.id == job_id))


def record_outcome(session: Session, run_id: int, dealer_id: int, outcome: str, statement_id: int | None) -> None:
    item = session.scalar(select(StatementRunItem).where(StatementRunItem.run_id == run_id,
                                                         StatementRunItem.dealer_id == dealer_id))
    if item is not None:
        item.outcome, item.statement_id = outcome, statement_id
        session.flush()
    refresh_run(session, run_id)


def retry_failed(session: Session, run: StatementRun, item_id: int | None = None) -> int:
    """Run a run's failed statement jobs again (all, or one item's). Returns how many."""
    from app.core.jobs import retry

    others = session.scalar(select(func.count()).where(StatementRun.period_start == run.period_start,
                                                       StatementRun.status == "running", StatementRun.id != run.id))
    if others:
        raise StatementError("form", _("Another run of this month is in progress; retry there."))
    stmt = (select(StatementRunItem, Job).join(Job, Job.id == StatementRunItem.job_id)
            .where(StatementRunItem.run_id == run.id, Job.status == "failed"))
    if item_id is not None:
        stmt = stmt.where(StatementRunItem.id == item_id)
    count = 0
    for item, job in session.execute(stmt).all():
        retry(session, job)
        item.outcome = "pending"
        count += 1
    if count:
        session.flush()
        refresh_run(session, run.id)
    return count


# --- the dealer's answer ---------------------------------------------------------------------

def confirm(session: Session, statement: Statement, user, password: str, totp_code: str | None) -> None:
    """The dealer confirms the statement with an electronic signature (password again,
    and the authenticator code with two-step verification) of its figures and the
    fingerprint of its lines. Refused, nothing but the refusal's audit event is written."""
    lock_month(session, statement.dealer_id, statement.period_start)
    _relock(session, statement)
    _may_answer(session, statement)
    if statement.status != "issued":
        raise StatementError("form", _confirm_refusal(statement.status))
    version = rules.signed_version(statement.number, statement.version, statement.dealer.code, statement.period_start,
                                   figures(statement), statement.content_hash)
    try:
        signature = approvals.sign(session, user, password or "", totp_code, "confirmed", "statements", statement.id,
                                   version)
    except approvals.ApprovalError as err:
        raise StatementError(err.field or "form", err.message) from None
    statement.status, statement.signature_id = "confirmed", signature.id
    statement.confirmed_by_id, statement.confirmed_at = user.id, signature.signed_at
    session.flush()


def _confirm_refusal(status: str) -> str:
    return {
        "confirmed": _("This statement is already confirmed."),
        "disputed": _("This statement is disputed; confirm it once finance has answered."),
        "superseded": _("A newer version replaces this statement; confirm that one."),
    }.get(status, _("This statement cannot be confirmed now."))


def _may_answer(session: Session, statement: Statement) -> None:
    """A dealer answers the current version only, and not while a correction is on its way."""
    pending = session.scalar(select(func.count()).where(
        Statement.dealer_id == statement.dealer_id, Statement.period_start == statement.period_start,
        Statement.version > statement.version, Statement.status == "generating"))
    if pending:
        raise StatementError("form", _("A corrected version of this statement is being prepared; "
                                       "answer that one when it arrives."))


def dispute(session: Session, statement: Statement, user, line_ids: list[int] | None, comment: str) -> StatementDispute:
    """The dealer disputes the statement, or named lines of it, with a comment; it lands
    in the manufacturer's finance inbox. Audited, not signed: a dispute asks finance to
    look, it does not attest anything."""
    comment = (comment or "").strip()
    if not comment:
        raise StatementError("comment", _("Say what is wrong, so that finance can check it."))
    if len(comment) > MAX_COMMENT:
        raise StatementError("comment", _("Use at most %(n)d characters.", n=MAX_COMMENT))
    lock_month(session, statement.dealer_id, statement.period_start)
    _relock(session, statement)
    _may_answer(session, statement)
    if statement.status != "issued":
        raise StatementError("form", {
            "confirmed": _("A confirmed statement cannot be disputed."),
            "disputed": _("This statement is already disputed; finance will answer."),
            "superseded": _("A newer version replaces this statement; dispute that one if it is still wrong."),
        }.get(statement.status, _("This statement cannot be disputed now.")))
    ids = sorted(set(line_ids or []))
    if ids:
        found = set(session.scalars(select(StatementLine.id).where(StatementLine.statement_id == statement.id,
                                                                   StatementLine.id.in_(ids))))
        if found != set(ids):
            raise StatementError("line_ids", _("Choose lines of this statement."))
    record = StatementDispute(statement_id=statement.id, statement_line_ids=ids or None, comment=comment,
                              raised_by_id=user.id)
    session.add(record)
    statement.status = "disputed"
    session.flush()
    _notify_finance(session, record, statement)
    return record


def answer(session: Session, dispute_: StatementDispute, user, text_: str) -> None:
    """Finance answers a dispute without a new version (the statement was right); the
    statement can be confirmed or disputed again."""
    text_ = (text_ or "").strip()
    if not text_:
        raise StatementError("resolution", _("Write the answer the dealer will read."))
    if len(text_) > MAX_COMMENT:
        raise StatementError("resolution", _("Use at most %(n)d characters.", n=MAX_COMMENT))
    statement = session.get(Statement, dispute_.statement_id)
    lock_month(session, statement.dealer_id, statement.period_start)
    session.refresh(dispute_, with_for_update=True)
    if dispute_.status != "open":
        raise StatementError("form", _("This dispute is already resolved."))
    dispute_.status, dispute_.resolution, dispute_.resolved_by_id = "answered", text_, user.id
    dispute_.resolved_at = session.scalar(select(func.now()))
    _relock(session, statement)
    still_open = session.scalar(select(func.count()).where(StatementDispute.statement_id == statement.id,
                                                           StatementDispute.status == "open",
                                                           StatementDispute.id != dispute_.id))
    if statement.status == "disputed" and not still_open:
        statement.status = "issued"
    session.flush()
    _notify_dealer_user(session, dispute_, statement, _("Finance answered: %(answer)s", answer=text_))


# --- mail ------------------------------------------------------------------------------------

def _notify_finance(session: Session, record: StatementDispute, statement: Statement) -> None:
    from app.identity.models import OutboxMessage, User

    finance = session.scalars(select(User).where(User.portal == "manufacturer", User.active.is_(True),
                                                 User.roles.contains(["finance"])))
    subject = _("Statement disputed: %(dealer)s %(month)s (%(number)s)", dealer=statement.dealer.name,
                month=statement.period_start.strftime("%Y-%m"), number=statement.number)
    body = _("%(dealer)s disputes %(n)d line(s) of statement %(number)s:\n\n%(comment)s",
             dealer=statement.dealer.name, n=len(record.statement_line_ids or []), number=statement.number,
             comment=record.comment)
    for user in finance:
        session.add(OutboxMessage(to_address=user.email, subject=subject[:300], body=body, kind="statement_dispute"))
    session.flush()


def _notify_dealer_user(session: Session, record: StatementDispute, statement: Statement, message: str) -> None:
    from app.identity.models import OutboxMessage, User

    raiser = session.get(User, record.raised_by_id)
    if raiser is None or not raiser.active:
        return
    session.add(OutboxMessage(to_address=raiser.email, kind="statement_dispute_answer",
                              subject=_("Your dispute of statement %(number)s", number=statement.number)[:300],
                              body=message))
    session.flush()

