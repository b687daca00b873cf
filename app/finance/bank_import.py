"""Importing a bank statement (.xlsx or CSV, as the bank's online banking exports it) as
payments, in a background job with progress: all rows or none, a dry run first if the
clerk wants, the outcome by row and column, and a validation report (.xlsx).

What is read: the receipts (贷方/收入) of the statement. Banks name their columns
differently, so each column is recognised by any of its usual headers (交易日期 or 记账日期,
贷方金额 or 收入金额, 对方户名, 对方账号, 摘要 and 附言 — several remark columns are joined —
and 流水号). The header row need not be the first: exports often start with the
account's name and the period, so the first rows are searched for it.

- A row with only a debit (支出) is money going out: skipped and reported.
- A summary row (合计/总计) is skipped and reported.
- A bank reference (流水号) already imported is skipped and reported (a statement
  imported twice, or two overlapping statements, adds nothing); the same reference
  twice in one file is an error on both rows.
- Formula cells, bad dates, bad amounts, a missing reference: errors by row and column;
  any error refuses the whole file.
- The payer is identified by account number (dealers.bank_account), else by name
  (dealers.name); a payment whose payer is not found is imported without a dealer and
  waits for finance to assign one. Each imported payment is matched automatically where
  the rules are sure (``matching.auto_match``).

The import is recorded as an ``ImportRun`` (entity ``bank_statement``): its ``errors`` hold
the errors and, marked ``"note": true``, the rows skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.compliance.imports import CellError, Day, Number, Text, _as_text
from app.core.i18n import shanghai_today
from app.core.jobs import JobContext, Output, job_kind
from app.core.numbering import assign_number
from app.core.tabular import XLSX_TYPE, Rejected, Sheet, Table, TableError, read_table, write_xlsx
from app.finance.matching import FINANCE_ROLES, auto_match
from app.finance.models import Payment
from app.finance.payments import OLDEST_DAYS, PayerDirectory

BANK_IMPORT_JOB = "finance.bank_import"
ENTITY = "bank_statement"
#: how many leading rows may come before the header row
HEADER_SEARCH_ROWS = 15
PROGRESS_EVERY = 100
MAX_STORED = 5000


@dataclass(frozen=True)
class BankColumn:
    key: str
    #: the headers banks use for it, the usual Chinese one first, then English
    headers: tuple[str, ...]
    required: bool = False


COLUMNS = (
    BankColumn("received_on", ("交易日期", "记账日期", "入账日期", "交易时间", "日期", "Transaction date", "Date"), True),
    BankColumn("amount", ("贷方金额", "收入金额", "贷方发生额", "收入", "存入金额", "Credit amount", "Credit"), True),
    BankColumn("debit", ("借方金额", "支出金额", "借方发生额", "支出", "Debit amount", "Debit")),
    BankColumn("payer_name", ("对方户名", "对方名称", "付款人名称", "付款人", "对方单位", "Payer name", "Payer",
                              "Counterparty")),
    BankColumn("payer_account", ("对方账号", "付款人账号", "对方账户", "Payer account", "Counterparty account")),
    BankColumn("reference", ("摘要", "附言", "用途", "备注", "交易附言", "Remark", "Memo", "Purpose")),
    BankColumn("bank_ref", ("流水号", "交易流水号", "银行流水号", "交易参考号", "凭证号", "Reference number",
                            "Transaction ID"), True),
)
_BY_HEADER = {}
for _column in COLUMNS:
    for _header in _column.headers:
        _BY_HEADER.setdefault(re.sub(r"\s+", "", _header).lower(), _column)
_UNIT = re.compile(r"[(（](元|人民币|rmb|cny)[)）]$")
_SUMMARY = ("合计", "总计", "小计", "total")


def _normal_header(text: str) -> str:
    return _UNIT.sub("", re.sub(r"\s+", "", str(text)).rstrip("*＊").lower())


def match_headers(headers) -> dict[str, list[int]]:
    """Which cells of a header row hold which column: key → cell indexes (several only
    for remarks, which are joined; for the others the first wins)."""
    found: dict[str, list[int]] = {}
    for index, header in enumerate(headers):
        if header is None or isinstance(header, Rejected):
            continue
        column = _BY_HEADER.get(_normal_header(header))
        if column is None:
            continue
        if column.key == "reference" or column.key not in found:
            found.setdefault(column.key, []).append(index)
    return found


def _complete(found: dict) -> bool:
    return all(c.key in found for c in COLUMNS if c.required)


@dataclass
class Line:
    """One receipt of the statement, checked."""

    row: int
    received_on: date
    amount: Decimal
    bank_ref: str
    payer_name: str | None
    payer_account: str | None
    reference: str | None
    dealer_id: int | None


@dataclass
class StatementOutcome:
    total: int = 0
    lines: list[Line] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)
    #: row number → what happened to it, for the report
    by_row: dict[int, list[str]] = field(default_factory=dict)
    created: int = 0
    matched: int = 0

    def error(self, row: int | None, column: str, value, message: str) -> None:
        self.errors.append({"row": row, "column": column, "value": _as_text(value)[:200] if value is not None else "",
                            "message": str(message)})
        if row is not None:
            self.by_row.setdefault(row, []).append(f"{column}: {message}" if column else str(message))

    def note(self, row: int, value, message: str) -> None:
        self.notes.append({"row": row, "column": "", "value": _as_text(value)[:200] if value is not None else "",
                           "message": str(message), "note": True})
        self.by_row.setdefault(row, []).append(str(message))

    @property
    def unidentified(self) -> int:
        return sum(1 for line in self.lines if line.dealer_id is None)


def _header_label(key: str) -> str:
    return next(c.headers[0] for c in COLUMNS if c.key == key)


def is_header(cells) -> bool:
    """Whether a row is the statement's header row (it names every required column)."""
    return _complete(match_headers(cells))


