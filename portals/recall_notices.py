"""Recall notices (召回通知) in the dealer and hospital portals: the list, one notice with
the lots and installed units it concerns, acknowledging it and reporting the units on
hand, returned and used. Both portals share these handlers; each names its endpoints and
templates. A notice of another dealer or hospital is a 404, never a page."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import get_or_404
from app.core.htmx import redirect, render_page
from app.service import recall_queries as q
from app.service import recalls as ops
from portals.forms import refused


def labels() -> dict:
    return {
        "campaign_statuses": {"draft": _l("Draft"), "active": _l("In progress"), "closed": _l("Closed")},
        "notice_statuses": {"sent": _l("Waiting for acknowledgement"), "acknowledged": _l("Acknowledged"),
                            "reported": _l("Reported")},
        "holder_kinds": {"warehouse": _l("Our warehouse"), "dealer": _l("Dealer"), "hospital": _l("Hospital")},
        "classes": {1: _l("Class I"), 2: _l("Class II"), 3: _l("Class III")},
        "scope_kinds": {"all": _l("All lots"), "lot": _l("One lot"), "range": _l("Lot range"), "serial": _l("One serial")},
    }


class NoticeList:
    """Mixed into a portal handler: ``template`` names the portal's list page."""

    template: str

    def get(self):
        return render_page(self.template, rows=q.notices_for(db.session, current_user), **labels())


class NoticeRecord:
    """Loads ``self.notice`` of the user's own dealer or hospital (else 404)."""

    template: str
    endpoint: str

    def _load(self, notice_id, **kwargs):
        self.notice = get_or_404(q.notice_for(db.session, current_user, notice_id))

    def page(self, errors: dict | None = None, form: dict | None = None, status: int = 200):
        notice = self.notice
        holdings = q.notice_holdings(db.session, notice)
        form = form or {"on_hand": notice.on_hand if notice.status == "reported" else notice.expected,
                        "returned": notice.returned, "used": notice.used, "note": notice.note or ""}
        return render_page(self.template, status=status, notice=notice, campaign=notice.campaign, holdings=holdings,
                           lots=q.lots_by_id(db.session, [h.lot_id for h in holdings]),
                           units=q.installed_units(db.session, notice.campaign_id, notice.hospital_id)
                           if notice.hospital_id else [],
                           downstream=q.downstream_notices(db.session, notice),
                           errors=errors or {}, form=form, endpoint=self.endpoint, **labels())

    def get(self, notice_id):
        return self.page()


class NoticeAcknowledge(NoticeRecord):
    def post(self, notice_id):
        try:
            ops.acknowledge(db.session, self.notice, current_user)
        except InvalidInput as err:
            return self.page(refused(err, fields=()), status=400)
        flash(_("Notice acknowledged. Report the units once you have counted them."), "success")
        return redirect(url_for(self.endpoint, notice_id=self.notice.id))


class NoticeReport(NoticeRecord):
    def post(self, notice_id):
        form = request.form.to_dict()
        try:
            ops.report(db.session, self.notice, current_user, form)
        except InvalidInput as err:
            self.notice = get_or_404(q.notice_for(db.session, current_user, notice_id))
            return self.page(refused(err, fields=("on_hand", "returned", "used", "note")), form, status=400)
        flash(_("Thank you: your count is recorded."), "success")
        return redirect(url_for(self.endpoint, notice_id=self.notice.id))
