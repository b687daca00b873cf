"""Dealer pages: our rebate claims (返利申请) — list, new with evidence, detail with
where it stands, withdraw, and edit-and-resubmit when returned for changes."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.compliance.models import ApprovalRequest
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.rebates import claims
from portals.forms import refused

FIELDS = ("program", "activity_on", "description", "amount", "evidence")


def _scope():
    return ChannelScope.of(current_user)


def evidence_uploads() -> list[tuple[str, bytes]]:
    """The uploaded evidence files as (name, bytes), each read to one byte past the
    limit (so an oversized file is refused by size, not held in memory whole)."""
    from app.channel.rules import MAX_SCAN_BYTES

    return [(f.filename, f.stream.read(MAX_SCAN_BYTES + 1)) for f in request.files.getlist("evidence")
            if f is not None and f.filename][:claims.MAX_FILES + 1]


def _values() -> dict:
    return {k: (request.form.get(k) or "").strip() for k in FIELDS if k != "evidence"}


def _labels() -> dict:
    return {"status_labels": claims.STATUS_LABELS, "badges": claims.STATUS_BADGES}


class RHRebateClaims(RHDealer):
    def get(self):
        status = request.args.get("status", "")
        status = status if status in claims.STATUS_LABELS else ""
        page = claims.claims_page(db.session, _scope(), request.args.get("after"), status)
        return render_page("dealer/rebate_claims.html", block="results", page=page, status_filter=status,
                           row_status=claims.row_status, can_claim=RHRebateClaimNew.allows(current_user), **_labels())


class RHRebateClaimNew(RHDealer):
    roles = claims.CLAIMANTS

    def _page(self, values, errors, status=200):
        return render_page("dealer/rebate_claim_form.html", values=values, errors=errors, status=status,
                           today=shanghai_today(), max_files=claims.MAX_FILES)

    def get(self):
        return self._page({}, {})

    def post(self):
        values = _values()
        try:
            claim = claims.submit_claim(db.session, current_user.dealer, current_user, values, evidence_uploads())
        except InvalidInput as err:
            return self._page(values, refused(err, FIELDS), status=400)
        flash(_("Rebate claim %(number)s submitted for approval.", number=claim.number), "success")
        return redirect(url_for("dealer.rebate_claim", claim_id=claim.id))


class RHRebateClaim(RHDealer):
    def _load(self, claim_id, **kwargs):
        self.claim = get_or_404(claims.claim_for(db.session, _scope(), claim_id))
        self.request = (db.session.get(ApprovalRequest, self.claim.approval_request_id)
                        if self.claim.approval_request_id else None)

    def get(self, claim_id, errors=None, values=None, status=200):
        state = claims.effective_status(self.claim, self.request)
        may_act = current_user.has_role(*claims.CLAIMANTS)
        c = self.claim
        return render_page("dealer/rebate_claim.html", claim=c, request_=self.request, state=state, status=status,
                           evidence=claims.evidence_of(db.session, c), credit=claims.credit_of(db.session, c),
                           errors=errors or {}, today=shanghai_today(), max_files=claims.MAX_FILES,
                           can_withdraw=may_act and state in claims.OPEN, can_resubmit=may_act and state == "returned",
                           values=values or {"program": c.program, "activity_on": c.activity_on or "",
                                             "description": c.description or "", "amount": c.amount},
                           decisions=list(self.request.decisions) if self.request else [], **_labels())


class RHRebateClaimWithdraw(RHRebateClaim):
    roles = claims.CLAIMANTS

    def post(self, claim_id):
        try:
            claims.withdraw_claim(db.session, self.claim, current_user, request.form.get("reason"))
        except InvalidInput as err:
            db.session.rollback()
            self._load(claim_id)
            return self.get(claim_id, {"withdraw": err.message}, status=400)
        flash(_("Rebate claim %(number)s withdrawn.", number=self.claim.number), "success")
        return redirect(url_for("dealer.rebate_claim", claim_id=self.claim.id))


class RHRebateClaimResubmit(RHRebateClaim):
    roles = claims.CLAIMANTS

    def post(self, claim_id):
        values = _values()
        try:
            claims.resubmit_claim(db.session, self.claim, current_user, values, evidence_uploads())
        except InvalidInput as err:
            errors = refused(err, FIELDS)
            self._load(claim_id)
            return self.get(claim_id, errors, values, status=400)
        flash(_("Rebate claim %(number)s submitted again.", number=self.claim.number), "success")
        return redirect(url_for("dealer.rebate_claim", claim_id=self.claim.id))
