"""The manufacturer's catalog pages: product lines, registration certificates (注册证),
SKUs with their first-business review, and the expiry watch (效期预警)."""
from __future__ import annotations

import uuid

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.catalog import operations as ops
from app.catalog import queries as catalog_q
from app.catalog.models import ProductLine, Registration, Sku
from app.catalog.rules import registration_state
from app.channel.queries import ChannelScope
from app.compliance import expiry
from app.compliance import queries as audit_q
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import is_htmx, redirect, render_page
from app.core.coerce import as_id, int_arg
from portals.forms import refused
from app.core.i18n import shanghai_today

CATALOG_VIEWERS = ("admin", "channel_manager", "qa_ra", "regional_manager", "finance", "after_sales")
SKU_EDITORS = ("admin", "qa_ra", "channel_manager")
REGISTRATION_EDITORS = ("admin", "qa_ra")
SKU_STATUSES = ("pending", "active", "inactive", "rejected")

SKU_FORM_FIELDS = ("code", "name", "specification", "unit", "product_line_id", "registration_id", "udi_di",
                   "nhsa_code", "tax_rate", "storage", "tracking", "shelf_life_months", "implant")
#: what the SKU list edits in place (nothing that prices or regulators depend on)
SKU_INLINE_FIELDS = ("name", "specification", "unit", "storage")
REGISTRATION_FORM_FIELDS = ops.REGISTRATION_FIELDS
REGISTRATION_INLINE_FIELDS = ("product_name", "holder", "valid_until")


def _form_values(fields) -> dict:
    """The posted form as text, per field; a checkbox not sent is off."""
    return {f: ("1" if request.form.get(f) else "") if f == "implant" else request.form.get(f, "") for f in fields}


# --- SKUs -------------------------------------------------------------------------------------

class RHSkus(RHManufacturer):
    """The SKU list: searched, filtered by product line and status, keyset-paged, with
    the warning list of SKUs whose registration has expired or soon will."""

    roles = CATALOG_VIEWERS

    def get(self):
        search, line_id = request.args.get("q", "")[:100], int_arg(request.args, "line")
        status = request.args.get("status", "")
        status = status if status in SKU_STATUSES else ""
        page = catalog_q.skus_page(db.session, request.args.get("after"), search, line_id, status)
        today = shanghai_today()
        warnings = [] if is_htmx() else catalog_q.expired_registration_skus(db.session, today)
        return render_page("manufacturer/skus.html", block="results", page=page, search=search, line_id=line_id,
                           status_filter=status, lines=catalog_q.product_lines(db.session), warnings=warnings, today=today,
                           can_edit=RHSkuRow.allows(current_user), editing=None, errors={})


class RHSkuNew(RHManufacturer):
    roles = SKU_EDITORS

    def _page(self, values, errors=None, status=200):
        return render_page("manufacturer/sku_form.html", sku=None, values=values, errors=errors or {}, status=status,
                           lines=catalog_q.product_lines(db.session),
                           registrations=catalog_q.registration_choices(db.session))

    def get(self):
        return self._page({"tax_rate": "0.13", "tracking": "lot", "product_line_id": int_arg(request.args, "line") or ""})

    def post(self):
        values = _form_values(SKU_FORM_FIELDS)
        try:
            sku = ops.save_sku(db.session, values, requester=current_user)
        except InvalidInput as err:
            return self._page(values, refused(err, SKU_FORM_FIELDS), 400)
        if sku.status == "pending":
            flash(_("SKU %(code)s saved; it is active once its first-business review approves it.", code=sku.code),
                  "success")
        else:
            flash(_("SKU %(code)s saved.", code=sku.code), "success")
        return redirect(url_for("manufacturer.sku", sku_id=sku.id))


class RHSkuBase(RHManufacturer):
    roles = CATALOG_VIEWERS

    def _load(self, sku_id):
        self.sku = get_or_404(db.session.get(Sku, sku_id))


def _sku_page(sku: Sku, errors=None, status=200):
    registration = sku.registration
    today = shanghai_today()
    return render_page("manufacturer/sku.html", sku=sku, errors=errors or {}, status=status, today=today,
                       state=registration_state(registration.valid_until, today) if registration else None,
                       reviews=catalog_q.review_requests(db.session, sku.id),
                       blocked=catalog_q.sku_blocks(db.session, [sku.id], today).get(sku.id),
                       block_reasons=catalog_q.BLOCK_REASONS, can_edit=RHSkuEdit.allows(current_user),
                       history=audit_q.history(db.session, "skus", str(sku.id)))


class RHSku(RHSkuBase):
    def get(self, sku_id):
        return _sku_page(self.sku)


