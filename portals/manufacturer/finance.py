"""The manufacturer's invoices and collections (回款): invoices and credit notes, payments
(recorded, imported from a bank statement, matched to invoices by hand where the
automatic matching was not sure), and receivables with aging, DSO and collection rate.
Finance and administrators act; channel managers read everything, regional managers
the dealers of their regions."""
from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal

from flask import abort, flash, g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.channel import queries as channel_q
from app.channel.queries import ChannelScope
from app.compliance import queries as audit_q
from app.compliance.models import Document, ImportRun, Job
from app.core import coerce, tabular
from app.core.coerce import as_id, int_arg
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.core.jobs import request_job
from app.core.money import ZERO
from app.core.pagination import keyset_page
from app.core.storage import get_storage
from app.core.templating import money
from app.finance import bank_import, invoices as invoice_ops, matching, payments as payment_ops
from app.finance import queries as q
from app.finance.matching import FINANCE_ROLES
from app.finance.models import Invoice, Payment
from app.orders.models import Order, Shipment
from portals.forms import refused

_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
CONTENT_TYPES = {"xlsx": tabular.XLSX_TYPE, "csv": "text/csv"}


def _day_arg(name: str, errors: dict) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None
    if not q.day_in_range(day):
        errors[name] = _("Enter a date between %(first)s and %(last)s.", first=q.FIRST_DAY.isoformat(),
                         last=q.LAST_DAY.isoformat())
        return None
    return day


def _dealers():
    return channel_q.dealer_choices(db.session, ChannelScope.of(current_user))


# --- invoices -------------------------------------------------------------------------------------

class RHInvoices(RHManufacturer):
    """Invoices and credit notes in reach, newest first: dealer, status (open, overdue,
    settled), kind, issue dates, number."""

    roles = q.FINANCE_VIEWERS

    def get(self):
        errors: dict = {}
        status, kind = request.args.get("status", ""), request.args.get("kind", "")
        f = q.InvoiceFilter(dealer_id=int_arg(request.args, "dealer"),
                            status=status if status in q.STATUS_LABELS else "",
                            kind=kind if kind in q.KIND_LABELS else "", since=_day_arg("since", errors),
                            until=_day_arg("until", errors), search=request.args.get("q", "")[:40])
        today = shanghai_today()
        page = q.invoices_page(db.session, current_user, request.args.get("after"), f, today)
        return render_page("manufacturer/invoices.html", block="results", status=400 if errors else 200, page=page,
                           f=f, errors=errors, dealers=_dealers(), today=today, shown_status=q.shown_status,
                           **q.labels())


class RHInvoiceRecord(RHManufacturer):
    roles = q.FINANCE_VIEWERS

    def _load(self, invoice_id, **kwargs):
        self.invoice = get_or_404(q.invoice_for(db.session, current_user, invoice_id))


def invoice_page(invoice: Invoice, errors: dict | None = None, form: dict | None = None, status: int = 200):
    today = shanghai_today()
    credit_note = invoice.kind == "credit_note"
    return render_page(
        "manufacturer/invoice.html", status=status, invoice=invoice, today=today, errors=errors or {}, form=form or {},
        shown=q.shown_status(invoice.status, invoice.kind, invoice.due_on, today),
        applications=(q.applications_of_credit_note(db.session, invoice.id) if credit_note
                      else q.applications_to(db.session, invoice.id)),
        credit_notes=[] if credit_note else q.credit_notes_for(db.session, invoice.id),
        related=db.session.get(Invoice, invoice.related_invoice_id) if invoice.related_invoice_id else None,
        ret=q.return_of(db.session, invoice), reminders=q.reminders_for(db.session, invoice.id),
        order=db.session.get(Order, invoice.order_id) if invoice.order_id else None,
        shipment=db.session.get(Shipment, invoice.shipment_id) if invoice.shipment_id else None,
        may_write=RHInvoiceTaxNo.allows(current_user),
        history=audit_q.history(db.session, "invoices", str(invoice.id)), **q.labels())


class RHInvoice(RHInvoiceRecord):
    def get(self, invoice_id):
        return invoice_page(self.invoice)


