"""Manufacturer pages: every dealer's reported sell-out, channel stock by region and
dealer (drill into one dealer), and late reporters — within the user's regions."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from app.catalog.models import Sku
from app.channel import queries as channel_q
from app.channel.models import Dealer
from app.channel.queries import ChannelScope
from app.core.coerce import int_arg
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import render_page
from app.core.i18n import shanghai_today
from app.inventory import sellout
from sqlalchemy import select

VIEWERS = sellout.SELL_OUT_VIEWERS


class RHSellOut(RHManufacturer):
    roles = VIEWERS

    def get(self):
        scope = ChannelScope.of(current_user)
        errors = {}
        try:
            month = sellout.parse_month(request.args.get("month"))
        except InvalidInput as err:
            month, errors = None, {"month": err.message}
        flt = sellout.SellOutFilter(month=month, dealer_id=int_arg(request.args, "dealer_id"),
                                    hospital_id=int_arg(request.args, "hospital_id"), sku_id=int_arg(request.args, "sku_id"))
        page = sellout.sell_out_page(db.session, scope, flt, request.args.get("after"))
        return render_page("manufacturer/sell_out.html", block="results", page=page, flt=flt, errors=errors,
                           month=(request.args.get("month") or "")[:7],
                           dealers=channel_q.dealer_choices(db.session, scope),
                           hospitals=channel_q.hospital_choices(db.session, scope),
                           skus=list(db.session.execute(select(Sku.id, Sku.code).where(Sku.status == "active")
                                                        .order_by(Sku.code))),
                           status=400 if errors else 200)


class RHChannelStock(RHManufacturer):
    """Channel stock per dealer, grouped by region; late reporters below."""

    roles = VIEWERS

    def get(self):
        scope, day = ChannelScope.of(current_user), shanghai_today()
        dealers = sellout.stock_by_dealer(db.session, scope, day)
        regions: dict[str, list] = {}
        for d in dealers:
            regions.setdefault((d.region_name, d.region_name_en), []).append(d)
        late = sellout.late_reporters(db.session, scope, day)
        return render_page("manufacturer/channel_stock.html", regions=regions, late=late, day=day)


class RHChannelStockDealer(RHManufacturer):
    """One dealer's channel stock per SKU and lot."""

    roles = VIEWERS

    def _load(self, dealer_id):
        scope = ChannelScope.of(current_user)
        stmt = select(Dealer).where(Dealer.id == dealer_id)
        clause = scope.regions_clause(Dealer.region_id)
        self.dealer = get_or_404(db.session.scalar(stmt if clause is None else stmt.where(clause)))

    def get(self, dealer_id):
        day = shanghai_today()
        rows = sellout.channel_stock(db.session, [self.dealer.id], day)
        return render_page("manufacturer/channel_stock.html", dealer=self.dealer, skus=sellout.by_sku(rows), day=day,
                           late=[r for r in sellout.late_reporters(db.session, ChannelScope.of(current_user), day)
                                 if r.dealer_id == self.dealer.id])
