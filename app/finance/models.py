"""Invoices and credit notes, payments and their applications to invoices, payment
reminders, and monthly reconciliation statements with their lines, disputes and runs.

Sign conventions: every amount column holds a non-negative figure; the row's kind says
which way it moves the dealer's balance (an invoice raises what the dealer owes, a credit
note and a payment lower it). A dealer's receivable balance is Σ invoices − Σ credit
notes − Σ payments, whatever has been matched to what; matching (``invoice_applications``)
only says which invoice a payment or credit settled, for aging and reminders.
"""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, SmallInteger,
                        String, Text, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db

INVOICE_KINDS = ("invoice", "credit_note")
INVOICE_STATUSES = ("open", "settled", "void")
#: why a credit note was issued
CREDIT_REASONS = ("return", "rebate_offset", "price_adjustment", "other")


class Invoice(IdMixin, TimestampMixin, db.Model):
    """A VAT invoice to a dealer for a shipment (kind ``invoice``), or a credit note
    (红字发票/贷项通知, kind ``credit_note``) for a return, a rebate offset (票折) or an
    adjustment. Amounts include VAT; ``net_amount`` + ``tax_amount`` = ``amount``, each
    the sum of its lines. ``settled_amount`` is what applications have settled of it
    (payments and credit notes for an invoice; what a credit note has been applied to)."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind"),
        CheckConstraint("status IN ('open', 'settled', 'void')", name="status"),
        CheckConstraint("reason IS NULL OR reason IN ('return', 'rebate_offset', 'price_adjustment', 'other')",
                        name="reason"),
        CheckConstraint("(kind = 'credit_note') = (reason IS NOT NULL)", name="credit_reason"),
        CheckConstraint("amount >= 0 AND net_amount >= 0 AND tax_amount >= 0 AND net_amount + tax_amount = amount",
                        name="amounts"),
        CheckConstraint("settled_amount >= 0 AND settled_amount <= amount", name="settled"),
        Index("ix_invoices_dealer_issued", "dealer_id", "issued_on", "id"),
        Index("ix_invoices_dealer_id_desc", "dealer_id", "id"),
        Index("ix_invoices_dealer_open", "dealer_id", "due_on", postgresql_where=text("status::text = 'open'::text")),
        Index("ix_invoices_issued_on", "issued_on"),
        Index("ix_invoices_open_due", "status", "due_on", postgresql_where=text("status::text = 'open'::text")),
        Index("uq_invoices_shipment", "shipment_id", unique=True,
              postgresql_where=text("kind::text = 'invoice'::text AND status::text <> 'void'::text")),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("shipments.id"))
    return_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("returns.id"), index=True)
    #: a credit note's invoice (the one it corrects or offsets), when it has one
    related_invoice_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("invoices.id"), index=True)
    reason: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="open")
    #: Asia/Shanghai business day of issue; an invoice's due day is issue + payment terms
    issued_on: Mapped[date] = mapped_column(Date, nullable=False)
    due_on: Mapped[date | None] = mapped_column(Date)
    net_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    tax_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    settled_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    #: the number the tax system gave the VAT invoice (发票号码), entered by finance
    tax_invoice_no: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    issued_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))

    dealer = relationship("Dealer", lazy="joined")
    lines = relationship("InvoiceLine", order_by="InvoiceLine.line_no", cascade="all, delete-orphan")


class InvoiceLine(IdMixin, db.Model):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        UniqueConstraint("invoice_id", "line_no"),
        CheckConstraint("amount >= 0 AND net_amount >= 0 AND tax_amount >= 0 AND net_amount + tax_amount = amount",
                        name="amounts"),
        Index("ix_invoice_lines_order_line", "order_line_id"),
    )

    invoice_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False)
    line_no: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    #: empty on a line that is not goods (a rebate offset, an adjustment)
    sku_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("skus.id"))
    description: Mapped[str] = mapped_column(String(300), nullable=False)
    quantity: Mapped[int | None] = mapped_column(Integer)
    #: per unit, including VAT
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False)
    net_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    tax_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    order_line_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("order_lines.id"))
    shipment_line_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("shipment_lines.id"))
    return_line_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("return_lines.id"))
    lot_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("lots.id"))

    sku = relationship("Sku", lazy="joined")


PAYMENT_STATUSES = ("unapplied", "partial", "applied")


class Payment(IdMixin, TimestampMixin, db.Model):
    """回款: money received from a dealer (recorded by finance or imported from a bank
    statement). A payment whose payer could not be identified has no dealer yet.
    ``applied_amount`` is what has been matched to invoices."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("applied_amount >= 0 AND applied_amount <= amount", name="applied"),
        CheckConstraint("status IN ('unapplied', 'partial', 'applied')", name="status"),
        CheckConstraint("source IN ('manual', 'import')", name="source"),
        Index("ix_payments_dealer_received", "dealer_id", "received_on", "id"),
        Index("ix_payments_dealer_id_desc", "dealer_id", "id"),
        Index("ix_payments_dealer_open", "dealer_id", postgresql_where=text("status::text <> 'applied'::text")),
        Index("ix_payments_received_on", "received_on"),
        Index("uq_payments_bank_ref", "bank_ref", unique=True, postgresql_where=text("bank_ref IS NOT NULL")),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"))
    received_on: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    applied_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="unapplied")
    #: the bank's own transaction reference (流水号): a statement imported twice adds nothing
    bank_ref: Mapped[str | None] = mapped_column(String(60))
    #: the payer's remark (附言/摘要), where invoice numbers are usually written
    reference: Mapped[str | None] = mapped_column(String(300))
    payer_name: Mapped[str | None] = mapped_column(String(200))
    payer_account: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str | None] = mapped_column(String(20))  # bank transfer, acceptance bill (承兑汇票) …
    source: Mapped[str] = mapped_column(String(10), nullable=False, server_default="manual")
    import_run_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("import_runs.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))

    dealer = relationship("Dealer", lazy="joined")


class InvoiceApplication(IdMixin, db.Model):
    """Part of an invoice settled by a payment or by a credit note (matching, 核销):
    automatic (by reference and amount) or by a clerk. Reversing one is a negative row
    that names the row it reverses (``reversal_of_id``, at most one reversal per row)
    and says why (``note``); rows are never changed or deleted."""

    __tablename__ = "invoice_applications"
    __table_args__ = (
        CheckConstraint("(payment_id IS NULL) <> (credit_note_id IS NULL)", name="source"),
        CheckConstraint("amount <> 0", name="amount"),
        CheckConstraint("method IN ('auto', 'manual')", name="method"),
        CheckConstraint("(amount < 0) = (reversal_of_id IS NOT NULL)", name="reversal"),
        Index("ix_invoice_applications_payment", "payment_id"),
        Index("ix_invoice_applications_credit_note", "credit_note_id"),
        UniqueConstraint("reversal_of_id"),
    )

    invoice_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("invoices.id"), nullable=False, index=True)
    payment_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("payments.id"))
    credit_note_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("invoices.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    applied_on: Mapped[date] = mapped_column(Date, nullable=False)
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    applied_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    #: the application this negative row reverses
    reversal_of_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("invoice_applications.id"))
    #: why it was reversed
    note: Mapped[str | None] = mapped_column(String(300))


