"""Reads about prices, and the one answer to "what is the price for this dealer, this
hospital, this SKU, this date — and why" (``resolve_price``), which orders and rebates use.
The precedence itself is the pure ``app.pricing.rules.choose_price``."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import any_, literal, false, or_, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.authorizations import ancestor_ids
from app.channel.models import Authorization, Dealer, Hospital, Region
from app.channel.queries import ChannelScope
from app.core.pagination import Page, keyset_page
from app.pricing import rules
from app.pricing.models import PriceBand, PriceList, PriceListItem, TenderPrice

CHANNEL_LABELS = {"distribution": _l("Distribution"), "direct": _l("Direct"), "agent": _l("Agent")}
SOURCE_LABELS = {rules.HOSPITAL_AWARD: _l("Hospital tender award"), rules.ALLIANCE_AWARD: _l("Alliance award"),
                 rules.PRICE_LIST: _l("Price list")}
BAND_LABELS = {"below_floor": _l("Below the floor"), "above_ceiling": _l("Above the ceiling"),
               "within": _l("Within the band"), "no_band": _l("No band")}


def _valid_on(model, day: date):
    return (model.valid_from <= day) & (or_(model.valid_until.is_(None), model.valid_until >= day))


def _region_name(region: Region | None) -> str:
    if region is None:
        return str(_("National"))
    from app.core.templating import ui_locale

    try:
        return region.name if ui_locale() == "zh_CN" else region.name_en
    except RuntimeError:  # no request (a job): Chinese
        return region.name


# --- candidates ----------------------------------------------------------------------------

def _tender_candidates(session: Session, sku_ids, day: date, hospital: Hospital | None) -> dict[int, list]:
    out = defaultdict(list)
    if hospital is None:
        return out
    stmt = select(TenderPrice).where(TenderPrice.sku_id.in_(sku_ids), _valid_on(TenderPrice, day), or_(
        TenderPrice.hospital_id == hospital.id, TenderPrice.region_id.in_(ancestor_ids(hospital.region.path))))
    for t in session.scalars(stmt):
        if t.hospital_id is not None:
            c = rules.Candidate(rules.HOSPITAL_AWARD, t.price, t.valid_from, t.valid_until, t.id, t.award_no,
                                hospital_id=t.hospital_id, scope_name=t.hospital.name)
        else:
            c = rules.Candidate(rules.ALLIANCE_AWARD, t.price, t.valid_from, t.valid_until, t.id, t.award_no,
                                region_path=t.region.path,
                                scope_name=f"{t.alliance_name or ''} · {_region_name(t.region)}".strip(" ·"))
        out[t.sku_id].append(c)
    return out


def _list_candidates(session: Session, sku_ids, day: date, channel: str, reference_path: str | None) -> dict[int, list]:
    out = defaultdict(list)
    regions = ancestor_ids(reference_path) if reference_path else []
    stmt = (select(PriceListItem, PriceList).join(PriceList, PriceList.id == PriceListItem.price_list_id)
            .where(PriceListItem.sku_id.in_(sku_ids), PriceList.status == "active", PriceList.channel == channel,
                   _valid_on(PriceList, day), or_(PriceList.region_id.is_(None), PriceList.region_id.in_(regions))))
    for item, pl in session.execute(stmt):
        out[item.sku_id].append(rules.Candidate(
            rules.PRICE_LIST, item.price, pl.valid_from, pl.valid_until, pl.id, pl.code,
            region_path=pl.region.path if pl.region else None, channel=pl.channel, scope_name=_region_name(pl.region)))
    return out


def _bands(session: Session, sku_ids, day: date, path: str | None) -> dict[int, list]:
    out = defaultdict(list)
    regions = ancestor_ids(path) if path else []
    stmt = select(PriceBand).where(PriceBand.sku_id.in_(sku_ids), _valid_on(PriceBand, day),
                                   or_(PriceBand.region_id.is_(None), PriceBand.region_id.in_(regions)))
    for b in session.scalars(stmt):
        out[b.sku_id].append(rules.Band(b.floor, b.ceiling, b.valid_from, b.valid_until,
                                        b.region.path if b.region else None, b.id))
    return out


# --- the answer ------------------------------------------------------------------------------

@dataclass
class PriceAnswer:
    """What ``resolve_price`` found: the price (None when nothing applies), where it came
    from and why, the band it was checked against, and the other candidates."""

    price: Decimal | None
    #: rules.HOSPITAL_AWARD | rules.ALLIANCE_AWARD | rules.PRICE_LIST, or None
    source: str | None
    #: the award number or price-list code that applied
    record: str | None
    record_id: int | None
    why: str
    channel: str
    band: rules.Band | None
    band_region: str
    band_result: str
    chosen: rules.Candidate | None
    #: every applicable candidate, most binding first (``chosen`` is the first)
    candidates: list = field(default_factory=list)

    @property
    def others(self) -> list:
        return self.candidates[1:]


def _why(chosen: rules.Candidate | None, channel: str, day: date, where: str) -> str:
    if chosen is None:
        return _("No price applies: no tender award for this hospital and no active %(channel)s price list "
                 "with this SKU for %(where)s on %(day)s.", channel=CHANNEL_LABELS[channel], where=where,
                 day=day.isoformat())
    period = {"start": chosen.valid_from.isoformat(), "end": chosen.valid_until.isoformat() if chosen.valid_until else "…"}
    if chosen.kind == rules.HOSPITAL_AWARD:
        return _("Tender award %(no)s for %(hospital)s (%(start)s to %(end)s): a hospital's own award comes "
                 "before any alliance award or price list.", no=chosen.label, hospital=chosen.scope_name, **period)
    if chosen.kind == rules.ALLIANCE_AWARD:
        return _("Award %(no)s of the alliance %(alliance)s (%(start)s to %(end)s): the hospital has no award of "
                 "its own, and an alliance award covering its region comes before price lists.",
                 no=chosen.label, alliance=chosen.scope_name, **period)
    return _("Price list %(code)s (%(channel)s, %(region)s, %(start)s to %(end)s): no tender award applies, and "
             "this is the most specific %(channel)s price list for %(where)s; a newer one of the same region "
             "would win.", code=chosen.label, channel=CHANNEL_LABELS[channel], region=chosen.scope_name,
             where=where, **period)


def _answer(candidates, band_list, day, hospital, dealer, channel) -> PriceAnswer:
    hospital_path = hospital.region.path if hospital else None
    dealer_path = dealer.region.path if dealer else None
    order = rules.ranked(candidates, day, hospital.id if hospital else None, hospital_path,
                         dealer.tier if dealer else None, dealer_path)
    chosen = order[0] if order else None
    band = rules.choose_band(band_list, day, hospital_path or dealer_path)
    where = (dealer.region.name if dealer else hospital.region.name) if (dealer or hospital) else str(_("National"))
    return PriceAnswer(
        price=chosen.price if chosen else None, source=chosen.kind if chosen else None,
        record=chosen.label if chosen else None, record_id=chosen.record_id if chosen else None,
        why=_why(chosen, channel, day, where), channel=channel, band=band,
        band_region=_band_region(band), band_result=rules.band_check(chosen.price if chosen else None, band),
        chosen=chosen, candidates=order)


def _band_region(band: rules.Band | None) -> str:
    if band is None or band.region_path is None:
        return str(_("National"))
    return ""  # filled by the caller that has the region loaded, if it wants it


def resolve_price(session: Session, dealer_id: int | None, hospital_id: int | None, sku_id: int, day: date) -> PriceAnswer:
    """The price ``dealer_id`` (None: a direct sale) pays or charges for ``sku_id`` sold to
    ``hospital_id`` (None: the dealer's own purchase price) on ``day``, and why.
    See app.pricing.rules for the precedence."""
    dealer = session.get(Dealer, dealer_id) if dealer_id is not None else None
    hospital = session.get(Hospital, hospital_id) if hospital_id is not None else None
    channel = rules.channel_for(dealer.tier if dealer else None)
    reference = dealer.region.path if dealer else (hospital.region.path if hospital else None)
    candidates = _tender_candidates(session, [sku_id], day, hospital)[sku_id] + \
        _list_candidates(session, [sku_id], day, channel, reference)[sku_id]
    bands = _bands(session, [sku_id], day, hospital.region.path if hospital else reference)[sku_id]
    answer = _answer(candidates, bands, day, hospital, dealer, channel)
    if answer.band is not None and answer.band.region_path is not None:
        answer.band_region = _region_name(session.get(Region, ancestor_ids(answer.band.region_path)[-1]))
    return answer


@dataclass(frozen=True)
class SheetRow:
    sku: Sku
    answer: PriceAnswer


def dealer_price_sheet(session: Session, dealer_id: int, day: date) -> list[SheetRow]:
    """What the dealer pays for each active SKU on ``day`` (resolve_price with no
    hospital, batched: three queries for the whole catalogue)."""
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        return []
    skus = list(session.scalars(select(Sku).where(Sku.status == "active").order_by(Sku.code)))
    ids = [s.id for s in skus]
    channel = rules.channel_for(dealer.tier)
    lists = _list_candidates(session, ids, day, channel, dealer.region.path)
    bands = _bands(session, ids, day, dealer.region.path)
    rows = [SheetRow(s, _answer(lists[s.id], bands[s.id], day, None, dealer, channel)) for s in skus]
    return [r for r in rows if r.answer.price is not None]


@dataclass(frozen=True)
class HospitalProduct:
    sku: Sku
    dealers: list
    award: rules.Candidate | None


def hospital_products(session: Session, hospital_id: int, day: date) -> list[HospitalProduct]:
    """The products a hospital may buy on ``day``: every active SKU some active dealer is
    authorized to sell it, with those dealers and the tender award price when one applies."""
    hospital = session.get(Hospital, hospital_id)
    if hospital is None:
        return []
    auths = list(session.scalars(
        select(Authorization).join(Dealer, Dealer.id == Authorization.dealer_id).where(
            Authorization.status == "active", Authorization.valid_from <= day, Authorization.valid_until >= day,
            Dealer.status == "active", or_(literal(hospital.id) == any_(Authorization.hospital_ids),
                                           Authorization.region_id.in_(ancestor_ids(hospital.region.path)))
        ).order_by(Dealer.name)).unique())
    if not auths:
        return []
    skus = list(session.scalars(select(Sku).where(Sku.status == "active").order_by(Sku.code)))
    tenders = _tender_candidates(session, [s.id for s in skus], day, hospital)
    out = []
    for sku in skus:
        dealers = []
        for a in auths:
            if (a.product_line_id == sku.product_line_id or sku.id in (a.sku_ids or ())) and a.dealer not in dealers:
                dealers.append(a.dealer)
        if dealers:
            award = rules.choose_price(tenders[sku.id], day, hospital.id, hospital.region.path, None, None)
            out.append(HospitalProduct(sku, dealers, award))
    return out


# --- lists for the manufacturer ---------------------------------------------------------------

def _reach_clause(region_col, scope: ChannelScope):
    """A regional manager sees national records and those of regions in, above or below
    their own; everyone else on the manufacturer side sees all."""
    if scope.dealer_id is not None or scope.hospital_id is not None:
        return false()
    if scope.region_paths is None:
        return None
    if not scope.region_paths:
        return region_col.is_(None)
    above = {i for p in scope.region_paths for i in ancestor_ids(p)}
    below = select(Region.id).where(or_(*[Region.path.startswith(p) for p in scope.region_paths]))
    return or_(region_col.is_(None), region_col.in_(above), region_col.in_(below))


def _scoped(stmt, region_col, scope):
    clause = _reach_clause(region_col, scope)
    return stmt if clause is None else stmt.where(clause)


def price_lists_page(session: Session, scope: ChannelScope, cursor: str | None, search: str = "", channel: str = "",
                     status: str = "") -> Page:
    stmt = _scoped(select(PriceList), PriceList.region_id, scope)
    if search:
        like = f"%{search.strip()}%"
        stmt = stmt.where(or_(PriceList.code.ilike(like), PriceList.name.ilike(like)))
    if channel in rules.TIER_CHANNEL.values() or channel == "direct":
        stmt = stmt.where(PriceList.channel == channel)
    if status in ("active", "inactive"):
        stmt = stmt.where(PriceList.status == status)
    return keyset_page(session, stmt, (PriceList.code, PriceList.id), lambda p: (p.code, p.id), cursor)


def price_list_for(session: Session, scope: ChannelScope, price_list_id: int) -> PriceList | None:
    stmt = _scoped(select(PriceList), PriceList.region_id, scope).where(PriceList.id == price_list_id)
    return session.scalars(stmt).unique().one_or_none()


def price_list_items_page(session: Session, price_list: PriceList, cursor: str | None, search: str = "") -> Page:
    """One page of a price list's items by SKU code (a national list holds every SKU:
    tens of thousands of rows), searched in SKU code and name."""
    stmt = select(PriceListItem).join(Sku, Sku.id == PriceListItem.sku_id).where(
        PriceListItem.price_list_id == price_list.id)
    if search := search.strip():
        stmt = stmt.where(or_(Sku.code.ilike(f"%{search}%"), Sku.name.ilike(f"%{search}%")))
    return keyset_page(session, stmt, (Sku.code, PriceListItem.id), lambda i: (i.sku.code, i.id), cursor)


def _sku_search(stmt, search: str):
    if search:
        like = f"%{search.strip()}%"
        stmt = stmt.where(or_(Sku.code.ilike(like), Sku.name.ilike(like)))
    return stmt


def price_bands_page(session: Session, scope: ChannelScope, cursor: str | None, search: str = "") -> Page:
    stmt = _sku_search(_scoped(select(PriceBand).join(Sku, Sku.id == PriceBand.sku_id), PriceBand.region_id, scope), search)
    return keyset_page(session, stmt, (PriceBand.id,), lambda b: (b.id,), cursor, descending=True)


def price_band_for(session: Session, scope: ChannelScope, band_id: int) -> PriceBand | None:
    stmt = _scoped(select(PriceBand), PriceBand.region_id, scope).where(PriceBand.id == band_id)
    return session.scalars(stmt).unique().one_or_none()


def _tender_scope(stmt, scope: ChannelScope):
    clause = _reach_clause(TenderPrice.region_id, scope)
    if clause is None:
        return stmt
    hospital_clause = scope.regions_clause(Hospital.region_id) if scope.region_paths else false()
    in_reach = TenderPrice.hospital_id.in_(select(Hospital.id).where(hospital_clause))
    return stmt.where(or_(in_reach, (TenderPrice.region_id.is_not(None)) & clause))


def tender_prices_page(session: Session, scope: ChannelScope, cursor: str | None, search: str = "") -> Page:
    stmt = _tender_scope(select(TenderPrice).join(Sku, Sku.id == TenderPrice.sku_id), scope)
    if search:
        like = f"%{search.strip()}%"
        stmt = stmt.where(or_(Sku.code.ilike(like), Sku.name.ilike(like), TenderPrice.award_no.ilike(like)))
    return keyset_page(session, stmt, (TenderPrice.id,), lambda t: (t.id,), cursor, descending=True)


def tender_price_for(session: Session, scope: ChannelScope, tender_id: int) -> TenderPrice | None:
    stmt = _tender_scope(select(TenderPrice), scope).where(TenderPrice.id == tender_id)
    return session.scalars(stmt).unique().one_or_none()


def sku_choices(session: Session) -> list[Sku]:
    return list(session.scalars(select(Sku).where(Sku.status.in_(("active", "pending"))).order_by(Sku.code).limit(5000)))
