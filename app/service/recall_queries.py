"""Reads about recalls (召回): which lots a campaign covers, the live trace from the stock
ledger, shipments and sell-out reports, the frozen trace and notices, effectiveness per
region, and the lots allocation must never touch.

The trace reads one aggregate per source (balances, shipments, returns, sell-out), each
restricted to the affected lots, and combines them with ``recall_rules.trace_holdings``.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, exists, false, func, or_, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital, Region
from app.core.pagination import Page, keyset_page
from app.inventory.models import Lot, SellOutLine, StockBalance, Warehouse
from app.orders.models import Order, ReturnLine, ReturnRequest, Shipment, ShipmentLine
from app.service import recall_rules as rules
from app.service.models import RecallCampaign, RecallHolding, RecallNotice, RecallScope

#: manufacturer roles that run recalls (create, activate, close, report)
RECALL_ROLES = ("admin", "qa_ra", "after_sales")
#: … and that may follow them
RECALL_VIEWERS = RECALL_ROLES + ("channel_manager",)
#: campaign statuses whose lots are withdrawn: never allocated again (a closed recall's
#: units were returned or destroyed; its lots do not come back)
BLOCKING_STATUSES = ("active", "closed")
RETURNED_STATUSES = ("received", "credited")


# --- which lots -----------------------------------------------------------------------------------

def scope_matches(scope=RecallScope, lot=Lot):
    """SQL: the lot is covered by the scope row — its SKU, and every lot, the one lot, the
    lot range (byte order, inclusive) or the one serial."""
    lot_no = lot.lot_no.collate("C")
    return and_(lot.sku_id == scope.sku_id,
                or_(scope.serial_no.is_(None), lot.serial_no == scope.serial_no),
                or_(scope.lot_from.is_(None), and_(lot_no >= scope.lot_from.collate("C"), lot_no <= scope.lot_to.collate("C"))))


def affected_lot_ids(campaign_id):
    """SQL: ids of the lots a campaign covers (driven from its few scope rows)."""
    return (select(Lot.id).select_from(RecallScope).join(Lot, scope_matches())
            .where(RecallScope.campaign_id == campaign_id))


def blocked_lot_ids(sku_id=None):
    """SQL: ids of the lots under an active (or closed) recall — never to be allocated;
    of one SKU when ``sku_id`` is given (allocation asks per SKU)."""
    stmt = (select(Lot.id).select_from(RecallCampaign).join(RecallScope, RecallScope.campaign_id == RecallCampaign.id)
            .join(Lot, scope_matches()).where(RecallCampaign.status.in_(BLOCKING_STATUSES)))
    return stmt if sku_id is None else stmt.where(RecallScope.sku_id == sku_id)


def is_blocked(session: Session, lot_id: int) -> bool:
    return session.scalar(select(exists().where(Lot.id == lot_id, Lot.id.in_(blocked_lot_ids())))) or False


def affected_lots(session: Session, campaign_id: int) -> list:
    """The covered lots that exist, with their SKU: rows of id, sku_id, sku_code, sku_name,
    lot_no, serial_no, expires_on."""
    return list(session.execute(
        select(Lot.id, Lot.sku_id, Sku.code.label("sku_code"), Sku.name.label("sku_name"), Lot.lot_no, Lot.serial_no,
               Lot.expires_on)
        .join(Sku, Sku.id == Lot.sku_id).where(Lot.id.in_(affected_lot_ids(campaign_id)))
        .order_by(Sku.code, Lot.lot_no, Lot.serial_no)))


# --- the live trace -------------------------------------------------------------------------------

def _numbers(column):
    return func.array_agg(func.distinct(column))


def flows(session: Session, campaign_id: int) -> list[rules.Flow]:
    """Everything the ledger, shipments, returns and sell-out say about the affected lots."""
    lots = affected_lot_ids(campaign_id)
    out: list[rules.Flow] = []
    for wid, kind, hospital_id, dealer_id, code, lot_id, qty in session.execute(
            select(Warehouse.id, Warehouse.kind, Warehouse.hospital_id, Warehouse.dealer_id, Warehouse.code,
                   StockBalance.lot_id, func.sum(StockBalance.quantity))
            .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
            .where(StockBalance.lot_id.in_(lots), StockBalance.quantity > 0)
            .group_by(Warehouse.id, StockBalance.lot_id)):
        if kind == "consignment":
            out.append(rules.Flow("consigned", lot_id, int(qty), warehouse_id=wid, hospital_id=hospital_id,
                                  dealer_id=None if hospital_id else dealer_id, refs=(code,)))
        else:
            out.append(rules.Flow("stock", lot_id, int(qty), warehouse_id=wid))
    received = func.coalesce(ShipmentLine.received_quantity, ShipmentLine.quantity)
    for status, ship_to, dealer_id, hospital_id, lot_id, qty, refs in session.execute(
            select(Shipment.status, Shipment.ship_to, Order.dealer_id, Shipment.hospital_id, ShipmentLine.lot_id,
                   func.sum(received), _numbers(Shipment.number))
            .join(Shipment, Shipment.id == ShipmentLine.shipment_id).join(Order, Order.id == Shipment.order_id)
            .where(ShipmentLine.lot_id.in_(lots), Shipment.status.in_(("shipped", "delivered")))
            .group_by(Shipment.status, Shipment.ship_to, Order.dealer_id, Shipment.hospital_id, ShipmentLine.lot_id)):
        refs = tuple(sorted(refs))
        if status == "shipped":
            to_hospital = hospital_id if ship_to == "hospital" else None
            out.append(rules.Flow("in_transit", lot_id, int(qty), hospital_id=to_hospital,
                                  dealer_id=None if to_hospital else dealer_id, refs=refs))
        elif ship_to == "hospital":
            out.append(rules.Flow("direct", lot_id, int(qty), dealer_id=dealer_id, hospital_id=hospital_id, refs=refs))
        else:
            out.append(rules.Flow("to_dealer", lot_id, int(qty), dealer_id=dealer_id, refs=refs))
    direct_from = case_direct_hospital()
    for dealer_id, hospital_id, lot_id, qty, refs in session.execute(
            select(ReturnRequest.dealer_id, direct_from, ReturnLine.lot_id, func.sum(ReturnLine.quantity),
                   _numbers(ReturnRequest.number))
            .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
            .outerjoin(Shipment, Shipment.id == ReturnRequest.shipment_id)
            .where(ReturnLine.lot_id.in_(lots), ReturnRequest.status.in_(RETURNED_STATUSES),
                   ReturnRequest.reason != "short")  # a short claim's units never arrived
            .group_by(ReturnRequest.dealer_id, direct_from, ReturnLine.lot_id)):
        out.append(rules.Flow("returned", lot_id, int(qty), dealer_id=dealer_id, hospital_id=hospital_id,
                              refs=tuple(sorted(refs))))
    for dealer_id, hospital_id, buyer_id, lot_id, qty in session.execute(
            select(SellOutLine.dealer_id, SellOutLine.hospital_id, SellOutLine.buyer_dealer_id, SellOutLine.lot_id,
                   func.sum(SellOutLine.quantity))
            .where(SellOutLine.lot_id.in_(lots))
            .group_by(SellOutLine.dealer_id, SellOutLine.hospital_id, SellOutLine.buyer_dealer_id, SellOutLine.lot_id)):
        if hospital_id:
            out.append(rules.Flow("sold", lot_id, int(qty), dealer_id=dealer_id, hospital_id=hospital_id))
        else:
            out.append(rules.Flow("sold_to_dealer", lot_id, int(qty), dealer_id=dealer_id, buyer_dealer_id=buyer_id))
    return out


def case_direct_hospital():
    """SQL: the hospital a returned direct delivery came back from (None: from the dealer)."""
    return case((Shipment.ship_to == "hospital", Shipment.hospital_id), else_=None).label("direct_hospital_id")


def live_trace(session: Session, campaign_id: int, traced_flows: list[rules.Flow] | None = None) -> list[rules.Holding]:
    """Who holds the affected units now; from ``traced_flows`` when the caller has read
    ``flows`` already (activation needs both)."""
    return rules.trace_holdings(flows(session, campaign_id) if traced_flows is None else traced_flows)


@dataclass(frozen=True)
class Party:
    kind: str
    id: int
    code: str
    name: str
    region_id: int | None
    region_name: str | None


def parties(session: Session, holdings) -> dict[tuple[str, int], Party]:
    """Names and regions of the warehouses, dealers and hospitals in a trace."""
    wanted: dict[str, set[int]] = {"warehouse": set(), "dealer": set(), "hospital": set()}
    for h in holdings:
        wanted[h.holder_kind].add(h.holder_id)
    out: dict[tuple[str, int], Party] = {}
    for kind, model in (("warehouse", Warehouse), ("dealer", Dealer), ("hospital", Hospital)):
        if not wanted[kind]:
            continue
        for row in session.execute(select(model.id, model.code, model.name, model.region_id, Region.name)
                                   .outerjoin(Region, Region.id == model.region_id).where(model.id.in_(wanted[kind]))):
            out[(kind, row[0])] = Party(kind, row[0], row[1], row[2], row[3], row[4])
    return out


@dataclass(frozen=True)
class Recipient:
    """Who a notice goes to: the party's region, contact phone (SMS) and the e-mail
    addresses of its active users (by user id)."""
    region_id: int | None
    contact_phone: str | None
    emails: list[str]


def recipients(session: Session, dealer_ids, hospital_ids) -> dict[tuple[int | None, int | None], Recipient]:
    """The recipients of notices, keyed like notices by (dealer_id, None) or (None,
    hospital_id): one query for the dealers, one for the hospitals, one for their users."""
    from app.identity.models import User

    dealer_ids, hospital_ids = set(dealer_ids), set(hospital_ids)
    out: dict[tuple[int | None, int | None], Recipient] = {}
    for model, ids, key in ((Dealer, dealer_ids, lambda i: (i, None)), (Hospital, hospital_ids, lambda i: (None, i))):
        if ids:
            for party_id, region_id, phone in session.execute(
                    select(model.id, model.region_id, model.contact_phone).where(model.id.in_(ids))):
                out[key(party_id)] = Recipient(region_id, phone, [])
    if dealer_ids or hospital_ids:
        for email, dealer_id, hospital_id in session.execute(
                select(User.email, User.dealer_id, User.hospital_id)
                .where(User.active.is_(True), or_(User.dealer_id.in_(dealer_ids), User.hospital_id.in_(hospital_ids)))
                .order_by(User.id)):
            for key in ((dealer_id, None), (None, hospital_id)):
                if key in out:
                    out[key].emails.append(email)
    return out


def holder_id(holding: RecallHolding) -> int:
    return holding.warehouse_id or holding.dealer_id or holding.hospital_id


def frozen_parties(session: Session, frozen) -> dict[tuple[str, int], Party]:
    """``parties`` for the rows of ``recall_holdings``."""
    return parties(session, [rules.Holding(h.holder_kind, holder_id(h), h.lot_id) for h in frozen])


# --- campaigns, frozen trace, notices ----------------------------------------------------------------

def campaigns_page(session: Session, cursor: str | None, status: str = "") -> Page:
    expected = (select(func.coalesce(func.sum(RecallHolding.quantity), 0))
                .where(RecallHolding.campaign_id == RecallCampaign.id).scalar_subquery())
    notices = (select(func.count()).where(RecallNotice.campaign_id == RecallCampaign.id).scalar_subquery())
    stmt = select(RecallCampaign.id, RecallCampaign.number, RecallCampaign.title, RecallCampaign.classification,
                  RecallCampaign.status, RecallCampaign.activated_at, RecallCampaign.created_at,
                  expected.label("units"), notices.label("notices"))
    if status:
        stmt = stmt.where(RecallCampaign.status == status)
    return keyset_page(session, stmt, (RecallCampaign.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def campaign(session: Session, campaign_id: int) -> RecallCampaign | None:
    return session.get(RecallCampaign, campaign_id)


def scopes(session: Session, campaign_id: int) -> list[RecallScope]:
    return list(session.scalars(select(RecallScope).where(RecallScope.campaign_id == campaign_id)
                                .order_by(RecallScope.id)))


def holdings(session: Session, campaign_id: int) -> list[RecallHolding]:
    kind_order = case((RecallHolding.holder_kind == "warehouse", 0), (RecallHolding.holder_kind == "dealer", 1), else_=2)
    return list(session.scalars(select(RecallHolding).where(RecallHolding.campaign_id == campaign_id)
                                .order_by(kind_order, RecallHolding.id)))


def notices(session: Session, campaign_id: int) -> list[RecallNotice]:
    return list(session.scalars(select(RecallNotice).where(RecallNotice.campaign_id == campaign_id)
                                .order_by(RecallNotice.dealer_id.is_(None), RecallNotice.id)))


def _accounted_sql():
    done = RecallNotice.on_hand + RecallNotice.returned + RecallNotice.used
    return case((RecallNotice.status == "reported", func.least(done, RecallNotice.expected)), else_=0)


def effectiveness(session: Session, campaign_id: int) -> tuple[rules.Effectiveness, list[rules.Effectiveness]]:
    """Share of the traced units accounted for, in total and per region: units in our own
    warehouses count as accounted (quarantined at activation); a dealer's or hospital's
    once it reports them."""
    rows = list(session.execute(
        select(RecallHolding.region_id, func.sum(RecallHolding.quantity), func.sum(RecallHolding.quantity))
        .where(RecallHolding.campaign_id == campaign_id, RecallHolding.holder_kind == "warehouse")
        .group_by(RecallHolding.region_id)))
    rows += list(session.execute(
        select(RecallNotice.region_id, func.sum(RecallNotice.expected), func.sum(_accounted_sql()))
        .where(RecallNotice.campaign_id == campaign_id).group_by(RecallNotice.region_id)))
    area = areas(session, [r for r, _e, _a in rows])
    return rules.effectiveness((area.get(r, r), int(e or 0), int(a or 0)) for r, e, a in rows)


def areas(session: Session, region_ids) -> dict[int, int]:
    """Each region's sales area (华东, 华南 …: the second level under the country), so that a
    dealer's province and a hospital's city are counted in the same line."""
    ids = {r for r in region_ids if r}
    if not ids:
        return {}
    paths = dict(session.execute(select(Region.id, Region.path).where(Region.id.in_(ids))).all())
    out = {}
    for region_id, path in paths.items():
        parts = path.strip("/").split("/")
        out[region_id] = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else region_id
    return out


def region_names(session: Session, ids) -> dict[int, str]:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    return dict(session.execute(select(Region.id, Region.name).where(Region.id.in_(ids))).all())


def lots_by_id(session: Session, ids) -> dict[int, Lot]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {lot.id: lot for lot in session.scalars(select(Lot).where(Lot.id.in_(ids)))}


# --- a party's notices ------------------------------------------------------------------------------

def _party_clause(user):
    if user.portal == "dealer":
        return RecallNotice.dealer_id == user.dealer_id
    if user.portal == "hospital":
        return RecallNotice.hospital_id == user.hospital_id
    return false()


def notices_for(session: Session, user) -> list:
    """The dealer's or hospital's notices of active and closed campaigns, newest first."""
    return list(session.execute(
        select(RecallNotice, RecallCampaign).join(RecallCampaign, RecallCampaign.id == RecallNotice.campaign_id)
        .where(_party_clause(user), RecallCampaign.status.in_(("active", "closed")))
        .order_by(RecallNotice.id.desc())).all())


def notice_for(session: Session, user, notice_id: int) -> RecallNotice | None:
    """One notice of the user's own dealer or hospital (None for anyone else's)."""
    return session.scalar(
        select(RecallNotice).join(RecallCampaign, RecallCampaign.id == RecallNotice.campaign_id)
        .where(RecallNotice.id == notice_id, _party_clause(user), RecallCampaign.status.in_(("active", "closed"))))


def waiting_count(session: Session, user) -> int:
    """Notices the party has not reported on yet (the menu's badge)."""
    return session.scalar(
        select(func.count()).select_from(RecallNotice).join(RecallCampaign, RecallCampaign.id == RecallNotice.campaign_id)
        .where(_party_clause(user), RecallCampaign.status == "active", RecallNotice.status != "reported")) or 0


def notice_holdings(session: Session, notice: RecallNotice) -> list[RecallHolding]:
    """The frozen trace rows of the notice's party."""
    party = (RecallHolding.dealer_id == notice.dealer_id) if notice.dealer_id else \
        (RecallHolding.hospital_id == notice.hospital_id)
    return list(session.scalars(select(RecallHolding).where(RecallHolding.campaign_id == notice.campaign_id, party)
                                .order_by(RecallHolding.lot_id)))


def downstream_notices(session: Session, notice: RecallNotice) -> list[RecallNotice]:
    """For a dealer's notice: the notices of the hospitals and dealers it passed affected
    units to (delivered straight to them on its orders, or reported as sold to them), so it
    can follow them up. Empty for a hospital's notice."""
    if not notice.dealer_id:
        return []
    hospitals, dealers = set(), set()
    for f in flows(session, notice.campaign_id):
        if f.dealer_id == notice.dealer_id and f.kind in ("direct", "sold"):
            hospitals.add(f.hospital_id)
        elif f.dealer_id == notice.dealer_id and f.kind == "sold_to_dealer":
            dealers.add(f.buyer_dealer_id)
    if not hospitals and not dealers:
        return []
    return list(session.scalars(select(RecallNotice).where(
        RecallNotice.campaign_id == notice.campaign_id,
        or_(RecallNotice.hospital_id.in_(hospitals or [0]), RecallNotice.dealer_id.in_(dealers or [0])))
        .order_by(RecallNotice.id)))


def installed_units(session: Session, campaign_id: int, hospital_id: int | None = None) -> list:
    """Installed units (装机) of affected lots or serials, with their hospital: listed on
    the notice when the installed base knows them."""
    from app.service.models import InstalledUnit

    covered = or_(InstalledUnit.lot_id.in_(affected_lot_ids(campaign_id)),
                  exists().where(RecallScope.campaign_id == campaign_id, RecallScope.sku_id == InstalledUnit.sku_id,
                                 RecallScope.serial_no == InstalledUnit.serial_no))
    stmt = (select(InstalledUnit.id, InstalledUnit.serial_no, InstalledUnit.department, InstalledUnit.location,
                   InstalledUnit.installed_on, InstalledUnit.hospital_id, Hospital.name.label("hospital_name"),
                   Sku.code.label("sku_code"), Sku.name.label("sku_name"))
            .join(Sku, Sku.id == InstalledUnit.sku_id).join(Hospital, Hospital.id == InstalledUnit.hospital_id)
            .where(covered, InstalledUnit.status == "active").order_by(Hospital.name, InstalledUnit.serial_no))
    if hospital_id is not None:
        stmt = stmt.where(InstalledUnit.hospital_id == hospital_id)
    return list(session.execute(stmt))


def sku_choices(session: Session) -> list:
    return list(session.execute(select(Sku.id, Sku.code, Sku.name, Sku.tracking).order_by(Sku.code)))

