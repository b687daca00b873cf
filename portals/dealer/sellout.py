"""Dealer pages: report sell-out (流向) by form or upload, and see our channel stock."""
from __future__ import annotations

import re
import uuid

from flask import Response, flash, request, url_for
from sqlalchemy import func, select
from flask_babel import gettext as _
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.compliance import imports as data_imports
from app.compliance.models import Document, ImportRun
from app.compliance.operations import reason, record_event
from app.core import tabular
from app.core.coerce import as_id
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.core.storage import get_storage
from app.inventory import sellout
from app.inventory.imports import RUN_KEY, SELL_OUT_ROLES, SELL_OUT_SPEC
from app.orders import queries as orders_q
from portals.forms import refused

FORM_FIELDS = ("sold_on", "hospital_id", "buyer_dealer_id", "sku_id", "lot_id", "lot_no", "serial_no", "quantity",
               "unit_price", "invoice_no")
MAX_SYNC_ROWS = 5000
ERRORS_SHOWN = 200
CONTENT_TYPES = {"xlsx": tabular.XLSX_TYPE, "csv": "text/csv"}


def _month_filter(args):
    try:
        return sellout.parse_month(args.get("month")), {}
    except InvalidInput as err:
        return None, {"month": err.message}


class RHSellOut(RHDealer):
    """Our reported lines (newest first, by month), with a warning when a month is late."""

    def get(self):
        month, errors = _month_filter(request.args)
        scope = ChannelScope.of(current_user)
        page = sellout.sell_out_page(db.session, scope, sellout.SellOutFilter(month=month), request.args.get("after"))
        late = sellout.late_reporters(db.session, scope, shanghai_today())
        return render_page("dealer/sell_out.html", block="results", page=page, month=request.args.get("month", "")[:7],
                           errors=errors, late=late, can_report=current_user.has_role(*SELL_OUT_ROLES),
                           status=400 if errors else 200)


def _choices(dealer_id: int, sku_id=None) -> dict:
    """The form's choices: the hospitals we may sell to, the SKUs we received, and the lots we still hold
    (only the chosen SKU's once one is chosen)."""
    lots = sellout.received_lots(db.session, dealer_id)
    skus = {}
    for lot in lots:
        skus.setdefault(lot.sku_id, f"{lot.sku_code} {lot.sku_name}")
    chosen = as_id(sku_id)
    if chosen in skus:
        lots = [lot for lot in lots if lot.sku_id == chosen]
    hospitals = orders_q.sellable_hospitals(db.session, dealer_id, shanghai_today())
    dealer = current_user.dealer
    return {"hospitals": [(h.id, f"{h.name} ({h.code})") for h in hospitals],
            "dealers": [(d.id, f"{d.name} ({d.code})") for d in sellout.buyer_choices(db.session, dealer)],
            "skus": sorted(skus.items(), key=lambda kv: kv[1]),
            "lots": [(lot.lot_id, _("%(sku)s · lot %(lot)s · %(n)d held", sku=lot.sku_code,
                                    lot=lot.lot_no or lot.serial_no, n=lot.stock)) for lot in lots if lot.stock > 0]}


class RHSellOutNew(RHDealer):
    """Report one sale by form."""

    roles = SELL_OUT_ROLES

    def _page(self, values, errors, status=200):
        return render_page("dealer/sell_out_form.html", block="lots", values=values, errors=errors, status=status,
                           **_choices(current_user.dealer_id, values.get("sku_id")))

    def get(self):
        return self._page({"sold_on": shanghai_today().isoformat(), "quantity": "1",
                           "sku_id": request.args.get("sku_id", "")}, {})

    def post(self):
        values = {k: (request.form.get(k) or "").strip() for k in FORM_FIELDS}
        try:
            line = sellout.record_sell_out(db.session, current_user.dealer, current_user, values, source="form")
        except InvalidInput as err:
            return self._page(values, refused(err, FORM_FIELDS), status=400)
        flash(_("Sale of %(n)d × %(sku)s to %(hospital)s recorded.", n=line.quantity, sku=line.sku.code,
                hospital=(line.hospital or line.buyer_dealer).name), "success")
        return redirect(url_for("dealer.sell_out"))


class RHSellOutTemplate(RHDealer):
    roles = SELL_OUT_ROLES

    def get(self):
        response = Response(data_imports.template_xlsx(SELL_OUT_SPEC), mimetype=tabular.XLSX_TYPE)
        response.headers["Content-Disposition"] = "attachment; filename=sell-out-template.xlsx"
        response.headers["Cache-Control"] = "private, no-store"
        return response


_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