class RHInvoiceTaxNo(RHInvoiceRecord):
    """Finance records the tax system's invoice number (发票号码); a payment whose remark
    names it may then be matched automatically."""

    roles = FINANCE_ROLES

    def post(self, invoice_id):
        form = request.form.to_dict()
        try:
            invoice_ops.record_tax_invoice_no(db.session, self.invoice, form.get("tax_invoice_no"))
        except InvalidInput as err:
            return invoice_page(self.invoice, refused(err, ("tax_invoice_no",)), form, status=400)
        matched = matching.auto_match_open_payments(db.session, current_user, self.invoice.dealer_id)
        flash(_("Tax invoice number saved.") + (" " + _("%(n)d payment(s) matched automatically.", n=matched)
                                                if matched else ""), "success")
        return redirect(url_for("manufacturer.invoice", invoice_id=self.invoice.id))


# --- payments -------------------------------------------------------------------------------------

class RHPayments(RHManufacturer):
    """Payments in reach, newest first: dealer, matching status (or payer not yet
    identified), days received, number / bank reference / payer."""

    roles = q.FINANCE_VIEWERS

    def get(self):
        errors: dict = {}
        status = request.args.get("status", "")
        f = q.PaymentFilter(dealer_id=int_arg(request.args, "dealer"),
                            status=status if status in q.PAYMENT_STATUS_LABELS else "",
                            since=_day_arg("since", errors), until=_day_arg("until", errors),
                            search=request.args.get("q", "")[:60], import_run_id=int_arg(request.args, "import_run"))
        page = q.payments_page(db.session, current_user, request.args.get("after"), f)
        return render_page("manufacturer/payments.html", block="results", status=400 if errors else 200, page=page,
                           f=f, errors=errors, dealers=_dealers(), may_write=RHPaymentNew.allows(current_user),
                           request_id=uuid.uuid4().hex, **q.labels())


class RHPaymentNew(RHManufacturer):
    """Record a payment by hand (a transfer seen in online banking, an acceptance bill)."""

    roles = FINANCE_ROLES

    def _page(self, form: dict, errors: dict, status: int = 200):
        return render_page("manufacturer/payment_new.html", status=status, form=form, errors=errors,
                           dealers=_dealers(), today=shanghai_today(), **q.labels())

    def get(self):
        return self._page({"received_on": shanghai_today().isoformat(), "dealer_id": request.args.get("dealer", "")}, {})

    def post(self):
        form = request.form.to_dict()
        try:
            payment = payment_ops.record_payment(db.session, current_user, form)
        except InvalidInput as err:
            return self._page(form, refused(err, ("dealer_id", "received_on", "amount", "bank_ref", "payer_name",
                                                  "payer_account", "reference", "method")), status=400)
        if payment.status == "unapplied":
            flash(_("Payment %(number)s recorded; match it to invoices.", number=payment.number), "success")
            return redirect(url_for("manufacturer.payment_match", payment_id=payment.id))
        flash(_("Payment %(number)s recorded and matched automatically.", number=payment.number), "success")
        return redirect(url_for("manufacturer.payment", payment_id=payment.id))


class RHPaymentRecord(RHManufacturer):
    roles = q.FINANCE_VIEWERS

    def _load(self, payment_id, **kwargs):
        self.payment = get_or_404(q.payment_for(db.session, current_user, payment_id))


def payment_page(payment: Payment, errors: dict | None = None, form: dict | None = None, status: int = 200):
    may_write = RHPaymentMatch.allows(current_user)
    return render_page("manufacturer/payment.html", status=status, payment=payment, errors=errors or {},
                       form=form or {}, applications=q.applications_of_payment(db.session, payment.id),
                       may_write=may_write, dealers=_dealers() if may_write and not payment.applied_amount else [],
                       import_run=db.session.get(ImportRun, payment.import_run_id) if payment.import_run_id else None,
                       history=audit_q.history(db.session, "payments", str(payment.id)), **q.labels())


class RHPayment(RHPaymentRecord):
    def get(self, payment_id):
        return payment_page(self.payment)