class PaymentReminder(IdMixin, db.Model):
    """One reminder about one invoice (before its due day, or so many days overdue),
    sent once: the unique key makes the daily run safe to repeat."""

    __tablename__ = "payment_reminders"
    __table_args__ = (UniqueConstraint("invoice_id", "kind"),)

    invoice_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("invoices.id"), nullable=False)
    #: due_in_7, due_today, overdue_7, overdue_30 …
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    sent_on: Mapped[date] = mapped_column(Date, nullable=False)
    outbox_message_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("outbox_messages.id"))

    outbox_message = relationship("OutboxMessage")


STATEMENT_STATUSES = ("generating", "issued", "confirmed", "disputed", "superseded", "failed")
#: the sections of a statement: the receivable, the rebate balance, and the month's
#: estimated accruals (a memo: not part of any balance)
STATEMENT_SECTIONS = ("receivable", "rebate", "accrual")


class Statement(IdMixin, TimestampMixin, db.Model):
    """对账单: one dealer's month, as a numbered version. The receivable section runs from
    the opening balance through invoices, credit notes and payments to the closing
    balance; the rebate section from the rebate opening balance through what was
    earned, used and expired. A corrected statement is a new version that supersedes
    the old one, which is kept. Confirmation is an electronic signature of
    ``content_hash`` (the canonical figures and lines)."""

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("dealer_id", "period_start", "version"),
        CheckConstraint("status IN ('generating', 'issued', 'confirmed', 'disputed', 'superseded', 'failed')",
                        name="status"),
        CheckConstraint("period_end >= period_start", name="period"),
        # the figures add up on every row, whatever wrote it
        CheckConstraint("closing_balance = opening_balance + invoiced - credited - paid", name="closing"),
        CheckConstraint("rebate_closing = rebate_opening + rebate_earned - rebate_used - rebate_expired",
                        name="rebate_closing"),
        Index("ix_statements_period", "period_start", "dealer_id"),
        Index("ix_statements_dealer_id_desc", "dealer_id", "id"),
    )

    number: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    version: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="generating")
    opening_balance: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    invoiced: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    credited: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    paid: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    closing_balance: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    rebate_opening: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    #: settled, adjusted, claimed and price-protection credits in the month
    rebate_earned: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    rebate_used: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    rebate_expired: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    rebate_closing: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    #: estimated, not yet settled (a memo figure: not part of the balance)
    rebate_accrued: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    line_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    content_hash: Mapped[str | None] = mapped_column(String(64))
    pdf_document_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("documents.id"))
    xlsx_document_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("documents.id"))
    job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    run_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("statement_runs.id"), index=True)
    supersedes_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("statements.id"))
    #: the previous month's current statement when this one was generated, and its closing
    #: balances then: an opening balance that differs from them is pointed out on the statement
    previous_statement_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("statements.id"))
    previous_closing: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    previous_rebate_closing: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    signature_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("signatures.id"))

    dealer = relationship("Dealer", lazy="joined")