class RHSkuEdit(RHSkuBase):
    roles = SKU_EDITORS

    def _page(self, values, errors=None, status=200):
        return render_page("manufacturer/sku_form.html", sku=self.sku, values=values, errors=errors or {},
                           status=status, lines=catalog_q.product_lines(db.session),
                           registrations=catalog_q.registration_choices(db.session))

    def get(self, sku_id):
        return self._page({f: getattr(self.sku, f) for f in SKU_FORM_FIELDS})

    def post(self, sku_id):
        values = _form_values(SKU_FORM_FIELDS)
        try:
            ops.save_sku(db.session, values, self.sku)
        except InvalidInput as err:
            return self._page(values, refused(err, SKU_FORM_FIELDS), 400)
        flash(_("SKU %(code)s saved.", code=self.sku.code), "success")
        return redirect(url_for("manufacturer.sku", sku_id=self.sku.id))


class RHSkuRow(RHSkuBase):
    """Inline editing in the SKU list: GET the row (``?edit=1``: the row as a form),
    POST saves name, specification, unit and storage and answers the row again (or
    the form with the error in the row, status 400)."""

    roles = SKU_EDITORS

    def _row(self, editing=False, values=None, errors=None, status=200):
        row = catalog_q.sku_row(db.session, self.sku.id)
        html = render_template("manufacturer/sku_row.html", r=row, editing=editing, errors=errors or {},
                               values=values or {f: getattr(row, f) for f in SKU_INLINE_FIELDS}, can_edit=True,
                               today=shanghai_today())
        return html, status, {"Vary": "HX-Request"}

    def get(self, sku_id):
        return self._row(editing=request.args.get("edit") == "1")

    def post(self, sku_id):
        values = {f: request.form.get(f, "") for f in SKU_INLINE_FIELDS}
        try:
            ops.save_sku(db.session, values, self.sku)
        except InvalidInput as err:
            return self._row(True, values, refused(err, SKU_INLINE_FIELDS), 400)
        if not is_htmx():
            flash(_("SKU %(code)s saved.", code=self.sku.code), "success")
            return redirect(url_for("manufacturer.skus"))
        return self._row()


class RHSkuStatus(RHSkuBase):
    """Deactivate or reactivate, with the reason kept in the audit trail."""

    roles = SKU_EDITORS

    def post(self, sku_id):
        status = request.form.get("status", "")
        try:
            ops.set_sku_status(db.session, self.sku, status, request.form.get("reason", ""))
        except InvalidInput as err:
            return _sku_page(self.sku, refused(err, ("reason", "status")), 400)
        flash(_("SKU reactivated.") if status == "active" else _("SKU deactivated."), "success")
        return redirect(url_for("manufacturer.sku", sku_id=self.sku.id))


# --- registration certificates -----------------------------------------------------------------

class RHRegistrations(RHManufacturer):
    roles = CATALOG_VIEWERS

    def get(self):
        search, device_class = request.args.get("q", "")[:100], request.args.get("device_class", "")
        device_class = device_class if device_class in ops.DEVICE_CLASSES else ""
        page = catalog_q.registrations_page(db.session, request.args.get("after"), search, device_class)
        return render_page("manufacturer/registrations.html", block="results", page=page, search=search,
                           device_class=device_class, today=shanghai_today(),
                           can_edit=RHRegistrationRow.allows(current_user))


class RHRegistrationNew(RHManufacturer):
    roles = REGISTRATION_EDITORS

    def _page(self, values, errors=None, status=200):
        return render_page("manufacturer/registration_form.html", registration=None, values=values,
                           errors=errors or {}, status=status)

    def get(self):
        return self._page({"device_class": "III"})

    def post(self):
        values = _form_values(REGISTRATION_FORM_FIELDS)
        try:
            registration = ops.save_registration(db.session, values)
        except InvalidInput as err:
            return self._page(values, refused(err, REGISTRATION_FORM_FIELDS), 400)
        flash(_("Registration certificate %(number)s saved.", number=registration.number), "success")
        return redirect(url_for("manufacturer.registration", registration_id=registration.id))


class RHRegistrationBase(RHManufacturer):
    roles = CATALOG_VIEWERS

    def _load(self, registration_id):
        self.registration = get_or_404(db.session.get(Registration, registration_id))


class RHRegistration(RHRegistrationBase):
    def get(self, registration_id):
        today = shanghai_today()
        return render_page("manufacturer/registration.html", registration=self.registration, today=today,
                           state=registration_state(self.registration.valid_until, today),
                           skus=catalog_q.skus_of_registration(db.session, self.registration.id),
                           can_edit=RHRegistrationEdit.allows(current_user),
                           history=audit_q.history(db.session, "registrations", str(self.registration.id)))


class RHRegistrationEdit(RHRegistrationBase):
    roles = REGISTRATION_EDITORS

    def _page(self, values, errors=None, status=200):
        return render_page("manufacturer/registration_form.html", registration=self.registration, values=values,
                           errors=errors or {}, status=status)

    def get(self, registration_id):
        return self._page({f: getattr(self.registration, f) for f in REGISTRATION_FORM_FIELDS})

    def post(self, registration_id):
        values = _form_values(REGISTRATION_FORM_FIELDS)
        try:
            ops.save_registration(db.session, values, self.registration)
        except InvalidInput as err:
            return self._page(values, refused(err, REGISTRATION_FORM_FIELDS), 400)
        flash(_("Registration certificate %(number)s saved.", number=self.registration.number), "success")
        return redirect(url_for("manufacturer.registration", registration_id=self.registration.id))


