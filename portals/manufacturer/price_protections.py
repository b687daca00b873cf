"""Manufacturer pages: price protection (价格补差) — the list, starting one for a SKU
(computed from dealers' channel stock on the effective day and sent for approval), and
one protection with its lines per dealer and region (a regional manager sees the
dealers of its regions); withdraw, or compute again and resubmit when returned."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.catalog.models import Sku
from app.channel.queries import ChannelScope
from app.compliance import queries as audit_q
from app.compliance.models import ApprovalRequest
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.i18n import shanghai_today
from app.rebates import protection as pp
from app.rebates.ledger_queries import LEDGER_VIEWERS
from portals.forms import refused

FIELDS = ("sku_id", "old_price", "new_price", "effective_on", "reason")


def _labels() -> dict:
    return {"status_labels": pp.STATUS_LABELS, "badges": pp.STATUS_BADGES}


class RHPriceProtections(RHManufacturer):
    roles = LEDGER_VIEWERS

    def get(self):
        status = request.args.get("status", "")
        status = status if status in pp.STATUS_LABELS else ""
        page = pp.protections_page(db.session, request.args.get("after"), status)
        return render_page("manufacturer/price_protections.html", block="results", page=page, status_filter=status,
                           row_status=pp.row_status, can_start=RHPriceProtectionNew.allows(current_user),
                           scoped=ChannelScope.of(current_user).region_paths is not None, **_labels())


class RHPriceProtectionNew(RHManufacturer):
    roles = pp.STARTERS

    def _page(self, values, errors, status=200):
        skus = list(db.session.execute(select(Sku.id, Sku.code, Sku.name).where(Sku.status == "active")
                                       .order_by(Sku.code)))
        return render_page("manufacturer/price_protection_form.html", values=values, errors=errors, status=status,
                           skus=[(s.id, f"{s.code} {s.name}") for s in skus], today=shanghai_today())

    def get(self):
        return self._page({"effective_on": shanghai_today().isoformat(), "sku_id": request.args.get("sku", "")}, {})

    def post(self):
        values = {k: (request.form.get(k) or "").strip() for k in FIELDS}
        try:
            protection = pp.start_protection(db.session, current_user, values)
        except InvalidInput as err:
            return self._page(values, refused(err, FIELDS), status=400)
        flash(_("Price protection %(number)s computed and sent for approval.", number=protection.number), "success")
        return redirect(url_for("manufacturer.price_protection", protection_id=protection.id))


class RHPriceProtection(RHManufacturer):
    roles = LEDGER_VIEWERS

    def _load(self, protection_id, **kwargs):
        self.protection = get_or_404(pp.protection_for(db.session, protection_id))
        self.request = (db.session.get(ApprovalRequest, self.protection.approval_request_id)
                        if self.protection.approval_request_id else None)

    def get(self, protection_id, errors=None, status=200):
        p = self.protection
        scope = ChannelScope.of(current_user)
        lines = pp.lines_for(db.session, scope, p)
        state = pp.effective_status(p, self.request)
        may_act = RHPriceProtectionWithdraw.allows(current_user)
        return render_page("manufacturer/price_protection.html", protection=p, lines=lines, state=state,
                           scoped=scope.region_paths is not None, status=status, errors=errors or {},
                           seen_total=sum((line.amount for line in lines), 0),
                           seen_units=sum((line.quantity for line in lines), 0),
                           decisions=list(self.request.decisions) if self.request else [],
                           can_withdraw=may_act and state in ("in_review", "returned"),
                           can_resubmit=may_act and state == "returned",
                           history=audit_q.history(db.session, "price_protections", str(p.id)), **_labels())


class RHPriceProtectionWithdraw(RHPriceProtection):
    roles = pp.STARTERS

    def post(self, protection_id):
        try:
            pp.withdraw_protection(db.session, self.protection, current_user, request.form.get("reason"))
        except InvalidInput as err:
            db.session.rollback()
            self._load(protection_id)
            return self.get(protection_id, {"form": err.message}, status=400)
        flash(_("Price protection %(number)s withdrawn.", number=self.protection.number), "success")
        return redirect(url_for("manufacturer.price_protection", protection_id=self.protection.id))


class RHPriceProtectionResubmit(RHPriceProtection):
    roles = pp.STARTERS

    def post(self, protection_id):
        try:
            pp.recompute_and_resubmit(db.session, self.protection, current_user)
        except InvalidInput as err:
            db.session.rollback()
            self._load(protection_id)
            return self.get(protection_id, {"form": err.message}, status=400)
        flash(_("Price protection %(number)s computed again and resubmitted.", number=self.protection.number),
              "success")
        return redirect(url_for("manufacturer.price_protection", protection_id=self.protection.id))
