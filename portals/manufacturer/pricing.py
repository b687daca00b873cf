"""Manufacturer pages for prices: price lists (items edited inline), price bands, tender
awards, and the price check that shows resolve_price's answer and the sellability gate."""
from __future__ import annotations

from datetime import date

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.channel import authorizations as auth_ops
from app.channel import queries as channel_q
from app.compliance import queries as audit_q
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import is_htmx, redirect, render_page
from app.pricing import operations as ops
from app.pricing import queries as pricing_q
from app.pricing.models import PriceListItem
from app.core.coerce import int_arg
from portals.forms import refused
from app.core.i18n import shanghai_today

VIEWERS = ("admin", "channel_manager", "regional_manager", "finance")
LIST_EDITORS = ("admin", "channel_manager", "finance")
TENDER_EDITORS = ("admin", "channel_manager")


def _scope():
    return channel_q.ChannelScope.of(current_user)


# --- price lists -------------------------------------------------------------------------

class RHPriceLists(RHManufacturer):
    roles = VIEWERS

    def get(self):
        search, channel = request.args.get("q", "")[:100], request.args.get("channel", "")
        status_filter = request.args.get("status", "")
        page = pricing_q.price_lists_page(db.session, _scope(), request.args.get("after"), search, channel, status_filter)
        return render_page("manufacturer/price_lists.html", block="results", page=page, search=search, channel=channel,
                           status_filter=status_filter, channels=pricing_q.CHANNEL_LABELS)


PRICE_LIST_FIELDS = ("code", "name", "channel", "region_id", "valid_from", "valid_until", "status")


class RHPriceListNew(RHManufacturer):
    roles = LIST_EDITORS
    price_list = None

    def _page(self, form, errors=None, status=200):
        return render_page("manufacturer/price_list_form.html", status=status, form=form, errors=errors or {},
                           price_list=self.price_list, channels=pricing_q.CHANNEL_LABELS,
                           regions=channel_q.regions(db.session, max_level=2))

    def get(self, **kw):
        return self._page({"channel": "distribution", "status": "active", "valid_from": shanghai_today().isoformat()})

    def post(self, **kw):
        form = {k: request.form.get(k, "") for k in PRICE_LIST_FIELDS}
        try:
            price_list = ops.save_price_list(db.session, form, self.price_list)
        except InvalidInput as err:
            return self._page(form, refused(err), 400)
        flash(_("Price list %(code)s saved.", code=price_list.code), "success")
        return redirect(url_for("manufacturer.price_list", price_list_id=price_list.id))


class RHPriceList(RHManufacturer):
    roles = VIEWERS

    def _load(self, price_list_id, **kw):
        self.price_list = get_or_404(pricing_q.price_list_for(db.session, _scope(), price_list_id))

    def _page(self, errors=None, status=200, add=None):
        pl = self.price_list
        search = request.args.get("q", "")[:100]
        page = pricing_q.price_list_items_page(db.session, pl, request.args.get("after"), search)
        may_edit = current_user.has_role(*LIST_EDITORS)
        # The add form lists every SKU: it is rendered only when asked for (or shown again
        # with its errors), so the list itself stays light with tens of thousands of SKUs.
        adding = may_edit and (bool(add) or bool(errors) or request.args.get("add") == "1")
        return render_page("manufacturer/price_list.html", block="add_form" if request.args.get("add") == "1" else "results",
                           status=status, price_list=pl, page=page, search=search, errors=errors or {}, add=add or {},
                           edit_id=int_arg(request.args, "edit"), may_edit=may_edit, adding=adding,
                           skus=pricing_q.sku_choices(db.session) if adding else [], channels=pricing_q.CHANNEL_LABELS,
                           history=audit_q.history(db.session, "price_lists", str(pl.id)))

    def get(self, price_list_id):
        return self._page()


class RHPriceListEdit(RHPriceList, RHPriceListNew):
    roles = LIST_EDITORS

    def get(self, price_list_id):
        pl = self.price_list
        return self._page({"code": pl.code, "name": pl.name, "channel": pl.channel, "region_id": str(pl.region_id or ""),
                           "valid_from": pl.valid_from.isoformat(),
                           "valid_until": pl.valid_until.isoformat() if pl.valid_until else "", "status": pl.status})

    _page = RHPriceListNew._page


