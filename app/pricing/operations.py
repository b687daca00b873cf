"""Writes about prices: price lists and their items, price bands, tender awards.

Values come as a dict of typed values or text (a form, an imported row); anything wrong
is an ``InvalidInput`` naming the field. Nothing here commits.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Hospital, Region
from app.channel.rules import windows_overlap
from app.core import coerce
from app.core.db import ensure_unique
from app.core.errors import InvalidInput
from app.pricing.models import (
    CHANNELS,
    PriceBand,
    PriceList,
    PriceListItem,
    TenderPrice,
)


def _region(session: Session, values: dict, field: str = "region_id") -> int | None:
    region_id = coerce.ident(values, field)
    if region_id is not None and session.get(Region, region_id) is None:
        raise InvalidInput(field, _("No such region."))
    return region_id


def _sku(session: Session, values: dict) -> int:
    sku_id = coerce.ident(values, "sku_id", required=True)
    if session.get(Sku, sku_id) is None:
        raise InvalidInput("sku_id", _("No such SKU."))
    return sku_id


def _window(values: dict, until_required: bool = False):
    start = coerce.day(values, "valid_from", required=True)
    until = coerce.day(values, "valid_until", required=until_required)
    if until is not None and until < start:
        raise InvalidInput("valid_until", _("The end date is before the start date."))
    return start, until


def save_price_list(session: Session, values: dict, price_list: PriceList | None = None) -> PriceList:
    """Create a price list (values: code, name, channel, region_id, valid_from,
    valid_until, status) or change ``price_list``."""
    code = coerce.text(values, "code", required=price_list is None, max_length=30)
    name = coerce.text(values, "name", required=True)
    channel = coerce.text(values, "channel", required=True, max_length=20)
    if channel not in CHANNELS:
        raise InvalidInput("channel", _("Choose distribution, direct or agent."))
    region_id = _region(session, values)
    start, until = _window(values)
    status = coerce.text(values, "status", max_length=20) or (price_list.status if price_list else "active")
    if status not in ("active", "inactive"):
        raise InvalidInput("status", _("Choose active or inactive."))
    if code is not None:
        ensure_unique(session, PriceList, PriceList.code, code, getattr(price_list, "id", None), "code",
                      _("Price list %(code)s already exists.", code=code))
    if price_list is None:
        price_list = PriceList(code=code)
        session.add(price_list)
    elif code is not None:
        price_list.code = code
    price_list.name, price_list.channel, price_list.region_id = name, channel, region_id
    price_list.valid_from, price_list.valid_until, price_list.status = start, until, status
    session.flush()
    return price_list


def save_price_list_item(session: Session, values: dict) -> PriceListItem:
    """The price of one SKU on one price list (values: price_list_id, sku_id, price):
    added, or changed when the SKU is already on the list."""
    price_list_id = coerce.ident(values, "price_list_id", required=True)
    if session.get(PriceList, price_list_id) is None:
        raise InvalidInput("price_list_id", _("No such price list."))
    sku_id = _sku(session, values)
    price = coerce.money(values, "price", required=True)
    item = session.scalar(select(PriceListItem).where(PriceListItem.price_list_id == price_list_id,
                                                      PriceListItem.sku_id == sku_id))
    if item is None:
        item = PriceListItem(price_list_id=price_list_id, sku_id=sku_id, price=price)
        session.add(item)
    elif item.price != price:
        item.price = price
    session.flush()
    return item


def remove_price_list_item(session: Session, item: PriceListItem) -> None:
    session.delete(item)
    session.flush()


def save_price_band(session: Session, values: dict, band: PriceBand | None = None) -> PriceBand:
    """A floor and ceiling for a SKU, nationally or in a region (values: sku_id,
    region_id, floor, ceiling, valid_from, valid_until). Two bands for the same SKU and
    region may not overlap in time."""
    sku_id = _sku(session, values)
    region_id = _region(session, values)
    floor = coerce.money(values, "floor", required=True)
    ceiling = coerce.money(values, "ceiling", required=True)
    if floor > ceiling:
        raise InvalidInput("ceiling", _("The ceiling must not be below the floor."))
    start, until = _window(values)
    stmt = select(PriceBand).where(PriceBand.sku_id == sku_id, PriceBand.region_id.is_(None) if region_id is None
                                   else PriceBand.region_id == region_id)
    if band is not None:
        stmt = stmt.where(PriceBand.id != band.id)
    for other in session.scalars(stmt):
        if windows_overlap(start, until, other.valid_from, other.valid_until):
            raise InvalidInput("valid_from", _(
                "Another band for this SKU and region runs %(start)s to %(end)s: the periods may not overlap.",
                start=other.valid_from.isoformat(), end=other.valid_until.isoformat() if other.valid_until else "…"))
    if band is None:
        band = PriceBand()
        session.add(band)
    band.sku_id, band.region_id, band.floor, band.ceiling = sku_id, region_id, floor, ceiling
    band.valid_from, band.valid_until = start, until
    session.flush()
    return band


def save_tender_price(session: Session, values: dict, tender: TenderPrice | None = None) -> TenderPrice:
    """A tender / volume-procurement award (values: award_no, sku_id, price, valid_from,
    valid_until, and hospital_id — or region_id with alliance_name for an alliance)."""
    award_no = coerce.text(values, "award_no", required=True, max_length=60)
    sku_id = _sku(session, values)
    price = coerce.money(values, "price", required=True)
    hospital_id = coerce.ident(values, "hospital_id")
    region_id = _region(session, values)
    alliance = coerce.text(values, "alliance_name")
    if (hospital_id is None) == (region_id is None):
        raise InvalidInput("hospital_id", _("Choose the hospital, or the alliance's region (one of the two)."))
    if hospital_id is not None and session.get(Hospital, hospital_id) is None:
        raise InvalidInput("hospital_id", _("No such hospital."))
    if region_id is not None and alliance is None:
        raise InvalidInput("alliance_name", _("Name the alliance (联盟) that won the award."))
    start, until = _window(values, until_required=True)
    if tender is None:
        tender = TenderPrice()
        session.add(tender)
    tender.award_no, tender.sku_id, tender.price = award_no, sku_id, price
    tender.hospital_id, tender.region_id = hospital_id, region_id
    tender.alliance_name = alliance if region_id is not None else None
    tender.valid_from, tender.valid_until = start, until
    session.flush()
    return tender