def missing_columns(headers) -> list[str]:
    found = match_headers(headers)
    return [c.headers[0] for c in COLUMNS if c.required and c.key not in found]


def check_statement(session: Session, table: Table, day: date, progress=None) -> StatementOutcome:
    """Check every row of a statement (read with ``is_header``); nothing is written.
    Returns the outcome: receipts to import, errors, rows skipped."""
    outcome = StatementOutcome()
    found = match_headers(table.headers)
    # errors name the column as the file names it (交易流水号, not our 流水号)
    label = {key: table.headers[indexes[0]] or _header_label(key) for key, indexes in found.items()}
    _label = lambda key: label.get(key) or _header_label(key)  # noqa: E731
    rows = table.rows
    outcome.total = len(rows)
    day_parser, amount_parser = Day(), Number(places=2, minimum=Decimal("0.01"), maximum=Decimal("999999999999.99"))
    text_parsers = {"bank_ref": Text(60), "payer_name": Text(200), "payer_account": Text(40)}
    payers = PayerDirectory(session)
    existing: set[str] = set()
    refs = []
    seen: dict[str, list[int]] = {}
    pending = []
    for done, row in enumerate(rows, 1):
        if progress and done % PROGRESS_EVERY == 0:
            progress(done, len(rows))
        cells = {key: [row.values[i] if i < len(row.values) else None for i in indexes] for key, indexes in found.items()}
        first = next((c for c in row.values if c not in (None, "")), None)
        if first is not None and not isinstance(first, Rejected) and any(
                word in _as_text(first).lower() for word in _SUMMARY) and not any(cells.get("bank_ref", [None])):
            outcome.note(row.number, first, _("A summary row: skipped."))
            continue
        bad = False
        for key, values in cells.items():
            for value in values:
                if isinstance(value, Rejected):
                    outcome.error(row.number, _label(key), value.raw, value.message)
                    bad = True
        if bad:
            continue
        value = lambda key: cells.get(key, [None])[0]  # noqa: E731
        credit, debit = value("amount"), value("debit")
        if _blank_amount(credit):
            if not _blank_amount(debit):
                outcome.note(row.number, debit, _("Money paid out (a debit): skipped."))
            else:
                outcome.error(row.number, _label("amount"), "", _("This column is required."))
            continue
        values = {}
        try:
            values["amount"] = amount_parser.parse(credit)
        except CellError as err:
            outcome.error(row.number, _label("amount"), credit, err.message)
            bad = True
        raw_day = value("received_on")
        if raw_day in (None, ""):
            outcome.error(row.number, _label("received_on"), "", _("This column is required."))
            bad = True
        else:
            try:
                values["received_on"] = day_parser.parse(raw_day)
                if values["received_on"] > day:
                    raise CellError(_("The day received cannot be in the future."))
                if values["received_on"] < day - timedelta(days=OLDEST_DAYS):
                    raise CellError(_("Record payments of the last three years."))
            except CellError as err:
                outcome.error(row.number, _label("received_on"), raw_day, err.message)
                bad = True
        for key, parser in text_parsers.items():
            raw = value(key)
            if raw in (None, ""):
                values[key] = None
                continue
            try:
                values[key] = parser.parse(raw)
            except CellError as err:
                outcome.error(row.number, _label(key), raw, err.message)
                bad = True
        if value("bank_ref") in (None, ""):
            outcome.error(row.number, _label("bank_ref"), "", _("This column is required."))
            bad = True
        remarks = [_as_text(v) for v in cells.get("reference", []) if v not in (None, "")]
        reference = " / ".join(dict.fromkeys(remarks))[:300] or None
        if bad:
            continue
        seen.setdefault(values["bank_ref"], []).append(row.number)
        refs.append(values["bank_ref"])
        pending.append(Line(row.number, values["received_on"], values["amount"], values["bank_ref"],
                            values["payer_name"], values["payer_account"], reference,
                            payers.dealer_for(values["payer_account"], values["payer_name"])))
    for i in range(0, len(refs), 1000):
        existing.update(session.scalars(select(Payment.bank_ref).where(Payment.bank_ref.in_(refs[i:i + 1000]))))
    header = _label("bank_ref")
    for ref, numbers in seen.items():
        if len(numbers) > 1:
            for number in numbers:
                others = ", ".join(str(n) for n in numbers if n != number)
                outcome.error(number, header, ref, _("Duplicate: rows %(rows)s of this file have the same %(key)s.",
                                                     rows=others, key=header))
    duplicated = {ref for ref, numbers in seen.items() if len(numbers) > 1}
    for line in pending:
        if line.bank_ref in duplicated:
            continue
        if line.bank_ref in existing:
            number = session.scalar(select(Payment.number).where(Payment.bank_ref == line.bank_ref))
            outcome.note(line.row, line.bank_ref, _("Already imported as payment %(number)s: skipped.", number=number))
            continue
        outcome.lines.append(line)
    if progress:
        progress(len(rows), len(rows))
    return outcome


