"""Dealer pages: our special-price requests (特价申请) — list with what each has used of
its caps, a new request (lines added in place, "check" shows each line's reference
price, band floor and discount before submitting), the request with its consumption,
the orders that used it, its evidence and where its approval stands; withdraw, and
change and submit again after a return. Never another dealer's."""
from __future__ import annotations

import uuid

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.compliance import approvals
from app.compliance.models import ApprovalRequest
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.orders import queries as orders_q
from app.pricing import special_prices as sp

BLANK_ROWS = 2
HEAD_FIELDS = ("hospital_id", "valid_from", "valid_until", "tender_ref", "reason")


def _scope():
    return ChannelScope.of(current_user)


def _labels() -> dict:
    return {"status_labels": sp.STATUS_LABELS, "badges": sp.STATUS_BADGES}


class RHPriceRequests(RHDealer):
    """Our requests, newest first, with each one's status and units used of its caps."""

    def get(self):
        status = request.args.get("status", "")
        search = request.args.get("q", "")[:40]
        page = sp.requests_page(db.session, _scope(), request.args.get("after"),
                                sp.RequestFilter(status=status, search=search))
        return render_page("dealer/price_requests.html", block="results", page=page, status_filter=status,
                           search=search, today=shanghai_today(), can_request=RHPriceRequestNew.allows(current_user),
                           **_labels())


# --- the form -------------------------------------------------------------------------------

def _rows(form) -> list[dict]:
    """The form's line rows as typed (aligned lists sku_id[], quantity_cap[], requested_price[])."""
    cols = {k: form.getlist(k) for k in ("sku_id", "quantity_cap", "requested_price")}
    width = max((len(v) for v in cols.values()), default=0)
    return [{k: (v[i].strip() if i < len(v) else "") for k, v in cols.items()} for i in range(min(width, sp.MAX_LINES + 1))]


def _values(form) -> dict:
    values = {k: (form.get(k) or "").strip() for k in HEAD_FIELDS}
    values["lines"] = _rows(form)
    return values


def _uploads() -> list[tuple[str, bytes]]:
    """The evidence files chosen, as (name, bytes), each read to one byte past the limit."""
    from app.channel.rules import MAX_SCAN_BYTES

    files = [f for f in request.files.getlist("evidence") if f is not None and f.filename]
    return [(f.filename, f.stream.read(MAX_SCAN_BYTES + 1)) for f in files[:sp.MAX_EVIDENCE + 1]]


def _skus():
    return orders_q.orderable_skus(db.session, current_user.dealer_id, shanghai_today())


def _row_problems(problems) -> tuple[dict, dict]:
    """Problems by form row (row → [(field, message)]) and the others by field."""
    rows: dict[int, list] = {}
    fields: dict[str, str] = {}
    for index, field, message in problems:
        if index is None:
            key = field or "form"
            fields[key] = f"{fields[key]} {message}" if key in fields else message
        else:
            rows.setdefault(index, []).append((field, message))
    return rows, fields


def request_form(values: dict, errors: dict | None = None, row_errors: dict | None = None, drafts: dict | None = None,
                 status: int = 200, block: str | None = None, editing=None):
    rows = values.get("lines") or []
    if not rows:
        rows = [{"sku_id": "", "quantity_cap": "", "requested_price": ""} for _i in range(BLANK_ROWS)]
    hospitals = orders_q.sellable_hospitals(db.session, current_user.dealer_id, shanghai_today())
    return render_page("dealer/price_request_form.html", block=block, status=status, values=values, rows=rows,
                       errors=errors or {}, row_errors=row_errors or {}, drafts=drafts or {}, skus=_skus(),
                       hospitals=hospitals, editing=editing, evidence=sp.evidence_of(db.session, editing) if editing else [],
                       action=url_for("dealer.price_request_resubmit", request_id=editing.id) if editing
                       else url_for("dealer.price_request_new"))


class _Form:
    """What the new-request and the resubmit pages share: the extra row, the check, the
    refusal shown next to each field and line."""

    editing = None

    def _extra_row(self):
        return render_page("dealer/price_request_form.html", block="line_row",
                           row={"sku_id": "", "quantity_cap": "", "requested_price": ""},
                           i=f"new-{uuid.uuid4().hex[:8]}", row_errors={}, drafts={}, skus=_skus())

    def _check(self, values):
        hospital = self.editing.hospital if self.editing is not None else None
        draft = sp.check_request(db.session, current_user.dealer, values, hospital=hospital,
                                 exclude_id=self.editing.id if self.editing is not None else None)
        row_errors, errors = _row_problems(draft.problems)
        db.session.rollback()
        return request_form(values, errors, row_errors, {line.index: line for line in draft.lines},
                            block="form_body", editing=self.editing)

    def _refused(self, values, err: InvalidInput):
        db.session.rollback()
        problems = getattr(err, "problems", None) or [(None, err.field, err.message)]
        row_errors, errors = _row_problems(problems)
        if "evidence" not in errors and request.files.getlist("evidence"):
            errors["evidence"] = _("Nothing was saved: choose the files again.")
        return request_form(values, errors, row_errors, status=422, editing=self.editing)