class RHPaymentAssign(RHPaymentRecord):
    """Name the dealer of a payment the import could not identify."""

    roles = FINANCE_ROLES

    def post(self, payment_id):
        form = request.form.to_dict()
        try:
            payment_ops.assign_dealer(db.session, self.payment, form.get("dealer_id"), current_user)
        except InvalidInput as err:
            return payment_page(self.payment, refused(err, ("dealer_id",)), form, status=400)
        flash(_("Payment %(number)s assigned to %(dealer)s.", number=self.payment.number,
                dealer=self.payment.dealer.name), "success")
        return redirect(url_for("manufacturer.payment", payment_id=self.payment.id))


# --- matching (核销) ---------------------------------------------------------------------------------

def _allocations(form) -> list[tuple[int, Decimal]]:
    """The picked invoices and their amounts from the matching form."""
    out = []
    for value in form.getlist("pick"):
        invoice_id = as_id(value)
        if invoice_id is None:
            continue
        field = f"amount_{invoice_id}"
        out.append((invoice_id, coerce.money(form, field, required=True)))
    return out


class MatchPage:
    """The matching page of a payment or a credit note: the dealer's open invoices,
    oldest due first, each with its open amount as the default; htmx keeps a running
    total beside them."""

    endpoint = ""
    preview_endpoint = ""

    def source(self):
        raise NotImplementedError

    def back_url(self) -> str:
        raise NotImplementedError

    def _page(self, form, errors: dict, status: int = 200, block: str = "content"):
        source = self.source()
        picked = {as_id(v) for v in form.getlist("pick")} if hasattr(form, "getlist") else set()
        open_invoices = q.open_invoices(db.session, source.dealer_id) if source.dealer_id else []
        summary = _summary(source, open_invoices, form, picked)
        return render_page("manufacturer/match.html", block=block, status=status, source=source,
                           is_payment=isinstance(source, Payment), open_invoices=open_invoices, picked=picked,
                           form=form, errors=errors, summary=summary, back_url=self.back_url(),
                           action=url_for(self.endpoint, **request.view_args),
                           preview=url_for(self.preview_endpoint, **request.view_args), **q.labels())

    def _check_access(self):
        source = self.source()
        if matching.unapplied(source) <= 0 or source.dealer_id is None:
            abort(404)  # nothing left to match (or no dealer yet): the detail page says so

    def get(self, **kwargs):
        return self._page(request.args, {})

    def post(self, **kwargs):
        try:
            allocations = _allocations(request.form)
            matching.apply_to_invoices(db.session, self.source(), allocations, current_user, method="manual")
        except InvalidInput as err:
            db.session.rollback()
            return self._page(request.form, {err.field or "form": err.message}, status=400)
        flash(_("Matched: %(total)s applied.", total=money(sum((a for _i, a in allocations), ZERO))), "success")
        return redirect(self.back_url())


def _summary(source, open_invoices, form, picked) -> dict:
    """The running total of the matching form: what is picked, what is left, and what
    is wrong (over an invoice's open amount, over what the source has left)."""
    by_id = {i.id: i for i in open_invoices}
    total, problems = ZERO, []
    for invoice_id in picked:
        invoice = by_id.get(invoice_id)
        if invoice is None:
            continue
        try:
            amount = coerce.money(form, f"amount_{invoice_id}", required=True)
        except InvalidInput as err:
            problems.append(f"{invoice.number}: {err.message}")
            continue
        if amount > invoice.open_amount:
            problems.append(_("At most %(open)s: that is what invoice %(number)s still has open.",
                              open=invoice.open_amount, number=invoice.number))
        total += amount
    left = matching.unapplied(source)
    if total > left:
        problems.append(_("%(total)s is more than the %(left)s left to apply.", total=total, left=left))
    return {"count": len(picked & set(by_id)), "total": total, "left": left, "after": left - total, "problems": problems}


class RHPaymentMatch(MatchPage, RHPaymentRecord):
    roles = FINANCE_ROLES
    endpoint, preview_endpoint = "manufacturer.payment_match", "manufacturer.payment_match_preview"

    def source(self):
        return self.payment

    def back_url(self):
        return url_for("manufacturer.payment", payment_id=self.payment.id)


