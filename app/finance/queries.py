"""Reads of invoices and collections, scoped by the acting user's reach: a dealer sees
its own invoices and payments, a regional manager those of dealers in its regions
(payments whose payer is not yet identified only finance and the channel managers),
a hospital none. Receivables, aging, DSO and collection rate are aggregated in SQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, Numeric, case, cast, exists, false, func, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from app.channel.models import Dealer, Region
from app.channel.queries import ChannelScope
from app.core.money import ZERO
from app.core.pagination import Page, keyset_page
from app.finance import rules
from app.finance.models import Invoice, InvoiceApplication, Payment, PaymentReminder
from app.orders.models import Order, ReturnRequest, Shipment

#: manufacturer roles that may read invoices, payments and receivables (regional
#: managers within their regions); finance and admin also write (matching.FINANCE_ROLES)
FINANCE_VIEWERS = ("admin", "finance", "channel_manager", "regional_manager")
#: dealer roles that see their company's invoices and payments (sales staff do not: the
#: order page tells them when an order waits for credit)
DEALER_FINANCE = ("dealer_owner", "dealer_finance")

KIND_LABELS = {"invoice": _l("Invoice"), "credit_note": _l("Credit note")}
STATUS_LABELS = {"open": _l("Unsettled"), "overdue": _l("Past due"), "settled": _l("Settled"), "void": _l("Void")}
STATUS_BADGES = {"open": "wait", "overdue": "late", "settled": "on", "void": "off"}
REASON_LABELS = {"return": _l("Return"), "rebate_offset": _l("Rebate offset (票折)"),
                 "price_adjustment": _l("Price adjustment"), "other": _l("Other")}
PAYMENT_STATUS_LABELS = {"unapplied": _l("Not matched"), "partial": _l("Partly matched"), "applied": _l("Matched"),
                         "unidentified": _l("Payer not identified")}
PAYMENT_BADGES = {"unapplied": "wait", "partial": "wait", "applied": "on", "unidentified": "late"}
METHOD_LABELS = {"transfer": _l("Bank transfer"), "acceptance_bill": _l("Bank acceptance bill"), "other": _l("Other")}
SOURCE_LABELS = {"manual": _l("Recorded by hand"), "import": _l("Bank statement import")}
BUCKET_LABELS = {"not_due": _l("Not yet due"), "d0_30": _l("0–30 days"), "d31_60": _l("31–60 days"),
                 "d61_90": _l("61–90 days"), "d90_plus": _l("Over 90 days")}
REMINDER_LABELS = {"due_in_7": _l("Due in 7 days"), "due_today": _l("Due"), "overdue_7": _l("7 days overdue"),
                   "overdue_30": _l("30 days overdue")}
#: the periods DSO and the collection rate are offered over (days)
PERIODS = (30, 90, 180, 365)
DEFAULT_PERIOD = 90
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
assert set(BUCKET_LABELS) == set(rules.BUCKETS) and set(REMINDER_LABELS) == set(rules.REMINDER_KINDS)


def labels() -> dict:
    """The label sets the finance pages use."""
    return {"kind_labels": KIND_LABELS, "status_labels": STATUS_LABELS, "status_badges": STATUS_BADGES,
            "reason_labels": REASON_LABELS, "payment_labels": PAYMENT_STATUS_LABELS, "payment_badges": PAYMENT_BADGES,
            "method_labels": METHOD_LABELS, "source_labels": SOURCE_LABELS, "bucket_labels": BUCKET_LABELS,
            "reminder_labels": REMINDER_LABELS}


def shown_status(status: str, kind: str, due_on: date | None, day: date) -> str:
    """The status a list shows: an open invoice past its due day is overdue."""
    if status == "open" and kind == "invoice" and due_on is not None and due_on < day:
        return "overdue"
    return status


# --- scope -------------------------------------------------------------------------------------

def _scoped(stmt, user, dealer_column):
    """Limit a statement that joins (or outer-joins) ``Dealer`` to the user's reach."""
    scope = ChannelScope.of(user)
    if scope.dealer_id is not None:
        return stmt.where(dealer_column == scope.dealer_id)
    if scope.hospital_id is not None:
        return stmt.where(false())
    clause = scope.regions_clause(Dealer.region_id)
    return stmt if clause is None else stmt.where(clause)


