"""Manufacturer pages: dealers' rebate claims within the user's regions — the list and
one claim with its evidence; the approver holding the current step may allow less than
was claimed before signing on the approval page."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel import queries as channel_q
from app.channel.queries import ChannelScope
from app.compliance import approvals
from app.compliance import queries as audit_q
from app.compliance.models import ApprovalRequest
from app.core.coerce import as_id
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.rebates import claims
from app.rebates.ledger_queries import LEDGER_VIEWERS
from portals.forms import refused


def _scope():
    return ChannelScope.of(current_user)


def _labels() -> dict:
    return {"status_labels": claims.STATUS_LABELS, "badges": claims.STATUS_BADGES}


class RHRebateClaims(RHManufacturer):
    roles = LEDGER_VIEWERS

    def get(self):
        status = request.args.get("status", "")
        status = status if status in claims.STATUS_LABELS else ""
        dealer_id = as_id(request.args.get("dealer"))
        page = claims.claims_page(db.session, _scope(), request.args.get("after"), status, dealer_id)
        return render_page("manufacturer/rebate_claims.html", block="results", page=page, status_filter=status,
                           dealer_filter=dealer_id, dealers=channel_q.dealer_choices(db.session, _scope()),
                           row_status=claims.row_status, **_labels())


class RHRebateClaim(RHManufacturer):
    roles = LEDGER_VIEWERS

    def _load(self, claim_id, **kwargs):
        self.claim = get_or_404(claims.claim_for(db.session, _scope(), claim_id))
        self.request = (db.session.get(ApprovalRequest, self.claim.approval_request_id)
                        if self.claim.approval_request_id else None)

    def get(self, claim_id, errors=None, form=None, status=200):
        c = self.claim
        holder = approvals.holder_for(db.session, current_user, self.request) if self.request else None
        return render_page("manufacturer/rebate_claim.html", claim=c, state=claims.effective_status(c, self.request),
                           evidence=claims.evidence_of(db.session, c), credit=claims.credit_of(db.session, c),
                           decisions=list(self.request.decisions) if self.request else [], holder=holder,
                           errors=errors or {}, form=form or {"approved_amount": c.approved_amount or ""},
                           history=audit_q.history(db.session, "rebate_claims", str(c.id)), status=status, **_labels())


class RHRebateClaimAmount(RHRebateClaim):
    """The approver holding the current step sets the amount allowed (at most what was
    claimed; less needs a reason); the approval then credits that amount."""

    def post(self, claim_id):
        form = {"approved_amount": request.form.get("approved_amount", ""), "reason": request.form.get("reason", "")}
        try:
            claims.set_approved_amount(db.session, self.claim, current_user, form["approved_amount"].strip(),
                                       form["reason"])
        except InvalidInput as err:
            errors = refused(err, ("approved_amount", "reason"))
            self._load(claim_id)
            return self.get(claim_id, errors, form, status=400)
        flash(_("Approved amount recorded: sign your decision on the approval request."), "success")
        return redirect(url_for("manufacturer.rebate_claim", claim_id=self.claim.id))