class RHPriceRequestNew(_Form, RHDealer):
    roles = sp.REQUESTERS

    def get(self):
        if request.args.get("row"):  # htmx: one more empty line
            return self._extra_row()
        start, until = sp.window_default()
        return request_form({"hospital_id": request.args.get("hospital", ""), "valid_from": start.isoformat(),
                             "valid_until": until.isoformat(), "lines": []})

    def post(self):
        values = _values(request.form)
        if request.form.get("action") == "check":
            return self._check(values)
        try:
            made = sp.submit_price_request(db.session, current_user.dealer, current_user, values, _uploads())
        except InvalidInput as err:
            return self._refused(values, err)
        flash(_("Special-price request %(number)s submitted for approval.", number=made.number), "success")
        return redirect(url_for("dealer.price_request", request_id=made.id))


# --- one request -----------------------------------------------------------------------------------

class RHPriceRequestRecord(RHDealer):
    def _load(self, request_id, **kwargs):
        self.price_request = get_or_404(sp.request_for(db.session, _scope(), request_id))


def request_page(price_request, errors: dict | None = None, status: int = 200, portal: str = "dealer", **extra):
    """The request's page (dealer and manufacturer): lines with consumption and the orders
    that used them, evidence, and where its approval stands with every signature."""
    approval = db.session.get(ApprovalRequest, price_request.approval_request_id) \
        if price_request.approval_request_id else None
    today = shanghai_today()
    return render_page(f"{portal}/price_request.html", status=status, r=price_request, approval=approval,
                       signatures={s.id: s for s in approvals.signatures_for(db.session, "approval_requests", approval.id)}
                       if approval else {}, uses=sp.line_uses(db.session, price_request),
                       evidence=sp.evidence_of(db.session, price_request), today=today,
                       shown=sp.shown_status(price_request.status, price_request.valid_until, today),
                       can_open_approval=approval is not None
                       and approvals.request_for(db.session, current_user, approval.id) is not None,
                       errors=errors or {}, order_labels=orders_q.STATUS_LABELS, **_labels(), **extra)


class RHPriceRequest(RHPriceRequestRecord):
    def get(self, request_id):
        r = self.price_request
        may_act = RHPriceRequestWithdraw.allows(current_user) and sp.may_act(r, current_user)
        return request_page(r, can_withdraw=may_act and r.status in sp.OPEN,
                            can_resubmit=may_act and r.status == "returned")


class RHPriceRequestWithdraw(RHPriceRequestRecord):
    roles = sp.REQUESTERS

    def post(self, request_id):
        try:
            sp.withdraw_price_request(db.session, self.price_request, current_user, request.form.get("reason"))
        except InvalidInput as err:
            db.session.rollback()
            r = get_or_404(sp.request_for(db.session, _scope(), request_id))
            return request_page(r, {"form": err.message}, status=422)
        flash(_("Special-price request %(number)s withdrawn.", number=self.price_request.number), "success")
        return redirect(url_for("dealer.price_request", request_id=request_id))


class RHPriceRequestResubmit(_Form, RHPriceRequestRecord):
    """Change a request returned for changes and send it along its chain again."""

    roles = sp.REQUESTERS

    def _check_access(self):
        from flask import abort

        if self.price_request.status != "returned" or not sp.may_act(self.price_request, current_user):
            abort(403)
        self.editing = self.price_request

    def get(self, request_id):
        if request.args.get("row"):
            return self._extra_row()
        r = self.price_request
        return request_form({"hospital_id": str(r.hospital_id), "valid_from": r.valid_from.isoformat(),
                             "valid_until": r.valid_until.isoformat(), "tender_ref": r.tender_ref or "",
                             "reason": r.reason or "",
                             "lines": [{"sku_id": str(line.sku_id), "quantity_cap": str(line.quantity_cap),
                                        "requested_price": str(line.requested_price)} for line in r.lines]},
                            editing=r)

    def post(self, request_id):
        values = _values(request.form)
        if request.form.get("action") == "check":
            return self._check(values)
        try:
            sp.resubmit_price_request(db.session, self.price_request, current_user, values, _uploads())
        except InvalidInput as err:
            return self._refused(values, err)
        flash(_("Special-price request %(number)s submitted again.", number=self.price_request.number), "success")
        return redirect(url_for("dealer.price_request", request_id=request_id))


__all__ = ["RHPriceRequests", "RHPriceRequestNew", "RHPriceRequest", "RHPriceRequestWithdraw", "RHPriceRequestResubmit",
           "request_page"]