def day_in_range(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


# --- invoices -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InvoiceFilter:
    dealer_id: int | None = None
    #: open, overdue, settled, void
    status: str = ""
    kind: str = ""
    since: date | None = None
    until: date | None = None
    #: an invoice number or a tax invoice number (or a part of one)
    search: str = ""


def invoices_page(session: Session, user, cursor: str | None, f: InvoiceFilter = InvoiceFilter(),
                  day: date | None = None) -> Page:
    """Invoices and credit notes in reach, newest first, as plain rows."""
    from app.core.i18n import shanghai_today

    day = day or shanghai_today()
    stmt = (select(Invoice.id, Invoice.number, Invoice.kind, Invoice.reason, Invoice.status, Invoice.issued_on,
                   Invoice.due_on, Invoice.amount, Invoice.net_amount, Invoice.tax_amount, Invoice.settled_amount,
                   (Invoice.amount - Invoice.settled_amount).label("open_amount"), Invoice.tax_invoice_no,
                   Invoice.dealer_id, Dealer.name.label("dealer_name"), Dealer.code.label("dealer_code"),
                   Order.number.label("order_number"), Shipment.number.label("shipment_number"))
            .join(Dealer, Dealer.id == Invoice.dealer_id)
            .outerjoin(Order, Order.id == Invoice.order_id).outerjoin(Shipment, Shipment.id == Invoice.shipment_id))
    stmt = _scoped(stmt, user, Invoice.dealer_id)
    if f.dealer_id:
        stmt = stmt.where(Invoice.dealer_id == f.dealer_id)
    if f.kind in KIND_LABELS:
        stmt = stmt.where(Invoice.kind == f.kind)
    if f.status == "overdue":
        stmt = stmt.where(Invoice.status == "open", Invoice.kind == "invoice", Invoice.due_on < day)
    elif f.status in ("open", "settled", "void"):
        stmt = stmt.where(Invoice.status == f.status)
    if f.since:
        stmt = stmt.where(Invoice.issued_on >= f.since)
    if f.until:
        stmt = stmt.where(Invoice.issued_on <= f.until)
    if search := f.search.strip().upper():
        stmt = stmt.where(or_(Invoice.number.contains(search), Invoice.tax_invoice_no.contains(search)))
    return keyset_page(session, stmt, (Invoice.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def invoice_for(session: Session, user, invoice_id: int) -> Invoice | None:
    """The invoice or credit note if the user's reach covers it, else None (404)."""
    stmt = select(Invoice).join(Dealer, Dealer.id == Invoice.dealer_id).where(Invoice.id == invoice_id)
    return session.scalars(_scoped(stmt, user, Invoice.dealer_id)).unique().one_or_none()


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    amount: Decimal
    applied_on: date
    method: str
    #: the other side: the payment or credit note (on an invoice), the invoice (on a source)
    other_kind: str
    other_id: int
    other_number: str
    reversal_of_id: int | None
    note: str | None
    reversed: bool
    applied_by: str | None


def _applications(session: Session, where, side: str) -> list[ApplicationRow]:
    """Applications as rows naming the other side: ``side`` is "invoice" (we show an
    invoice: name the payment or credit note) or "source" (name the invoice)."""
    from app.identity.models import User

    credit, target = aliased(Invoice), aliased(Invoice)
    reversal = aliased(InvoiceApplication)
    rows = session.execute(
        select(InvoiceApplication, Payment.number.label("payment_number"), credit.number.label("credit_number"),
               target.number.label("invoice_number"), User.name.label("user_name"),
               exists().where(reversal.reversal_of_id == InvoiceApplication.id).label("reversed"))
        .outerjoin(Payment, Payment.id == InvoiceApplication.payment_id)
        .outerjoin(credit, credit.id == InvoiceApplication.credit_note_id)
        .join(target, target.id == InvoiceApplication.invoice_id)
        .outerjoin(User, User.id == InvoiceApplication.applied_by_id)
        .where(where).order_by(InvoiceApplication.id))
    out = []
    for a, payment_number, credit_number, invoice_number, user_name, reversed_ in rows:
        if side == "invoice":
            kind, other_id, number = (("payment", a.payment_id, payment_number) if a.payment_id
                                      else ("credit_note", a.credit_note_id, credit_number))
        else:
            kind, other_id, number = "invoice", a.invoice_id, invoice_number
        out.append(ApplicationRow(a.id, a.amount, a.applied_on, a.method, kind, other_id, number, a.reversal_of_id,
                                  a.note, bool(reversed_), user_name))
    return out


def applications_to(session: Session, invoice_id: int) -> list[ApplicationRow]:
    """What settled an invoice: payments and credit notes, reversals included."""
    return _applications(session, InvoiceApplication.invoice_id == invoice_id, "invoice")


def applications_of_payment(session: Session, payment_id: int) -> list[ApplicationRow]:
    """What a payment settled."""
    return _applications(session, InvoiceApplication.payment_id == payment_id, "source")


def applications_of_credit_note(session: Session, credit_note_id: int) -> list[ApplicationRow]:
    """What a credit note settled."""
    return _applications(session, InvoiceApplication.credit_note_id == credit_note_id, "source")


def application_for(session: Session, user, application_id: int) -> InvoiceApplication | None:
    """An application whose invoice the user's reach covers."""
    stmt = (select(InvoiceApplication).join(Invoice, Invoice.id == InvoiceApplication.invoice_id)
            .join(Dealer, Dealer.id == Invoice.dealer_id).where(InvoiceApplication.id == application_id))
    return session.scalar(_scoped(stmt, user, Invoice.dealer_id))


def credit_notes_for(session: Session, invoice_id: int) -> list[Invoice]:
    """The credit notes issued against an invoice (returns, rebate offsets)."""
    return list(session.scalars(select(Invoice).where(Invoice.related_invoice_id == invoice_id,
                                                      Invoice.kind == "credit_note").order_by(Invoice.id)))


def order_invoices(session: Session, order_id: int) -> list[Invoice]:
    """An order's invoices and credit notes, oldest first (the order page lists them)."""
    return list(session.scalars(select(Invoice).where(Invoice.order_id == order_id, Invoice.status != "void")
                                .order_by(Invoice.issued_on, Invoice.id)))


def reminders_for(session: Session, invoice_id: int) -> list[PaymentReminder]:
    return list(session.scalars(select(PaymentReminder).where(PaymentReminder.invoice_id == invoice_id)
                                .order_by(PaymentReminder.sent_on, PaymentReminder.id)))


def return_of(session: Session, invoice: Invoice) -> ReturnRequest | None:
    return session.get(ReturnRequest, invoice.return_id) if invoice.return_id else None


@dataclass(frozen=True)
class OpenInvoice:
    id: int
    number: str
    issued_on: date
    due_on: date | None
    amount: Decimal
    open_amount: Decimal
    tax_invoice_no: str | None
    order_number: str | None


def open_invoices(session: Session, dealer_id: int) -> list[OpenInvoice]:
    """A dealer's open invoices, oldest due first: what a payment can be matched to."""
    rows = session.execute(
        select(Invoice.id, Invoice.number, Invoice.issued_on, Invoice.due_on, Invoice.amount,
               (Invoice.amount - Invoice.settled_amount).label("open_amount"), Invoice.tax_invoice_no,
               Order.number.label("order_number"))
        .outerjoin(Order, Order.id == Invoice.order_id)
        .where(Invoice.dealer_id == dealer_id, Invoice.kind == "invoice", Invoice.status == "open",
               Invoice.amount > Invoice.settled_amount)
        .order_by(Invoice.due_on, Invoice.id).limit(500))
    return [OpenInvoice(*r) for r in rows]


# --- payments ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PaymentFilter:
    dealer_id: int | None = None
    #: unapplied, partial, applied, or unidentified (no dealer yet)
    status: str = ""
    since: date | None = None
    until: date | None = None
    #: a payment number, bank reference (流水号) or payer name
    search: str = ""
    import_run_id: int | None = None


def payments_page(session: Session, user, cursor: str | None, f: PaymentFilter = PaymentFilter()) -> Page:
    """Payments in reach, newest first, as plain rows."""
    stmt = (select(Payment.id, Payment.number, Payment.received_on, Payment.amount, Payment.applied_amount,
                   (Payment.amount - Payment.applied_amount).label("unapplied"), Payment.status, Payment.bank_ref,
                   Payment.reference, Payment.payer_name, Payment.source, Payment.dealer_id,
                   Dealer.name.label("dealer_name"), Dealer.code.label("dealer_code"))
            .outerjoin(Dealer, Dealer.id == Payment.dealer_id))
    stmt = _scoped(stmt, user, Payment.dealer_id)
    if f.dealer_id:
        stmt = stmt.where(Payment.dealer_id == f.dealer_id)
    if f.status == "unidentified":
        stmt = stmt.where(Payment.dealer_id.is_(None))
    elif f.status in ("unapplied", "partial", "applied"):
        stmt = stmt.where(Payment.status == f.status)
    if f.since:
        stmt = stmt.where(Payment.received_on >= f.since)
    if f.until:
        stmt = stmt.where(Payment.received_on <= f.until)
    if f.import_run_id:
        stmt = stmt.where(Payment.import_run_id == f.import_run_id)
    if search := f.search.strip():
        like = f"%{search}%"
        stmt = stmt.where(or_(Payment.number.ilike(like), Payment.bank_ref.ilike(like), Payment.payer_name.ilike(like)))
    return keyset_page(session, stmt, (Payment.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def payment_for(session: Session, user, payment_id: int) -> Payment | None:
    """The payment if the user's reach covers it (an unidentified one: only unscoped
    manufacturer staff), else None (404)."""
    stmt = select(Payment).outerjoin(Dealer, Dealer.id == Payment.dealer_id).where(Payment.id == payment_id)
    return session.scalars(_scoped(stmt, user, Payment.dealer_id)).unique().one_or_none()


# --- a dealer's position: credit, and what its pages show -----------------------------------------------

@dataclass(frozen=True)
class CreditFigures:
    #: open orders' amounts not yet invoiced (less the rebate offset still to credit)
    uninvoiced: Decimal
    #: invoices − credit notes − payments
    receivable: Decimal
    #: open amount of invoices past their due day, less money received and not yet matched
    overdue: Decimal


def credit_figures(session: Session, dealer_id: int, order_statuses, day: date) -> CreditFigures:
    """What a dealer owes or has committed, for the credit check: orders in
    ``order_statuses`` not yet invoiced, its receivable balance, and what is overdue.

    Money received but not yet matched (an unapplied payment, a credit note not yet
    applied) is counted against the overdue invoices: a dealer who paid is not held
    because a clerk has not matched the payment yet."""
    invoiced = (select(Invoice.order_id, func.sum(Invoice.amount).label("amount"))
                .where(Invoice.dealer_id == dealer_id, Invoice.kind == "invoice", Invoice.status != "void",
                       Invoice.order_id.is_not(None)).group_by(Invoice.order_id).subquery())
    offset = (select(Invoice.order_id, func.sum(Invoice.amount).label("amount"))
              .where(Invoice.dealer_id == dealer_id, Invoice.kind == "credit_note", Invoice.reason == "rebate_offset",
                     Invoice.status != "void").group_by(Invoice.order_id).subquery())
    left = Order.total_amount - func.coalesce(invoiced.c.amount, 0) - func.greatest(
        0, Order.rebate_offset - func.coalesce(offset.c.amount, 0))
    uninvoiced = session.scalar(
        select(func.coalesce(func.sum(func.greatest(left, 0)), 0)).select_from(Order)
        .outerjoin(invoiced, invoiced.c.order_id == Order.id).outerjoin(offset, offset.c.order_id == Order.id)
        .where(Order.dealer_id == dealer_id, Order.status.in_(tuple(order_statuses))))
    position = _open_position(session, dealer_id, day)
    return CreditFigures(Decimal(uninvoiced), position.receivable, max(ZERO, position.overdue - position.unapplied))


@dataclass(frozen=True)
class _OpenPosition:
    open_invoices: Decimal
    overdue: Decimal
    #: credit notes and payments not yet applied
    unapplied: Decimal
    next_due_on: date | None
    oldest_overdue_on: date | None

    @property
    def receivable(self) -> Decimal:
        """invoices − credit notes − payments: every application moves both sides, so
        this is what is open less what is received and not yet applied."""
        return self.open_invoices - self.unapplied


def _open_position(session: Session, dealer_id: int, day: date) -> _OpenPosition:
    """A dealer's open documents (ix_invoices_dealer_open, ix_payments_dealer_open): the
    reads stay small however long the dealer's history."""
    open_amount = Invoice.amount - Invoice.settled_amount
    is_invoice = Invoice.kind == "invoice"
    docs = session.execute(
        select(func.coalesce(func.sum(open_amount).filter(is_invoice), 0),
               func.coalesce(func.sum(open_amount).filter(is_invoice, Invoice.due_on < day), 0),
               func.coalesce(func.sum(open_amount).filter(Invoice.kind == "credit_note"), 0),
               func.min(Invoice.due_on).filter(is_invoice, Invoice.due_on >= day),
               func.min(Invoice.due_on).filter(is_invoice, Invoice.due_on < day))
        .where(Invoice.dealer_id == dealer_id, Invoice.status == "open")).one()
    payments_left = session.scalar(select(func.coalesce(func.sum(Payment.amount - Payment.applied_amount), 0))
                                   .where(Payment.dealer_id == dealer_id, Payment.status != "applied"))
    open_total, overdue, credit_left, next_due, oldest = docs
    return _OpenPosition(Decimal(open_total), Decimal(overdue), Decimal(credit_left) + Decimal(payments_left),
                         next_due, oldest)


@dataclass(frozen=True)
class DealerPosition:
    receivable: Decimal
    open_invoices: Decimal
    overdue: Decimal
    not_due: Decimal
    unapplied: Decimal
    next_due_on: date | None
    next_due_amount: Decimal
    oldest_overdue_on: date | None


def dealer_position(session: Session, dealer_id: int, day: date) -> DealerPosition:
    """A dealer's receivable at a glance (its dashboard and invoice list): the balance,
    what is open, overdue and not yet due, money not yet matched, the next due day."""
    p = _open_position(session, dealer_id, day)
    next_amount = ZERO
    if p.next_due_on is not None:
        next_amount = session.scalar(select(func.coalesce(func.sum(Invoice.amount - Invoice.settled_amount), 0)).where(
            Invoice.dealer_id == dealer_id, Invoice.kind == "invoice", Invoice.status == "open",
            Invoice.due_on == p.next_due_on))
    return DealerPosition(p.receivable, p.open_invoices, p.overdue, p.open_invoices - p.overdue, p.unapplied,
                          p.next_due_on, Decimal(next_amount), p.oldest_overdue_on)


def recent_reminders(session: Session, dealer_id: int, day: date, days: int = 30, limit: int = 10) -> list:
    """The payment reminders sent to a dealer in the last ``days`` days, newest first,
    with their invoices' numbers and what is still open of them."""
    return list(session.execute(
        select(PaymentReminder.kind, PaymentReminder.sent_on, Invoice.id.label("invoice_id"), Invoice.number,
               Invoice.due_on, (Invoice.amount - Invoice.settled_amount).label("open_amount"), Invoice.status)
        .join(Invoice, Invoice.id == PaymentReminder.invoice_id)
        .where(Invoice.dealer_id == dealer_id, PaymentReminder.sent_on >= day - timedelta(days=days))
        .order_by(PaymentReminder.sent_on.desc(), PaymentReminder.id.desc()).limit(limit)))


# --- receivables: aging, DSO and collection rate ----------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    """One dealer's, region's or the whole reach's receivable figures."""

    key: int | None
    name: str
    code: str | None
    balance: Decimal
    buckets: dict
    unapplied: Decimal
    opening: Decimal
    invoiced: Decimal
    collected: Decimal
    days: int

    @property
    def overdue(self) -> Decimal:
        return sum((self.buckets[b] for b in rules.OVERDUE_BUCKETS), ZERO)

    @property
    def dso(self) -> Decimal | None:
        return rules.dso(self.balance, self.invoiced, self.days)

    @property
    def collection_rate(self) -> Decimal | None:
        return rules.collection_rate(self.collected, self.opening, self.invoiced)


_PARTS = (*rules.BUCKETS, "credit_left", "payment_left", "invoiced", "collected")


def _parts(dealer_column, **values):
    """The columns of one branch of the figures' UNION ALL: the dealer and every part,
    zero where this branch has nothing to say."""
    zero = cast(0, Numeric(14, 2))
    return [dealer_column.label("dealer_id"), *[(values.get(p, zero)).label(p) for p in _PARTS]]


def _movements(day: date, since: date, dealer_ids=None):
    """Per dealer and part, from the rows that matter only: open invoices by aging
    bucket, credit notes and payments not yet applied, and the documents issued and the
    payments received in [since, day].

    Why only these rows: every application moves an invoice's ``settled_amount`` and its
    source's applied amount together, so the receivable balance — invoices − credit notes
    − payments — equals the open invoices' amounts less what credit notes and payments
    have not yet applied. The aggregate reads the open rows and the period's flows (each
    on an index), not the tenant's whole history; the opening balance follows as
    balance − net invoiced + collected."""
    open_amount = Invoice.amount - Invoice.settled_amount
    late = day - Invoice.due_on  # days past due (date − date is an integer in PostgreSQL)
    is_invoice = Invoice.kind == "invoice"

    def when(condition):
        return case((condition, open_amount), else_=0)

    branches = [
        select(*_parts(Invoice.dealer_id, not_due=when(is_invoice & (late <= 0)),
                       d0_30=when(is_invoice & late.between(1, 30)), d31_60=when(is_invoice & late.between(31, 60)),
                       d61_90=when(is_invoice & late.between(61, 90)), d90_plus=when(is_invoice & (late > 90)),
                       credit_left=when(Invoice.kind == "credit_note")))
        .where(Invoice.status == "open"),
        select(*_parts(Invoice.dealer_id, invoiced=case((is_invoice, Invoice.amount), else_=-Invoice.amount)))
        .where(Invoice.status != "void", Invoice.issued_on.between(since, day)),
        select(*_parts(Payment.dealer_id, payment_left=Payment.amount - Payment.applied_amount))
        .where(Payment.status != "applied", Payment.dealer_id.is_not(None)),
        select(*_parts(Payment.dealer_id, collected=Payment.amount))
        .where(Payment.received_on.between(since, day), Payment.dealer_id.is_not(None)),
    ]
    if dealer_ids is not None:
        branches = [b.where(b.selected_columns.dealer_id.in_(dealer_ids)) for b in branches]
    return union_all(*branches).subquery()


def _figure_columns(moves):
    return [func.sum(getattr(moves.c, p)).label(p) for p in _PARTS]


def _figures(row, key, name, code, days) -> Figures:
    parts = {p: Decimal(getattr(row, p) or 0) for p in _PARTS}
    buckets = {b: parts[b] for b in rules.BUCKETS}
    unapplied = parts["credit_left"] + parts["payment_left"]
    balance = sum(buckets.values(), ZERO) - unapplied
    opening = balance - parts["invoiced"] + parts["collected"]
    return Figures(key, name, code, balance, buckets, unapplied, opening, parts["invoiced"], parts["collected"], days)


@dataclass(frozen=True)
class ReceivablesFilter:
    region_id: int | None = None
    dealer_id: int | None = None
    days: int = DEFAULT_PERIOD


def _area_id(region):
    """The id of the top-level region (京津冀, 华东 …) a dealer's region lies in: the
    second id of its materialised path "/<country>/<area>/…"."""
    return cast(func.nullif(func.split_part(region.path, "/", 3), ""), BigInteger)


def _receivable_base(session: Session, user, f: ReceivablesFilter):
    """The dealers in reach that have invoices or payments, with their top-level region."""
    # the dealer's own region, aliased: the scope's region subqueries use ``Region`` and
    # must not be correlated with it
    home = aliased(Region, name="home_region")
    active = or_(exists().where(Invoice.dealer_id == Dealer.id), exists().where(Payment.dealer_id == Dealer.id))
    stmt = (select(Dealer.id, Dealer.name, Dealer.code, _area_id(home).label("area_id"))
            .join(home, home.id == Dealer.region_id).where(active))
    stmt = _scoped(stmt, user, Dealer.id)
    if f.region_id:
        subtree = select(Region.path).where(Region.id == f.region_id).scalar_subquery()
        stmt = stmt.where(home.path.startswith(subtree))
    if f.dealer_id:
        stmt = stmt.where(Dealer.id == f.dealer_id)
    return stmt, home


def _since(day: date, f: ReceivablesFilter) -> date:
    return day - timedelta(days=f.days - 1)


def receivables_by_dealer(session: Session, user, cursor: str | None, f: ReceivablesFilter = ReceivablesFilter(),
                          day: date | None = None) -> Page:
    """One page of dealers with invoices or payments, by name, each with its figures
    (items are ``Figures``). The page's dealers are chosen first, then only their rows
    are aggregated, in one statement."""
    from app.core.i18n import shanghai_today

    day = day or shanghai_today()
    base, _home = _receivable_base(session, user, f)
    page = keyset_page(session, base, (Dealer.name, Dealer.id), lambda r: (r.name, r.id), cursor, entities=False)
    ids = [r.id for r in page.items]
    if not ids:
        return page
    moves = _movements(day, _since(day, f), ids)
    rows = {r.dealer_id: r for r in session.execute(
        select(moves.c.dealer_id, *_figure_columns(moves)).group_by(moves.c.dealer_id))}
    empty = SimpleNamespace(**{p: 0 for p in _PARTS})
    page.items = [_figures(rows.get(r.id, empty), r.id, r.name, r.code, f.days) for r in page.items]
    return page


def receivables_by_region(session: Session, user, f: ReceivablesFilter = ReceivablesFilter(),
                          day: date | None = None) -> tuple[list[Figures], Figures]:
    """The figures of each top-level region in reach (for the dealers the filters
    leave), and of all of them together, in one aggregate."""
    from app.core.i18n import shanghai_today

    day = day or shanghai_today()
    base, home = _receivable_base(session, user, f)
    dealers = base.with_only_columns(Dealer.id.label("id"), _area_id(home).label("area_id")).subquery()
    moves = _movements(day, _since(day, f))
    area = aliased(Region)
    rows = session.execute(
        select(dealers.c.area_id, area.name, area.code, *_figure_columns(moves))
        .select_from(moves).join(dealers, dealers.c.id == moves.c.dealer_id)
        .outerjoin(area, area.id == dealers.c.area_id)
        .group_by(dealers.c.area_id, area.name, area.code).order_by(area.code)).all()
    regions = [_figures(r, r.area_id, r.name or "—", r.code, f.days) for r in rows]
    total = SimpleNamespace(**{p: sum((Decimal(getattr(r, p) or 0) for r in rows), ZERO) for p in _PARTS})
    return regions, _figures(total, None, "", None, f.days)


# --- list exports (Excel), with the pages' scope and filters ----------------------------------------------

def _day_param(params: dict, name: str) -> date | None:
    try:
        value = date.fromisoformat(str(params.get(name) or "")) if params.get(name) else None
    except ValueError:
        return None
    return value if value is None or day_in_range(value) else None


def invoice_filter(params: dict) -> InvoiceFilter:
    """The invoice list's filters, read as the page reads them."""
    from app.core.coerce import as_id

    status, kind = str(params.get("status") or ""), str(params.get("kind") or "")
    return InvoiceFilter(dealer_id=as_id(params.get("dealer")), status=status if status in STATUS_LABELS else "",
                         kind=kind if kind in KIND_LABELS else "", since=_day_param(params, "since"),
                         until=_day_param(params, "until"), search=str(params.get("q") or "")[:40])


def payment_filter(params: dict) -> PaymentFilter:
    from app.core.coerce import as_id

    status = str(params.get("status") or "")
    return PaymentFilter(dealer_id=as_id(params.get("dealer")),
                         status=status if status in PAYMENT_STATUS_LABELS else "",
                         since=_day_param(params, "since"), until=_day_param(params, "until"),
                         search=str(params.get("q") or "")[:60], import_run_id=as_id(params.get("import_run")))


def receivables_filter(params: dict) -> ReceivablesFilter:
    from app.core.coerce import as_id

    days = as_id(params.get("days"))
    return ReceivablesFilter(region_id=as_id(params.get("region")), dealer_id=as_id(params.get("dealer")),
                             days=days if days in PERIODS else DEFAULT_PERIOD)


def _invoice_rows(session: Session, user, params: dict):
    from app.compliance.exports import walk_batches
    from app.core.i18n import shanghai_today

    day, f = shanghai_today(), invoice_filter(params)
    for items in walk_batches(lambda cursor: invoices_page(session, user, cursor, f, day)):
        for r in items:
            yield [r.number, str(KIND_LABELS[r.kind]), str(REASON_LABELS.get(r.reason, "")) if r.reason else "",
                   r.dealer_code, r.dealer_name, r.issued_on, r.due_on, r.net_amount, r.tax_amount, r.amount,
                   r.settled_amount, r.open_amount, str(STATUS_LABELS[shown_status(r.status, r.kind, r.due_on, day)]),
                   r.tax_invoice_no or "", r.order_number or "", r.shipment_number or ""]


def _payment_rows(session: Session, user, params: dict):
    from app.compliance.exports import walk_batches

    f = payment_filter(params)
    for items in walk_batches(lambda cursor: payments_page(session, user, cursor, f)):
        for r in items:
            status = "unidentified" if r.dealer_id is None else r.status
            yield [r.number, r.received_on, r.dealer_code or "", r.dealer_name or "", r.payer_name or "", r.amount,
                   r.applied_amount, r.unapplied, str(PAYMENT_STATUS_LABELS[status]), r.bank_ref or "",
                   r.reference or "", str(SOURCE_LABELS[r.source])]


def _receivable_rows(session: Session, user, params: dict):
    from app.compliance.exports import walk_batches

    f = receivables_filter(params)
    for items in walk_batches(lambda cursor: receivables_by_dealer(session, user, cursor, f)):
        for x in items:
            yield [x.code, x.name, x.balance, *[x.buckets[b] for b in rules.BUCKETS], x.unapplied, x.dso,
                   x.collection_rate, x.collected, x.opening, x.invoiced]


def _register_exports() -> None:
    from app.compliance.exports import register_export

    register_export("invoices", _l("Invoices and credit notes"), FINANCE_VIEWERS,
                    (_l("Number"), _l("Kind"), _l("Reason"), _l("Dealer code"), _l("Dealer"), _l("Invoice date"),
                     _l("Due date"), _l("Net amount"), _l("VAT"), _l("Amount incl. VAT"), _l("Settled"), _l("Open amount"),
                     _l("Status"), _l("Tax invoice number"), _l("Order"), _l("Shipment")),
                    _invoice_rows, params=("q", "dealer", "status", "kind", "since", "until"))
    register_export("payments", _l("Payments"), FINANCE_VIEWERS,
                    (_l("Number"), _l("Received on"), _l("Dealer code"), _l("Dealer"), _l("Payer"), _l("Amount"),
                     _l("Matched"), _l("Not matched"), _l("Status"), _l("Bank reference"), _l("Remark"), _l("Source")),
                    _payment_rows, params=("q", "dealer", "status", "since", "until", "import_run"))
    register_export("receivables", _l("Receivables"), FINANCE_VIEWERS,
                    (_l("Dealer code"), _l("Dealer"), _l("Receivable"), *BUCKET_LABELS.values(),
                     _l("Received, not matched"), _l("DSO (days)"), _l("Collection rate (%)"), _l("Collected"),
                     _l("Opening receivable"), _l("Invoiced (net)")),
                    _receivable_rows, params=("region", "dealer", "days"))


_register_exports()
