"""Approval pages shared by the portals: the request page (facts, route, decisions with
their signatures, and the decision form for whoever holds the current step)."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.compliance import approvals
from app.core.db import db
from app.core.templating import forget_approvals_waiting
from app.core.handlers import RH, get_or_404
from app.core.htmx import redirect, render_page


def request_context(req) -> dict:
    holder = approvals.holder_for(db.session, current_user, req)
    return dict(req=req, kind=approvals.KINDS.get(req.kind), holder=holder, overdue=approvals.is_overdue(req),
                signatures={s.id: s for s in approvals.signatures_for(db.session, "approval_requests", req.id)},
                errors={}, form={})


class RHApprovalRequest(RH):
    """GET the request; POST a decision (approve / reject / return) as a signature,
    or the requester's withdrawal."""

    template = "approvals/request.html"

    def _load(self, request_id):
        self.req = get_or_404(approvals.request_for(db.session, current_user, request_id))

    def get(self, request_id):
        return render_page(self.template, **request_context(self.req))

    def post(self, request_id):
        action = request.form.get("action", "")
        if action == "print":
            return self._print()
        try:
            if action == "withdraw":
                approvals.withdraw(db.session, self.req, current_user, request.form.get("comment", "").strip())
                flash(_("Request withdrawn."), "info")
            else:
                approvals.decide(db.session, self.req, current_user, action, request.form.get("password", ""),
                                 request.form.get("totp_code"), request.form.get("comment"))
                forget_approvals_waiting(current_user)
                flash(_("Your decision is signed and recorded."), "success")
        except approvals.ApprovalError as err:
            context = request_context(self.req)
            context["errors"] = {err.field or "form": err.message}
            context["form"] = {"comment": request.form.get("comment", ""), "action": action}
            return render_page(self.template, status=400, **context)
        return redirect(url_for(request.endpoint, request_id=self.req.id))

    def _print(self):
        """The signed record as a PDF, produced in the background (one per version)."""
        from app.core.jobs import request_job

        job = request_job(db.session, "approvals.record_pdf", {"request_id": self.req.id},
                          f"approval-record-{self.req.id}-v{self.req.version}-{len(self.req.decisions)}",
                          requested_by=current_user, entity=("approval_requests", str(self.req.id)))
        return redirect(url_for("files.job", job_id=job.id))