class RHPriceListItemAdd(RHPriceList):
    roles = LIST_EDITORS

    def post(self, price_list_id):
        add = {"sku_id": request.form.get("sku_id", ""), "price": request.form.get("price", "")}
        try:
            item = ops.save_price_list_item(db.session, {**add, "price_list_id": self.price_list.id})
        except InvalidInput as err:
            return self._page({f"add_{k}": v for k, v in refused(err).items()}, 400, add)
        flash(_("%(sku)s: %(price)s saved.", sku=item.sku.code, price=f"¥{item.price:,}"), "success")
        return redirect(url_for("manufacturer.price_list", price_list_id=self.price_list.id))


class RHPriceListItem(RHPriceList):
    """One row of a price list: shown, edited (``?edit=1``) and saved inline with htmx."""

    roles = LIST_EDITORS

    def _load(self, price_list_id, item_id):
        super()._load(price_list_id)
        self.item = get_or_404(db.session.scalar(select(PriceListItem).where(
            PriceListItem.id == item_id, PriceListItem.price_list_id == self.price_list.id)))

    def _row(self, editing=False, error=None, value=None, status=200):
        return render_page("manufacturer/price_list.html", block="row", status=status, price_list=self.price_list,
                           row_item=self.item, editing=editing, error=error, value=value, may_edit=True)

    def get(self, price_list_id, item_id):
        if not is_htmx():
            return redirect(url_for("manufacturer.price_list", price_list_id=price_list_id, edit=item_id))
        return self._row(editing=request.args.get("edit") == "1")

    def post(self, price_list_id, item_id):
        value = request.form.get("price", "")
        try:
            ops.save_price_list_item(db.session, {"price_list_id": self.price_list.id, "sku_id": self.item.sku_id,
                                                  "price": value})
        except InvalidInput as err:
            db.session.rollback()
            self._load(price_list_id, item_id)
            if not is_htmx():
                return self._page({f"item_{item_id}": err.message}, 400)
            # htmx swaps only 2xx answers: the row with its error comes back as 200
            return self._row(editing=True, error=err.message, value=value)
        if not is_htmx():
            return redirect(url_for("manufacturer.price_list", price_list_id=price_list_id))
        return self._row()


# --- price bands ---------------------------------------------------------------------------

BAND_FIELDS = ("sku_id", "region_id", "floor", "ceiling", "valid_from", "valid_until")


class RHPriceBands(RHManufacturer):
    roles = VIEWERS

    def get(self):
        search = request.args.get("q", "")[:100]
        page = pricing_q.price_bands_page(db.session, _scope(), request.args.get("after"), search)
        return render_page("manufacturer/price_bands.html", block="results", page=page, search=search)


class RHPriceBandNew(RHManufacturer):
    roles = LIST_EDITORS
    band = None

    def _page(self, form, errors=None, status=200):
        return render_page("manufacturer/price_band_form.html", status=status, form=form, errors=errors or {}, band=self.band,
                           skus=pricing_q.sku_choices(db.session), regions=channel_q.regions(db.session, max_level=2),
                           history=audit_q.history(db.session, "price_bands", str(self.band.id)) if self.band else [])

    def get(self, **kw):
        b = self.band
        if b is None:
            return self._page({"valid_from": shanghai_today().isoformat()})
        return self._page({"sku_id": str(b.sku_id), "region_id": str(b.region_id or ""), "floor": str(b.floor),
                           "ceiling": str(b.ceiling), "valid_from": b.valid_from.isoformat(),
                           "valid_until": b.valid_until.isoformat() if b.valid_until else ""})

    def post(self, **kw):
        form = {k: request.form.get(k, "") for k in BAND_FIELDS}
        try:
            ops.save_price_band(db.session, form, self.band)
        except InvalidInput as err:
            errors = refused(err)
            if self.band is not None:
                self._load(**kw)
            return self._page(form, errors, 400)
        flash(_("Price band saved."), "success")
        return redirect(url_for("manufacturer.price_bands"))


