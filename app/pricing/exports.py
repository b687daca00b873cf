"""List exports of prices: price lists, one price list's items, price bands and tender
awards (中标价), as their list pages show them (a regional manager's reach, the filters)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.channel.queries import ChannelScope
from app.compliance.exports import id_param, register_export, search_param, walk_pages
from app.pricing import queries as pricing_q

#: who may open the price pages (portals/manufacturer/pricing.py VIEWERS)
PRICE_VIEWERS = ("admin", "channel_manager", "regional_manager", "finance")
STATUSES = {"active": _l("Active"), "inactive": _l("Inactive")}


def _region(region) -> str:
    return region.name if region is not None else str(_l("National"))


def price_list_rows(session, user, params):
    scope, search = ChannelScope.of(user), search_param(params)
    # the page hands channel and status to the query as they come; the query ignores unknown ones
    channel, status = str(params.get("channel", "")), str(params.get("status", ""))
    for p in walk_pages(lambda cursor: pricing_q.price_lists_page(session, scope, cursor, search, channel, status)):
        yield [p.code, p.name, str(pricing_q.CHANNEL_LABELS.get(p.channel, p.channel)), _region(p.region), p.valid_from,
               p.valid_until, str(STATUSES.get(p.status, p.status))]


def _price_list(session, user, params):
    price_list_id = id_param(params, "price_list_id")
    if price_list_id is None:
        return None
    return pricing_q.price_list_for(session, ChannelScope.of(user), price_list_id)


def price_list_found(session, user, params) -> bool:
    return _price_list(session, user, params) is not None


def price_list_item_rows(session, user, params):
    price_list, search = _price_list(session, user, params), search_param(params)
    if price_list is None:
        return
    for item in walk_pages(lambda cursor: pricing_q.price_list_items_page(session, price_list, cursor, search)):
        yield [price_list.code, item.sku.code, item.sku.name, item.sku.specification, item.sku.unit, item.price]


def price_band_rows(session, user, params):
    scope, search = ChannelScope.of(user), search_param(params)
    for b in walk_pages(lambda cursor: pricing_q.price_bands_page(session, scope, cursor, search)):
        yield [b.sku.code, b.sku.name, _region(b.region), b.floor, b.ceiling, b.valid_from, b.valid_until]


def tender_price_rows(session, user, params):
    scope, search = ChannelScope.of(user), search_param(params)
    for t in walk_pages(lambda cursor: pricing_q.tender_prices_page(session, scope, cursor, search)):
        yield [t.award_no, t.sku.code, t.sku.name, t.hospital.name if t.hospital else None, t.alliance_name,
               t.region.name if t.region else None, t.price, t.valid_from, t.valid_until]


register_export("price_lists", _l("Price lists"), PRICE_VIEWERS,
                (_l("Code"), _l("Name"), _l("Channel"), _l("Region"), _l("Valid from"), _l("Valid until"), _l("Status")),
                price_list_rows, params=("q", "channel", "status"))
register_export("price_list_items", _l("Prices"), PRICE_VIEWERS,
                (_l("Price list"), _l("SKU"), _l("Name"), _l("Specification / model"), _l("Unit"),
                 _l("Price (CNY, VAT included)")),
                price_list_item_rows, params=("price_list_id", "q"), found=price_list_found)
register_export("price_bands", _l("Price bands"), PRICE_VIEWERS,
                (_l("SKU"), _l("Name"), _l("Region"), _l("Floor"), _l("Ceiling"), _l("Valid from"), _l("Valid until")),
                price_band_rows, params=("q",))
register_export("tender_prices", _l("Tender awards"), PRICE_VIEWERS,
                (_l("Award number"), _l("SKU"), _l("Name"), _l("Hospital"), _l("Alliance name"), _l("Alliance region"),
                 _l("Price"), _l("Valid from"), _l("Valid until")),
                tender_price_rows, params=("q",))


def price_request_rows(session, user, params):
    """Special-price requests as the manufacturer's list shows them (scope, filters), one
    row per request line with what orders used of its cap."""
    from app.core.coerce import as_id
    from app.core.i18n import shanghai_today
    from app.pricing import special_prices as sp
    from app.pricing.models import PriceRequest

    scope, today = ChannelScope.of(user), shanghai_today()
    f = sp.RequestFilter(status=str(params.get("status", "")), dealer=str(params.get("dealer", "")),
                         hospital_id=as_id(params.get("hospital_id")), search=search_param(params))
    for r in walk_pages(lambda cursor: sp.requests_page(session, scope, cursor, f, today)):
        request = session.get(PriceRequest, r.id)
        status = str(sp.STATUS_LABELS[sp.shown_status(r.status, r.valid_until, today)])
        for use in sp.line_uses(session, request):
            yield [r.number, r.dealer_code, r.dealer_name, r.hospital_code, r.hospital_name, r.tender_ref,
                   r.valid_from, r.valid_until, status, use.line.sku.code, use.line.sku.name, use.line.requested_price,
                   use.line.reference_price, use.line.band_floor, use.discount_pct, use.line.quantity_cap, use.used,
                   use.left]


register_export("price_requests", _l("Special prices"), ("admin", "channel_manager", "regional_manager", "finance"),
                (_l("Number"), _l("Dealer code"), _l("Dealer"), _l("Hospital code"), _l("Hospital"),
                 _l("Tender reference"), _l("Valid from"), _l("Valid until"), _l("Status"), _l("SKU"), _l("Name"),
                 _l("Special price"), _l("Price without it"), _l("Band floor"), _l("Below the floor (%)"),
                 _l("Quantity cap"), _l("Used"), _l("Left")),
                price_request_rows, params=("q", "status", "dealer", "hospital_id"))