def _blank_amount(value) -> bool:
    if value in (None, ""):
        return True
    text = re.sub(r"[,\s¥￥]", "", _as_text(value))
    try:
        return Decimal(text) == 0
    except Exception:  # not a number at all: let the parser say so
        return False


def write_payments(session: Session, outcome: StatementOutcome, import_run_id: int, user=None,
                   day: date | None = None) -> None:
    """Create the checked receipts as payments and match each automatically."""
    payments = []
    for line in outcome.lines:
        payment = Payment(dealer_id=line.dealer_id, received_on=line.received_on, amount=line.amount,
                          applied_amount=Decimal("0"), status="unapplied", bank_ref=line.bank_ref,
                          reference=line.reference, payer_name=line.payer_name, payer_account=line.payer_account,
                          method="transfer", source="import", import_run_id=import_run_id,
                          recorded_by_id=getattr(user, "id", None))
        assign_number(session, payment, "RC", day=line.received_on)
        session.add(payment)
        payments.append(payment)
    session.flush()
    outcome.created = len(payments)
    for payment in payments:
        if payment.dealer_id is not None and auto_match(session, payment, user, day):
            outcome.matched += 1


def read_statement(filename: str, data: bytes) -> Table:
    """The statement's table, from its header row on; ``TableError`` saying which
    columns are missing when no header row is found."""
    try:
        return read_table(filename, data, is_header=is_header, header_within=HEADER_SEARCH_ROWS)
    except TableError as err:
        try:
            plain = read_table(filename, data)
        except TableError:
            raise err from None
        raise TableError(_("The columns %(names)s were not found: the statement needs the transaction day, the credit "
                           "amount and the bank reference (流水号).",
                           names="、".join(missing_columns(plain.headers)))) from None


def import_statement(session: Session, filename: str, data: bytes, import_run_id: int, user=None,
                     dry_run: bool = False, progress=None, day: date | None = None) -> tuple[Table | None, StatementOutcome]:
    """Read, check and (unless a dry run or there are errors) write a statement. The
    caller keeps the transaction only when it should (no errors, not a dry run)."""
    day = day or shanghai_today()
    try:
        table = read_statement(filename, data)
    except TableError as err:
        outcome = StatementOutcome()
        outcome.error(None, "", filename, err.message)
        return None, outcome
    outcome = check_statement(session, table, day, progress)
    if not outcome.errors and not dry_run:
        write_payments(session, outcome, import_run_id, user, day)
    return table, outcome


