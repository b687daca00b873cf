"""Manufacturer pages: special-price requests (特价申请) — the list with filters and an
Excel export, and one request with what orders used of each cap, its evidence and its
approval (decided on the approvals page). A regional manager sees the requests of the
dealers in its regions; finance reads them all."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from app.channel.queries import ChannelScope
from app.compliance import queries as audit_q
from app.core.coerce import int_arg
from app.core.db import db
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import render_page
from app.core.i18n import shanghai_today
from app.pricing import special_prices as sp
from portals.dealer.special_prices import request_page


class RHPriceRequests(RHManufacturer):
    roles = sp.VIEWERS

    def get(self):
        scope = ChannelScope.of(current_user)
        flt = sp.RequestFilter(status=request.args.get("status", ""), dealer=request.args.get("dealer", "")[:60],
                               hospital_id=int_arg(request.args, "hospital_id"), search=request.args.get("q", "")[:40])
        page = sp.requests_page(db.session, scope, request.args.get("after"), flt)
        return render_page("manufacturer/price_requests.html", block="results", page=page, flt=flt,
                           hospitals=sp.request_hospitals(db.session, scope), today=shanghai_today(),
                           status_labels=sp.STATUS_LABELS, badges=sp.STATUS_BADGES)


class RHPriceRequest(RHManufacturer):
    roles = sp.VIEWERS

    def _load(self, request_id):
        self.price_request = get_or_404(sp.request_for(db.session, ChannelScope.of(current_user), request_id))

    def get(self, request_id):
        return request_page(self.price_request, portal="manufacturer",
                            history=audit_q.history(db.session, "price_requests", str(self.price_request.id)))