class RHPaymentMatchPreview(RHPaymentMatch):
    """The running total of the matching form (htmx)."""

    def post(self, **kwargs):
        return self._page(request.form, {}, block="summary")


class RHCreditNoteMatch(MatchPage, RHInvoiceRecord):
    """Apply what a credit note has left (a return credited after its invoice was paid)
    to other open invoices of the dealer."""

    roles = FINANCE_ROLES
    endpoint, preview_endpoint = "manufacturer.credit_note_match", "manufacturer.credit_note_match_preview"

    def _check_access(self):
        if self.invoice.kind != "credit_note":
            abort(404)
        super()._check_access()

    def source(self):
        return self.invoice

    def back_url(self):
        return url_for("manufacturer.invoice", invoice_id=self.invoice.id)


class RHCreditNoteMatchPreview(RHCreditNoteMatch):
    def post(self, **kwargs):
        return self._page(request.form, {}, block="summary")


class RHApplicationReverse(RHManufacturer):
    """Reverse a match, with a reason (a negative application; the invoice opens again)."""

    roles = FINANCE_ROLES

    def _load(self, application_id):
        self.application = get_or_404(q.application_for(db.session, current_user, application_id))

    def post(self, application_id):
        application = self.application
        form = request.form.to_dict()
        try:
            matching.reverse_application(db.session, application, current_user, form.get("reason", ""))
        except InvalidInput as err:
            errors = refused(err)
            errors = {f"reason_{application.id}": errors.get("reason") or errors.get("form")}
            if application.payment_id:
                return payment_page(db.session.get(Payment, application.payment_id), errors, form, status=400)
            return invoice_page(db.session.get(Invoice, application.credit_note_id), errors, form, status=400)
        flash(_("The match was reversed."), "success")
        if application.payment_id:
            return redirect(url_for("manufacturer.payment", payment_id=application.payment_id))
        return redirect(url_for("manufacturer.invoice", invoice_id=application.credit_note_id))


class RHAutoMatch(RHManufacturer):
    """Run the automatic matching again over every payment not fully matched (after new
    invoices or tax invoice numbers)."""

    roles = FINANCE_ROLES

    def post(self):
        matched = matching.auto_match_open_payments(db.session, current_user)
        flash(_("%(n)d payment(s) matched automatically.", n=matched) if matched
              else _("No payment could be matched automatically."), "success")
        return redirect(url_for("manufacturer.payments"))


# --- bank statement import ----------------------------------------------------------------------------

def _past_imports(cursor):
    stmt = select(ImportRun).where(ImportRun.entity == bank_import.ENTITY)
    return keyset_page(db.session, stmt, (ImportRun.id,), lambda r: (r.id,), cursor, per_page=20, descending=True)