class RHPriceBand(RHPriceBandNew):
    def _load(self, band_id):
        self.band = get_or_404(pricing_q.price_band_for(db.session, _scope(), band_id))


# --- tender awards ---------------------------------------------------------------------------

TENDER_FIELDS = ("award_no", "sku_id", "hospital_id", "region_id", "alliance_name", "price", "valid_from", "valid_until")


class RHTenderPrices(RHManufacturer):
    roles = VIEWERS

    def get(self):
        search = request.args.get("q", "")[:100]
        page = pricing_q.tender_prices_page(db.session, _scope(), request.args.get("after"), search)
        return render_page("manufacturer/tender_prices.html", block="results", page=page, search=search)


class RHTenderPriceNew(RHManufacturer):
    roles = TENDER_EDITORS
    tender = None

    def _page(self, form, errors=None, status=200):
        return render_page("manufacturer/tender_price_form.html", status=status, form=form, errors=errors or {},
                           tender=self.tender, skus=pricing_q.sku_choices(db.session),
                           hospitals=channel_q.hospital_choices(db.session), regions=channel_q.regions(db.session, max_level=2),
                           history=audit_q.history(db.session, "tender_prices", str(self.tender.id)) if self.tender else [])

    def get(self, **kw):
        t = self.tender
        if t is None:
            return self._page({})
        return self._page({"award_no": t.award_no, "sku_id": str(t.sku_id), "hospital_id": str(t.hospital_id or ""),
                           "region_id": str(t.region_id or ""), "alliance_name": t.alliance_name or "",
                           "price": str(t.price), "valid_from": t.valid_from.isoformat(), "valid_until": t.valid_until.isoformat()})

    def post(self, **kw):
        form = {k: request.form.get(k, "") for k in TENDER_FIELDS}
        try:
            ops.save_tender_price(db.session, form, self.tender)
        except InvalidInput as err:
            errors = refused(err)
            if self.tender is not None:
                self._load(**kw)
            return self._page(form, errors, 400)
        flash(_("Tender award saved."), "success")
        return redirect(url_for("manufacturer.tender_prices"))


class RHTenderPrice(RHTenderPriceNew):
    def _load(self, tender_id):
        self.tender = get_or_404(pricing_q.tender_price_for(db.session, _scope(), tender_id))


# --- price check ------------------------------------------------------------------------------

class RHPriceCheck(RHManufacturer):
    """Ask resolve_price (and the sellability gate) from a page."""

    roles = VIEWERS

    def get(self):
        scope, args = _scope(), request.args
        dealers, hospitals = channel_q.dealer_choices(db.session, scope), channel_q.hospital_choices(db.session, scope)
        dealer_id, hospital_id, sku_id = int_arg(args, "dealer"), int_arg(args, "hospital"), int_arg(args, "sku")
        if dealer_id is not None and dealer_id not in {d.id for d in dealers}:
            abort(404)
        if hospital_id is not None and hospital_id not in {h.id for h in hospitals}:
            abort(404)
        errors, day = {}, shanghai_today()
        if args.get("day"):
            try:
                day = date.fromisoformat(args["day"])
            except ValueError:
                errors["day"] = _("Enter a date as YYYY-MM-DD.")
        skus = pricing_q.sku_choices(db.session)
        if sku_id is not None and sku_id not in {s.id for s in skus}:
            errors["sku"] = _("Choose a SKU.")
        answer = blocks = None
        if sku_id is not None and not errors:
            answer = pricing_q.resolve_price(db.session, dealer_id, hospital_id, sku_id, day)
            if dealer_id is not None:
                blocks = auth_ops.sellability(db.session, dealer_id, sku_id, hospital_id, day)
        return render_page("manufacturer/price_check.html", block="results", status=400 if errors else 200,
                           dealers=dealers, hospitals=hospitals, skus=skus, dealer_id=dealer_id, hospital_id=hospital_id,
                           sku_id=sku_id, day=day, errors=errors, answer=answer, blocks=blocks,
                           sources=pricing_q.SOURCE_LABELS, band_labels=pricing_q.BAND_LABELS,
                           channels=pricing_q.CHANNEL_LABELS)