def report_xlsx(filename: str, table: Table | None, outcome: StatementOutcome, status: str, dry_run: bool) -> bytes:
    """The validation report: a summary, the file's rows with what happened to each,
    and the problems."""
    status_label = {"imported": _("Imported"), "checked": _("Checked, nothing written (dry run)"),
                    "rejected": _("Refused, nothing written")}.get(status, status)
    summary = [[_("File"), filename], [_("Outcome"), status_label], [_("Dry run"), _("Yes") if dry_run else _("No")],
               [_("Rows"), outcome.total], [_("Receipts to import") if dry_run else _("Payments created"),
                                             len(outcome.lines) if status != "imported" else outcome.created],
               [_("Payer not identified"), outcome.unidentified], [_("Matched automatically"), outcome.matched],
               [_("Rows skipped"), len(outcome.notes)], [_("Errors"), len(outcome.errors)]]
    summary += [[_("File"), e["message"]] for e in outcome.errors if e["row"] is None]
    sheets = [Sheet(_("Summary"), [_("Item"), _("Value")], summary, widths=[24, 80])]
    if table is not None:
        head = [str(h) for h in table.headers]
        rows = ([row.number] + [v.raw if isinstance(v, Rejected) else v for v in row.values]
                + ["; ".join(outcome.by_row.get(row.number, []))] for row in table.rows)
        sheets.append(Sheet(_("Rows of the file"), ["#"] + head + ["结果 / Outcome"], rows))
    sheets.append(Sheet(_("Problems"), [_("Row"), _("Column"), _("Value"), _("Message")],
                        ([e["row"], e["column"], e["value"], e["message"]] for e in outcome.errors + outcome.notes),
                        widths=[8, 20, 30, 80]))
    return write_xlsx(sheets)


@job_kind(BANK_IMPORT_JOB, _l("Bank statement import"), roles=FINANCE_ROLES)
def bank_import_job(ctx: JobContext) -> Output:
    """Import a bank statement: all receipts or none; the report is the output. Safe to
    run twice: a finished import only rebuilds its report."""
    from app.compliance.models import Document, ImportRun
    from app.compliance.operations import Actor, reason, record_event, set_context
    from app.core.jobs import JobRefused
    from app.core.storage import get_storage
    from app.identity.models import User

    run_id = int(ctx.params["import_run_id"])
    with ctx.session() as session:
        run = session.get(ImportRun, run_id, with_for_update=True)
        if run is None or run.entity != ENTITY:
            raise JobRefused("no such bank statement import")
        upload = session.get(Document, run.upload_document_id)
        finished = run.status in ("imported", "checked", "rejected")
        if not finished:
            run.status = "running"
        info = dict(filename=run.filename, dry_run=run.dry_run, key=upload.storage_key, sha256=upload.sha256,
                    user_id=run.requested_by_id, status=run.status, errors=list(run.errors), total=run.total_rows,
                    taken=run.taken_rows)
    data = get_storage().get(info["key"], info["sha256"])
    if finished:  # a second run of a finished import: the same report again, nothing applied
        outcome = StatementOutcome(total=info["total"], created=info["taken"])
        for e in info["errors"]:
            (outcome.notes if e.get("note") else outcome.errors).append(e)
        try:
            table = read_statement(info["filename"], data)
        except TableError:
            table = None
        return _report(ctx, run_id, info, table, outcome, info["status"])

    def progress(done: int, total: int) -> None:
        ctx.progress(int(95 * done / max(total, 1)), _("Row %(done)d of %(total)d", done=done, total=total))

    try:
        with ctx.session() as session:
            user = session.get(User, info["user_id"]) if info["user_id"] else None
            set_context(session, Actor.user(user) if user else Actor.system("bank statement import"))
            with reason(session, _("Bank statement import #%(id)d (%(file)s)", id=run_id, file=info["filename"])):
                table, outcome = import_statement(session, info["filename"], data, run_id, user,
                                                           info["dry_run"], progress)
            status = "rejected" if outcome.errors else "checked" if info["dry_run"] else "imported"
            if status != "imported":
                session.rollback()  # all or nothing; the outcome is written in a new, short transaction
            run = session.get(ImportRun, run_id)
            stored = (outcome.errors + outcome.notes)[:MAX_STORED]
            run.status, run.total_rows, run.errors = status, outcome.total, stored
            run.taken_rows = outcome.created if status == "imported" else len(outcome.lines)
            run.finished_at = session.execute(select(func.now())).scalar()
            record_event(session, "import", "import_runs", run_id, after={
                "entity": ENTITY, "filename": info["filename"], "dry_run": info["dry_run"], "status": status,
                "rows": outcome.total, "payments": outcome.created, "matched": outcome.matched,
                "unidentified": outcome.unidentified if status == "imported" else 0,
                "skipped": len(outcome.notes), "errors": len(outcome.errors)})
    except Exception:
        with ctx.session() as session:
            set_context(session, Actor.system("bank statement import"))
            run = session.get(ImportRun, run_id)
            if run is not None and run.status == "running":
                run.status = "failed"
        raise
    return _report(ctx, run_id, info, table, outcome, status)


def _report(ctx, run_id, info, table, outcome, status) -> Output:
    data = report_xlsx(info["filename"], table, outcome, status, info["dry_run"])
    return Output(f"bank-import-{run_id}-report.xlsx", data, XLSX_TYPE, "xlsx")