class RHPaymentImport(RHManufacturer):
    """Upload a bank statement (.xlsx or CSV); a dry run checks it and writes nothing."""

    roles = FINANCE_ROLES

    def _page(self, errors: dict | None = None, status: int = 200):
        return render_page("manufacturer/payment_import.html", block="results", status=status, errors=errors or {},
                           page=_past_imports(request.args.get("after")), columns=bank_import.COLUMNS,
                           request_id=uuid.uuid4().hex, max_mb=tabular.MAX_BYTES // 2**20)

    def get(self):
        return self._page()

    def post(self):
        limit = tabular.MAX_BYTES
        if (request.content_length or 0) > limit + 256 * 1024:
            return self._page({"file": _("The file is larger than %(mb)d MB: split it into several files.",
                                         mb=limit // 2**20)}, 400)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self._page({"file": _("This field is required.")}, 400)
        request_id = request.form.get("request_id", "")
        request_id = request_id if _REQUEST_ID.match(request_id) else uuid.uuid4().hex
        job_request = f"bank-import-{current_user.id}-{request_id}"
        existing = db.session.scalar(select(ImportRun).join(Job, Job.id == ImportRun.job_id).where(
            ImportRun.entity == bank_import.ENTITY, Job.request_id == job_request))
        if existing is not None:  # the same form sent twice
            return redirect(url_for("manufacturer.payment_import_run", run_id=existing.id))
        filename = _display_name(upload.filename)
        data = upload.stream.read(limit + 1)
        try:
            ext = tabular.check_file(filename, data, limit)
        except tabular.TableError as err:
            return self._page({"file": err.message}, 400)
        run = _start_import(filename, ext, data, coerce.flag(request.form, "dry_run"), request_id, job_request)
        return redirect(url_for("manufacturer.payment_import_run", run_id=run.id))


def _display_name(name: str | None) -> str:
    name = re.split(r"[\\/]", name or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[-200:] or "upload"


def _start_import(filename: str, ext: str, data: bytes, dry_run: bool, request_id: str, job_request: str) -> ImportRun:
    """Keep the statement as an immutable document, record the import, ask for its job."""
    key = f"{g.tenant.slug}/bank-statements/{current_user.id}-{request_id}/statement.{ext}"
    sha256 = get_storage().put(key, data)
    document = Document(kind=ext, filename=f"bank-statement-{request_id[:12]}.{ext}", content_type=CONTENT_TYPES[ext],
                        size=len(data), sha256=sha256, storage_key=key, entity_type="import_runs",
                        created_by_id=current_user.id)
    db.session.add(document)
    db.session.flush()
    run = ImportRun(entity=bank_import.ENTITY, filename=filename, upload_document_id=document.id, dry_run=bool(dry_run),
                    status="queued", requested_by_id=current_user.id)
    db.session.add(run)
    db.session.flush()
    job = request_job(db.session, bank_import.BANK_IMPORT_JOB, {"import_run_id": run.id}, job_request,
                      requested_by=current_user, entity=("import_runs", str(run.id)))
    run.job_id = job.id
    db.session.flush()
    return run


class RHPaymentImportRun(RHManufacturer):
    """One statement import: progress while its job runs, then the outcome by row."""

    roles = FINANCE_ROLES

    def _load(self, run_id):
        self.run = get_or_404(db.session.scalar(select(ImportRun).where(ImportRun.id == run_id,
                                                                        ImportRun.entity == bank_import.ENTITY)))

    def get(self, run_id):
        from app.compliance import queries as compliance_q

        run, job = self.run, self.run.job
        errors = [e for e in run.errors if not e.get("note")]
        notes = [e for e in run.errors if e.get("note")]
        created = unidentified = matched = 0
        if run.status == "imported":
            created, unidentified, matched = _import_counts(run.id)
        return render_page("manufacturer/payment_import_run.html", block="status", run=run, job=job, errors=errors[:200],
                           notes=notes[:200], created=created, unidentified=unidentified, matched=matched,
                           upload=compliance_q.document_for(db.session, current_user, run.upload_document_id),
                           running=job is not None and job.status in ("requested", "running"),
                           can_retry=job is not None and compliance_q.may_manage_job(current_user, job))


def _import_counts(run_id: int) -> tuple[int, int, int]:
    from sqlalchemy import func

    row = db.session.execute(select(func.count(), func.count().filter(Payment.dealer_id.is_(None)),
                                    func.count().filter(Payment.applied_amount > 0))
                             .where(Payment.import_run_id == run_id)).one()
    return row[0], row[1], row[2]


# --- receivables -----------------------------------------------------------------------------------------

class RHReceivables(RHManufacturer):
    """Receivables by region and dealer: aging by days past due, DSO and collection rate
    over the chosen period; regional managers see their regions."""

    roles = q.FINANCE_VIEWERS

    def get(self):
        f = q.receivables_filter(request.args)
        today = shanghai_today()
        regions, total = q.receivables_by_region(db.session, current_user, f, today)
        page = q.receivables_by_dealer(db.session, current_user, request.args.get("after"), f, today)
        scope = ChannelScope.of(current_user)
        region_choices = [r for r in channel_q.regions(db.session, max_level=2)
                          if scope.region_paths is None or any(r.path.startswith(p) for p in scope.region_paths)]
        return render_page("manufacturer/receivables.html", block="results", f=f, regions=regions, total=total,
                           page=page, today=today, dealers=_dealers(), region_choices=region_choices,
                           periods=q.PERIODS, **q.labels())
