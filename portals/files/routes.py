"""Job progress, retries and document downloads: shared by every portal; who may see
what is decided in app.compliance.queries from the signed-in user."""
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.compliance import queries as compliance_q
from app.compliance.operations import record_event
from app.core import jobs
from app.core.db import db
from app.core.handlers import RH, get_or_404
from app.core.htmx import redirect, render_page
from app.core.storage import StorageError, get_storage


class RHJob(RH):
    def _load(self, job_id):
        self.job = get_or_404(compliance_q.job_for(db.session, current_user, job_id))

    def get(self, job_id):
        return render_page("files/job.html", block="job", job=self.job, kind=jobs.KINDS.get(self.job.kind),
                           can_retry=compliance_q.may_manage_job(current_user, self.job))


class RHJobRetry(RHJob):
    def _check_access(self):
        if not compliance_q.may_manage_job(current_user, self.job):
            abort(403)

    def post(self, job_id):
        jobs.retry(db.session, self.job)
        flash(_("The job will run again."), "info")
        return redirect(url_for("files.job", job_id=self.job.id))


class RHDocument(RH):
    def _load(self, document_id):
        self.document = get_or_404(compliance_q.document_for(db.session, current_user, document_id))

    def get(self, document_id):
        doc = self.document
        try:
            data = get_storage().get(doc.storage_key, doc.sha256)
        except (StorageError, FileNotFoundError):
            abort(410)
        record_event(db.session, "download", "documents", doc.id, after={"filename": doc.filename, "sha256": doc.sha256})
        response = Response(data, mimetype=doc.content_type.split(";")[0])
        response.headers["Content-Type"] = doc.content_type
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(doc.filename)}"
        response.headers["X-Content-SHA256"] = doc.sha256
        response.headers["Cache-Control"] = "private, no-store"
        return response


bp = Blueprint("files", __name__)

bp.add_url_rule("/jobs/<int:job_id>", view_func=RHJob.as_view("job"))
bp.add_url_rule("/jobs/<int:job_id>/retry", view_func=RHJobRetry.as_view("retry_job"))
bp.add_url_rule("/documents/<int:document_id>", view_func=RHDocument.as_view("document"))
