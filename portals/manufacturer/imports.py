"""Data migration pages: import a spreadsheet (template, upload, progress, row errors,
past imports) and export any list to Excel."""
from __future__ import annotations

import re
import uuid

from flask import Response, abort, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, HiddenField, SelectField

from app.compliance import exports as data_exports
from app.compliance import imports as data_imports
from app.compliance import queries as compliance_q
from app.compliance.models import Document, ImportRun, Job
from app.core import tabular
from app.core.db import db
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.jobs import request_job
from app.core.pagination import keyset_page
from app.core.storage import get_storage
from portals.forms import REQUIRED

IMPORTERS = ("admin", "channel_manager", "qa_ra", "finance")
ERRORS_SHOWN = 200
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
CONTENT_TYPES = {"xlsx": tabular.XLSX_TYPE, "csv": "text/csv"}


class ImportForm(FlaskForm):
    entity = SelectField(_l("Data"), validators=[])
    file = FileField(_l("File (.xlsx or .csv)"), validators=[FileRequired(REQUIRED)])
    dry_run = BooleanField(_l("Only check the file (dry run): write nothing"))
    request_id = HiddenField()


def _form(form: ImportForm | None = None) -> ImportForm:
    form = form or ImportForm()
    form.entity.choices = [(s.name, str(s.label)) for s in data_imports.specs_for(current_user)]
    if not form.request_id.data:
        form.request_id.data = uuid.uuid4().hex
    return form


def _past_imports(cursor: str | None):
    names = [s.name for s in data_imports.specs_for(current_user)]
    stmt = select(ImportRun).options(selectinload(ImportRun.requested_by)).where(ImportRun.entity.in_(names))
    return keyset_page(db.session, stmt, (ImportRun.id,), lambda r: (r.id,), cursor, per_page=20, descending=True)


class RHImports(RHManufacturer):
    """Choose what to import, get its template, upload a file; past imports below."""

    roles = IMPORTERS

    def _page(self, form=None, status=200):
        page = _past_imports(request.args.get("after"))
        return render_page("manufacturer/imports.html", block="results", status=status, form=_form(form), page=page,
                           specs=data_imports.specs_for(current_user), all_specs=data_imports.SPECS)

    def get(self):
        return self._page()

    def post(self):
        form = _form(ImportForm())
        limit = tabular.MAX_BYTES
        # The body was already bounded by MAX_CONTENT_LENGTH; refuse a large upload on its
        # declared length before its bytes are looked at.
        if (request.content_length or 0) > limit + 256 * 1024:
            form.file.errors = [_("The file is larger than %(mb)d MB: split it into several files.", mb=limit // 2**20)]
            return self._page(form, 400)
        if not form.validate_on_submit():
            return self._page(form, 400)
        spec = data_imports.SPECS.get(form.entity.data)
        if spec is None or not current_user.has_role(*spec.roles):
            abort(403)
        request_id = form.request_id.data if _REQUEST_ID.match(form.request_id.data or "") else uuid.uuid4().hex
        job_request = f"import-{current_user.id}-{request_id}"
        existing = db.session.scalar(select(Job).where(Job.request_id == job_request))
        if existing is not None:  # the same form sent twice
            run = db.session.scalar(select(ImportRun).where(ImportRun.job_id == existing.id))
            return redirect(url_for("manufacturer.import_run", run_id=run.id))
        upload = form.file.data
        filename = _display_name(upload.filename)
        data = upload.stream.read(limit + 1)
        try:
            ext = tabular.check_file(filename, data, limit)
        except tabular.TableError as err:
            form.file.errors = [err.message]
            return self._page(form, 400)
        run = start_import(spec, filename, ext, data, form.dry_run.data, request_id)
        return redirect(url_for("manufacturer.import_run", run_id=run.id))


def _display_name(name: str | None) -> str:
    name = re.split(r"[\\/]", name or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[-200:] or "upload"


def start_import(spec, filename: str, ext: str, data: bytes, dry_run: bool, request_id: str) -> ImportRun:
    """Keep the upload as an immutable document, record the import and ask for its job."""
    tenant = g.tenant
    key = f"{tenant.slug}/imports/{current_user.id}-{request_id}/upload.{ext}"
    sha256 = get_storage().put(key, data)
    # The stored name is plain ASCII (it travels in a download header); the user's own
    # file name is kept on the import.
    document = Document(kind=ext, filename=f"import-upload-{request_id[:12]}.{ext}", content_type=CONTENT_TYPES[ext],
                        size=len(data), sha256=sha256, storage_key=key, entity_type="import_runs",
                        created_by_id=current_user.id)
    db.session.add(document)
    db.session.flush()
    run = ImportRun(entity=spec.name, filename=filename, upload_document_id=document.id, dry_run=bool(dry_run),
                    status="queued", requested_by_id=current_user.id)
    db.session.add(run)
    db.session.flush()
    job = request_job(db.session, "data.import", {"import_run_id": run.id}, f"import-{current_user.id}-{request_id}",
                      requested_by=current_user, entity=("import_runs", str(run.id)))
    run.job_id = job.id
    db.session.flush()
    return run


class RHImportTemplate(RHManufacturer):
    """The entity's template: Chinese headers, an example row, a notes sheet."""

    roles = IMPORTERS

    def _load(self, entity):
        self.spec = get_or_404(data_imports.SPECS.get(entity))

    def _check_access(self):
        if not current_user.has_role(*self.spec.roles):
            abort(403)

    def get(self, entity):
        response = Response(data_imports.template_xlsx(self.spec), mimetype=tabular.XLSX_TYPE)
        response.headers["Content-Disposition"] = f"attachment; filename={self.spec.name}-template.xlsx"
        response.headers["Cache-Control"] = "private, no-store"
        return response


class RHImportRun(RHManufacturer):
    """One import: its progress while the job runs, then the outcome and row errors."""

    roles = IMPORTERS

    def _load(self, run_id):
        self.run = get_or_404(db.session.get(ImportRun, run_id))
        self.spec = data_imports.SPECS.get(self.run.entity)

    def _check_access(self):
        if self.spec is None or not current_user.has_role(*self.spec.roles):
            abort(403)

    def get(self, run_id):
        run = self.run
        job = run.job
        upload = compliance_q.document_for(db.session, current_user, run.upload_document_id)
        return render_page("manufacturer/import.html", block="status", run=run, spec=self.spec, job=job,
                           upload=upload, errors=run.errors[:ERRORS_SHOWN], errors_shown=ERRORS_SHOWN,
                           # until the job has also stored the report (it finishes just after the import)
                           running=job is not None and job.status in ("requested", "running"),
                           can_retry=job is not None and compliance_q.may_manage_job(current_user, job))


class RHExportList(RHManufacturer):
    """Export a list as the user sees it (its scope and filters) to .xlsx, in the background."""

    def _load(self):
        self.export = get_or_404(data_exports.EXPORTS.get(request.form.get("list", "")))

    def _check_access(self):
        if not self.export.allows(current_user):
            abort(403)
        if self.export.found and not self.export.found(db.session, current_user, self.export.clean_params(request.form)):
            abort(404)

    def post(self):
        request_id = request.form.get("request_id", "")
        if not _REQUEST_ID.match(request_id):
            abort(400)
        job = request_job(db.session, "data.export_xlsx",
                          {"list": self.export.name, "params": self.export.clean_params(request.form)},
                          f"export-{current_user.id}-{request_id}", requested_by=current_user)
        return redirect(url_for("files.job", job_id=job.id))