class RHSellOutUpload(RHDealer):
    """Upload a month's sell-out as .xlsx or .csv: every row is checked for this dealer;
    the file is taken whole or not at all (or only checked, a dry run). Dealers' files
    are small, so the check runs in the request and its outcome shows at once."""

    roles = SELL_OUT_ROLES

    def _page(self, status=200, **ctx):
        ctx.setdefault("errors", {})
        return render_page("dealer/sell_out_upload.html", status=status, spec=SELL_OUT_SPEC,
                           request_id=uuid.uuid4().hex, **ctx)

    def get(self):
        return self._page()

    def post(self):
        upload = request.files.get("file")
        dry_run = request.form.get("dry_run") in ("1", "y", "on")
        if upload is None or not upload.filename:
            return self._page(400, errors={"file": _("Choose a file.")})
        filename = re.sub(r"[\x00-\x1f\x7f]", "", re.split(r"[\\/]", upload.filename)[-1]).strip()[-200:] or "upload"
        data = upload.stream.read(tabular.MAX_BYTES + 1)
        try:
            ext = tabular.check_file(filename, data, tabular.MAX_BYTES)
            table = tabular.read_table(filename, data)
        except tabular.TableError as err:
            return self._page(400, errors={"file": err.message})
        if len(table.rows) > MAX_SYNC_ROWS:
            return self._page(400, errors={"file": _("At most %(n)d rows per file: split it into several files.",
                                                     n=MAX_SYNC_ROWS)})
        request_id = request.form.get("request_id", "")
        request_id = request_id if _REQUEST_ID.match(request_id) else uuid.uuid4().hex
        earlier = _run_of_request(request_id)
        if earlier is not None:  # the same form sent twice: one import
            if earlier.status == "imported":
                flash(_("This file was already imported."), "success")
                return redirect(url_for("dealer.sell_out"))
            return self._page(400, errors={"file": _("This upload was already checked: choose the file again.")})
        run = _start_run(filename, ext, data, dry_run, request_id)
        db.session.info[RUN_KEY] = run.id
        savepoint = db.session.begin_nested()
        try:
            with reason(db.session, _("Import #%(id)d (%(file)s)", id=run.id, file=filename)):
                outcome = data_imports.import_table(db.session, SELL_OUT_SPEC, table, current_user)
        finally:
            db.session.info.pop(RUN_KEY, None)
        status = "rejected" if outcome.errors else "checked" if dry_run else "imported"
        if status == "imported":
            savepoint.commit()
        else:
            savepoint.rollback()  # all or nothing
            db.session.info.pop("audit_chain", None)
        run.status, run.total_rows, run.taken_rows = status, outcome.total, outcome.taken
        run.errors = outcome.errors[:data_imports.MAX_STORED_ERRORS]
        run.finished_at = func.now()
        record_event(db.session, "import", "import_runs", run.id, after={
            "entity": SELL_OUT_SPEC.name, "filename": filename, "dry_run": dry_run, "status": status,
            "rows": outcome.total, "taken": outcome.taken, "errors": len(outcome.errors)})
        db.session.flush()
        if status == "imported":
            flash(_("%(n)d sales imported from %(file)s.", n=outcome.taken, file=filename), "success")
            return redirect(url_for("dealer.sell_out"))
        return self._page(400 if outcome.errors else 200, run=run, outcome=outcome,
                          row_errors=outcome.errors[:ERRORS_SHOWN], dry_run=dry_run)


def _upload_key(request_id: str, ext: str) -> str:
    from flask import g

    return f"{g.tenant.slug}/imports/{current_user.id}-{request_id}/upload.{ext}"


def _run_of_request(request_id: str) -> ImportRun | None:
    keys = [_upload_key(request_id, ext) for ext in CONTENT_TYPES]
    return db.session.scalar(select(ImportRun).join(Document, Document.id == ImportRun.upload_document_id)
                             .where(Document.storage_key.in_(keys)))


def _start_run(filename: str, ext: str, data: bytes, dry_run: bool, request_id: str) -> ImportRun:
    key = _upload_key(request_id, ext)
    sha256 = get_storage().put(key, data)
    document = Document(kind=ext, filename=f"import-upload-{request_id[:12]}.{ext}", content_type=CONTENT_TYPES[ext],
                        size=len(data), sha256=sha256, storage_key=key, entity_type="import_runs",
                        created_by_id=current_user.id)
    db.session.add(document)
    db.session.flush()
    run = ImportRun(entity=SELL_OUT_SPEC.name, filename=filename, upload_document_id=document.id,
                    dry_run=bool(dry_run), status="running", requested_by_id=current_user.id)
    db.session.add(run)
    db.session.flush()
    return run


class RHChannelStock(RHDealer):
    """What we hold per SKU and lot (received − returned − sold), with days of cover."""

    def get(self):
        day = shanghai_today()
        rows = sellout.channel_stock(db.session, [current_user.dealer_id], day)
        return render_page("dealer/channel_stock.html", skus=sellout.by_sku(rows), day=day)