class RHRegistrationRow(RHRegistrationBase):
    """Inline editing in the registration list: product name, holder, end date."""

    roles = REGISTRATION_EDITORS

    def _row(self, editing=False, values=None, errors=None, status=200):
        row = catalog_q.registration_row(db.session, self.registration.id)
        html = render_template("manufacturer/registration_row.html", r=row, editing=editing, errors=errors or {},
                               values=values or {f: getattr(row, f) for f in REGISTRATION_INLINE_FIELDS},
                               can_edit=True, today=shanghai_today())
        return html, status, {"Vary": "HX-Request"}

    def get(self, registration_id):
        return self._row(editing=request.args.get("edit") == "1")

    def post(self, registration_id):
        values = {f: request.form.get(f, "") for f in REGISTRATION_INLINE_FIELDS}
        try:
            ops.save_registration(db.session, values, self.registration)
        except InvalidInput as err:
            return self._row(True, values, refused(err, REGISTRATION_INLINE_FIELDS), 400)
        if not is_htmx():
            return redirect(url_for("manufacturer.registrations"))
        return self._row()


# --- product lines ----------------------------------------------------------------------------

class RHProductLines(RHManufacturer):
    """Product lines: the list, a form to add one, and (``?edit=<id>``) to change one."""

    roles = CATALOG_VIEWERS

    def _page(self, editing=None, values=None, errors=None, status=200):
        return render_page("manufacturer/product_lines.html", lines=catalog_q.product_lines(db.session),
                           editing=editing, values=values or {}, errors=errors or {}, status=status,
                           can_edit=RHProductLineSave.allows(current_user))

    def get(self):
        line_id = int_arg(request.args, "edit")
        editing = db.session.get(ProductLine, line_id) if line_id else None
        values = {f: getattr(editing, f) for f in ops.PRODUCT_LINE_FIELDS} if editing else {}
        return self._page(editing, values)


class RHProductLineSave(RHProductLines):
    roles = SKU_EDITORS

    def post(self):
        line_id = request.form.get("line_id", "")
        line = get_or_404(as_id(line_id) and db.session.get(ProductLine, as_id(line_id))) if line_id else None
        values = _form_values(ops.PRODUCT_LINE_FIELDS)
        try:
            line = ops.save_product_line(db.session, values, line)
        except InvalidInput as err:
            return self._page(line, values, refused(err, ops.PRODUCT_LINE_FIELDS), 400)
        flash(_("Product line %(code)s saved.", code=line.code), "success")
        return redirect(url_for("manufacturer.product_lines"))


# --- expiry watch -----------------------------------------------------------------------------

def _expiry_link(item: expiry.ExpiryItem) -> str:
    """Where an item is looked after."""
    targets = {"registrations": ("manufacturer.registration", {"registration_id": item.entity_id}),
               "qualifications": ("manufacturer.dealer", {"dealer_id": item.dealer_id}),
               "authorizations": ("manufacturer.authorization", {"auth_id": item.entity_id})}
    endpoint, args = targets[item.entity_type]
    return url_for(endpoint, **args)


class RHExpiry(RHManufacturer):
    """Everything expired or expiring within 90 days, in buckets, filtered by kind;
    a regional manager sees their regions' dealers (and every registration)."""

    roles = CATALOG_VIEWERS

    def get(self):
        kind = request.args.get("kind", "")
        kind = kind if kind in expiry.KINDS else ""
        bucket = request.args.get("bucket", "")
        bucket = bucket if bucket in expiry.BUCKETS else ""
        today = shanghai_today()
        items = expiry.expiring(db.session, today, scope=ChannelScope.of(current_user))
        counts = {b: sum(1 for i in items if i.bucket == b and (not kind or i.kind == kind)) for b in expiry.BUCKETS}
        shown = [i for i in items if (not kind or i.kind == kind) and (not bucket or i.bucket == bucket)]
        return render_page("manufacturer/expiry.html", block="results", items=shown, counts=counts, kind=kind,
                           bucket=bucket, today=today, kinds=expiry.KINDS, buckets=expiry.BUCKET_LABELS,
                           link=_expiry_link, request_id=uuid.uuid4().hex,
                           can_run=RHExpiryReport.allows(current_user))


class RHExpiryReport(RHManufacturer):
    """Run the expiry-watch report now (the daily one runs by itself)."""

    roles = expiry.REPORT_ROLES

    def post(self):
        token = request.form.get("request_id", "")
        token = token if len(token) == 32 and all(c in "0123456789abcdef" for c in token) else uuid.uuid4().hex
        today = shanghai_today()
        job = expiry.request_report(db.session, today, requested_by=current_user,
                                    request_id=f"expiry-watch-{today.isoformat()}-{current_user.id}-{token}")
        return redirect(url_for("files.job", job_id=job.id))