class StatementLine(IdMixin, db.Model):
    """One line of a statement, pointing at the record it came from (``ref_type``,
    ``ref_id``) so that every figure can be traced. Lines are written once by the
    generating job and never changed."""

    __tablename__ = "statement_lines"
    __table_args__ = (
        UniqueConstraint("statement_id", "line_no"),
        CheckConstraint("section IN ('receivable', 'rebate', 'accrual')", name="section"),
        CheckConstraint("debit >= 0 AND credit >= 0", name="amounts"),
    )

    statement_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("statements.id", ondelete="CASCADE"), nullable=False)
    line_no: Mapped[int] = mapped_column(Integer, nullable=False)
    section: Mapped[str] = mapped_column(String(12), nullable=False)
    occurred_on: Mapped[date] = mapped_column(Date, nullable=False)
    #: invoice, credit_note, payment; rebate_settled, rebate_adjusted, rebate_used …
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    ref_type: Mapped[str] = mapped_column(String(40), nullable=False)
    ref_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    ref_number: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(String(300))
    #: debit raises the section's balance (what the dealer owes / the rebate it holds)
    debit: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    credit: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    balance: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)


class StatementDispute(IdMixin, db.Model):
    """A dealer's objection to a statement, or to named lines of it, with a comment; it
    lands in the manufacturer's finance inbox and is resolved there (corrected by a new
    version, or answered)."""

    __tablename__ = "statement_disputes"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'corrected', 'answered')", name="status"),
        Index("ix_statement_disputes_status", "status", "id"),
    )

    statement_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("statements.id"), nullable=False, index=True)
    #: the disputed lines (empty: the statement as a whole)
    statement_line_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    comment: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="open")
    raised_by_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    signature_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("signatures.id"))
    resolved_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)
    #: the corrected statement, when the dispute led to one
    corrected_statement_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("statements.id"))


class StatementRun(IdMixin, db.Model):
    """A close-of-month run: every active dealer's statement for one month, generated in
    the background; the page shows overall progress from its counters."""

    __tablename__ = "statement_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status"),
        # one run of a month at a time
        Index("uq_statement_runs_running", "period_start", unique=True,
              postgresql_where=text("status::text = 'running'::text")),
    )

    period_start: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="running")
    total: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    done: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


RUN_OUTCOMES = ("pending", "issued", "unchanged", "kept", "failed")


class StatementRunItem(IdMixin, db.Model):
    """One dealer of a close-of-month run and its statement job: what became of it (a
    new version issued, unchanged, kept because the month is confirmed, failed). The
    run's progress is counted from these and their jobs."""

    __tablename__ = "statement_run_items"
    __table_args__ = (
        UniqueConstraint("run_id", "dealer_id"),
        CheckConstraint("outcome IN ('pending', 'issued', 'unchanged', 'kept', 'failed')", name="outcome"),
    )

    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("statement_runs.id"), nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    statement_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("statements.id"))
    outcome: Mapped[str] = mapped_column(String(20), nullable=False, server_default="pending")
