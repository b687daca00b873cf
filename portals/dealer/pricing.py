"""Dealer pages: its own authorizations (with their letters) and the prices it pays —
never another dealer's."""
from __future__ import annotations


from flask import request
from flask_login import current_user

from app.channel import authorizations as auth_ops
from app.channel.queries import ChannelScope
from app.core.db import db
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import render_page
from app.pricing import queries as pricing_q
from app.core.i18n import shanghai_today


class RHAuthorizations(RHDealer):
    def get(self):
        page = auth_ops.authorizations_page(db.session, ChannelScope.of(current_user), request.args.get("after"))
        return render_page("dealer/authorizations.html", block="results", page=page, today=shanghai_today())


class RHAuthorization(RHDealer):
    def _load(self, auth_id):
        self.auth = get_or_404(auth_ops.authorization_for(db.session, ChannelScope.of(current_user), auth_id))

    def get(self, auth_id):
        return render_page("dealer/authorization.html", auth=self.auth, today=shanghai_today(),
                           products=auth_ops.products_of(db.session, self.auth),
                           hospitals=auth_ops.hospitals_of(db.session, self.auth))


class RHPrices(RHDealer):
    """What we pay per SKU today (resolve_price with no hospital)."""

    def get(self):
        day = shanghai_today()
        return render_page("dealer/prices.html", rows=pricing_q.dealer_price_sheet(db.session, current_user.dealer_id, day),
                           day=day, sources=pricing_q.SOURCE_LABELS)
