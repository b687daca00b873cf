"""Writes of a recall (召回): create a campaign (draft), activate it — freeze the trace,
send the notices (portal + outbox), quarantine the affected lots in our warehouses and
take them off open orders — then each party acknowledges and reports, and the campaign
closes once every traced unit is accounted for. Functions validate, change, flush and
never commit; what a user can fix is an ``InvalidInput(field, message)``.

Allocation never takes a lot under an active or closed recall: ``inventory.operations.
locked_balances`` leaves out ``recall_queries.blocked_lot_ids()``, so units received or
released later are blocked as well.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask_babel import gettext as _
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.numbering import assign_number
from app.inventory.models import StockBalance, Warehouse
from app.inventory.operations import move
from app.service import recall_queries as q
from app.service import recall_rules as rules
from app.service.models import RecallCampaign, RecallHolding, RecallNotice, RecallScope

SCOPE_KINDS = ("all", "lot", "range", "serial")
MAX_SCOPES = 20
RECALL_REPORT_JOB = "service.recall_report"


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- creating -------------------------------------------------------------------------------------

def _scope(session: Session, n: int, line: dict) -> RecallScope | None:
    """One scope row from the form's line ``n`` (None when the line is empty)."""
    if not any(str(line.get(k) or "").strip() for k in ("sku_id", "lot_no", "lot_to", "serial_no")):
        return None
    sku_id = coerce.ident(line, "sku_id", required=True)
    sku = session.get(Sku, sku_id)
    if sku is None:
        raise InvalidInput(f"sku_id-{n}", _("Choose a product from the list."))
    kind = line.get("kind") or "all"
    if kind not in SCOPE_KINDS:
        raise InvalidInput(f"kind-{n}", _("Choose a valid option."))
    lot_no = coerce.text(line, "lot_no", max_length=20)
    lot_to = coerce.text(line, "lot_to", max_length=20)
    serial_no = coerce.text(line, "serial_no", max_length=40)
    if kind == "all":
        return RecallScope(sku_id=sku.id)
    if kind == "serial":
        if not serial_no:
            raise InvalidInput(f"serial_no-{n}", _("Give the serial number."))
        return RecallScope(sku_id=sku.id, serial_no=serial_no)
    if not lot_no:
        raise InvalidInput(f"lot_no-{n}", _("Give the lot number."))
    if kind == "lot":
        return RecallScope(sku_id=sku.id, lot_from=lot_no, lot_to=lot_no)
    if not lot_to:
        raise InvalidInput(f"lot_to-{n}", _("Give the last lot number of the range."))
    if lot_to.encode() < lot_no.encode():
        raise InvalidInput(f"lot_to-{n}", _("The last lot number sorts before the first one."))
    return RecallScope(sku_id=sku.id, lot_from=lot_no, lot_to=lot_to)


def create_campaign(session: Session, user, values: dict) -> RecallCampaign:
    """A draft campaign with its scope: ``values`` holds title, reason, classification
    (1 一级 … 3 三级), actions_required and ``lines`` (sku_id, kind, lot_no, lot_to,
    serial_no). Nothing is traced or sent until it is activated."""
    title = coerce.text(values, "title", required=True, max_length=200)
    why = coerce.text(values, "reason", required=True, max_length=4000)
    classification = coerce.whole(values, "classification", 1, 3, required=True)
    actions = coerce.text(values, "actions_required", required=True, max_length=4000)
    lines = values.get("lines") or []
    scopes = []
    for n, line in enumerate(lines[:MAX_SCOPES]):
        try:
            scope = _scope(session, n, line)
        except InvalidInput as err:  # the row's own field ("lot_no-2"), so the page shows it there
            if err.field and "-" not in err.field:
                raise InvalidInput(f"{err.field}-{n}", err.message) from None
            raise
        if scope is not None:
            scopes.append(scope)
    if not scopes:
        raise InvalidInput("sku_id-0", _("Name at least one product, with its lots or serial."))
    campaign = RecallCampaign(title=title, reason=why, classification=classification, actions_required=actions,
                              created_by_id=getattr(user, "id", None))
    assign_number(session, campaign, "RC")
    with reason(session, why):
        session.add(campaign)
        session.flush()
        for scope in scopes:
            scope.campaign_id = campaign.id
            session.add(scope)
        session.flush()
    return campaign


# --- activating --------------------------------------------------------------------------------------

def _lock(session: Session, campaign: RecallCampaign) -> RecallCampaign:
    return session.scalar(select(RecallCampaign).where(RecallCampaign.id == campaign.id).with_for_update()
                          .execution_options(populate_existing=True))


def activate_campaign(session: Session, campaign: RecallCampaign, user) -> RecallCampaign:
    """Freeze the trace, notify every dealer and hospital holding affected units, quarantine
    the affected lots in our warehouses (releasing them from open orders first) and ask for
    the back-orders to be allocated again from other lots. Twice is once: the second call
    finds the campaign active and refuses."""
    campaign = _lock(session, campaign)
    if campaign.status != "draft":
        raise InvalidInput("form", _("Only a draft campaign can be activated."))
    if not session.scalar(select(exists().where(RecallScope.campaign_id == campaign.id))):
        raise InvalidInput("form", _("Name at least one product, with its lots or serial."))
    actor_id = getattr(user, "id", None)
    why = _("Recall %(number)s", number=campaign.number)
    with reason(session, why, "activate"):
        campaign.status = "active"  # first: from here on allocation leaves the lots alone
        campaign.activated_at = _now()
        session.flush()
        _lock_stock(session, campaign)
        released = _release_allocations(session, campaign, why, actor_id)
        quarantined = _quarantine(session, campaign, why, actor_id)
        flows = q.flows(session, campaign.id)  # once, after the quarantine: the trace and the notices share it
        traced = freeze_trace(session, campaign, flows)
        _send_notices(session, campaign, flows)
    if released:
        from app.core.jobs import request_job
        from app.orders.jobs import REALLOCATE_JOB

        request_job(session, REALLOCATE_JOB, {}, f"recall-{campaign.id}-reallocate", requested_by=user)
    session.info.setdefault("recall_activation", {})[campaign.id] = {
        "released": released, "quarantined": quarantined, "holdings": traced}
    return campaign


def _lock_stock(session: Session, campaign: RecallCampaign) -> None:
    """Row-lock the affected lots' available and allocated balances, in allocation's own
    order (warehouse, lot; available before allocated). An order allocating them right now
    finishes first, so the release below sees its allocation; one that comes later waits,
    then finds nothing available (quarantined) — and after commit the lots are blocked.
    (Today the audit chain's lock already serializes writers; this does not rely on it.)"""
    session.execute(select(StockBalance.lot_id)
                    .where(StockBalance.lot_id.in_(q.affected_lot_ids(campaign.id)),
                           StockBalance.state.in_(("available", "allocated")))
                    .order_by(StockBalance.warehouse_id, StockBalance.lot_id, StockBalance.state.desc())
                    .with_for_update())


def _release_allocations(session: Session, campaign: RecallCampaign, why: str, actor_id) -> int:
    """Take affected units off open orders: a packed shipment holding any is unpacked
    (cancelled, so it can never ship), then the allocations go back to available, to be
    quarantined with the rest; the orders are allocated again later from other lots."""
    from app.orders.fulfilment import cancel_shipment
    from app.orders.models import Allocation, OrderLine, Shipment, ShipmentLine
    from app.orders.operations import lock_order, refresh_status

    affected = q.affected_lot_ids(campaign.id)
    # packed shipments first, then the orders: the lock order cancelling an order uses too
    for shipment in session.scalars(
            select(Shipment).where(Shipment.status == "packed", Shipment.id.in_(
                select(ShipmentLine.shipment_id).where(ShipmentLine.lot_id.in_(affected))))
            .order_by(Shipment.id)):
        cancel_shipment(session, shipment)
    packed = (select(ShipmentLine.allocation_id).join(Shipment, Shipment.id == ShipmentLine.shipment_id)
              .where(Shipment.status == "packed", ShipmentLine.allocation_id.is_not(None)))
    candidates = list(session.execute(
        select(Allocation.id, OrderLine.order_id).join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .where(Allocation.status == "allocated", Allocation.lot_id.in_(affected), Allocation.id.not_in(packed))
        .order_by(OrderLine.order_id, Allocation.id)))
    released = 0
    for order_id in sorted({order_id for _id, order_id in candidates}):
        order = lock_order(session, order_id)  # the order lock first, as cancelling does
        lines = {line.id: line for line in order.lines}
        for allocation in session.scalars(
                select(Allocation).where(Allocation.id.in_([a for a, o in candidates if o == order_id]),
                                         Allocation.status == "allocated")
                .order_by(Allocation.id).with_for_update(of=Allocation).execution_options(populate_existing=True)):
            line = lines[allocation.order_line_id]
            move(session, "deallocation", allocation.warehouse_id, allocation.lot_id, allocation.quantity,
                 "allocated", "available", why, ("order_lines", line.id), actor_id)
            allocation.status = "released"
            line.allocated_quantity -= allocation.quantity
            released += allocation.quantity
        session.flush()
        refresh_status(session, order)
    return released


def _quarantine(session: Session, campaign: RecallCampaign, why: str, actor_id) -> int:
    """Available units of affected lots in our own (not consignment) warehouses → 隔离."""
    balances = list(session.scalars(
        select(StockBalance).join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
        .where(StockBalance.lot_id.in_(q.affected_lot_ids(campaign.id)), StockBalance.state == "available",
               StockBalance.quantity > 0, Warehouse.kind != "consignment")
        .order_by(StockBalance.warehouse_id, StockBalance.lot_id).with_for_update(of=StockBalance)))
    moved = 0
    for b in balances:
        move(session, "quarantine", b.warehouse_id, b.lot_id, b.quantity, "available", "quarantined", why,
             ("recall_campaigns", campaign.id), actor_id)
        moved += b.quantity
    return moved


def freeze_trace(session: Session, campaign: RecallCampaign, flows: list[rules.Flow] | None = None) -> int:
    """Write the live trace as ``recall_holdings`` (replacing an earlier one), from
    ``flows`` when the caller has read them already."""
    for old in session.scalars(select(RecallHolding).where(RecallHolding.campaign_id == campaign.id)):
        session.delete(old)
    session.flush()
    traced = q.live_trace(session, campaign.id, flows)
    names = q.parties(session, traced)
    for h in traced:
        party = names.get((h.holder_kind, h.holder_id))
        evidence = dict(h.evidence)
        if h.refs:
            evidence["refs"] = h.refs[:50]
        session.add(RecallHolding(
            campaign_id=campaign.id, lot_id=h.lot_id, holder_kind=h.holder_kind, quantity=h.quantity,
            warehouse_id=h.holder_id if h.holder_kind == "warehouse" else None,
            dealer_id=h.holder_id if h.holder_kind == "dealer" else None,
            hospital_id=h.holder_id if h.holder_kind == "hospital" else None,
            region_id=party.region_id if party else None, evidence=evidence))
    session.flush()
    return len(traced)


def _send_notices(session: Session, campaign: RecallCampaign, flows: list[rules.Flow]) -> int:
    """One notice per dealer and hospital of the frozen trace (its expected units), an
    e-mail to each active user of the party and an SMS to its contact phone (outbox). A
    dealer that passed affected units on but holds none gets one too (expected 0): it
    follows up its hospitals and sub-dealers. On a refresh, existing notices get the new
    expected figure and only new parties are messaged. Returns the notices sent now.

    ``flows`` is the trace ``freeze_trace`` was given. The parties and their users are read
    once before the loop and the notices flushed together: a query inside the loop would
    autoflush (and audit) one notice at a time."""
    from sqlalchemy import func

    expected: dict[tuple[int | None, int | None], tuple[int, int | None]] = {}
    for dealer_id, hospital_id, region_id, units in session.execute(
            select(RecallHolding.dealer_id, RecallHolding.hospital_id, RecallHolding.region_id,
                   func.sum(RecallHolding.quantity))
            .where(RecallHolding.campaign_id == campaign.id, RecallHolding.holder_kind != "warehouse")
            .group_by(RecallHolding.dealer_id, RecallHolding.hospital_id, RecallHolding.region_id)):
        expected[(dealer_id, hospital_id)] = (int(units), region_id)
    followers = {f.dealer_id for f in flows if f.dealer_id and (f.dealer_id, None) not in expected}
    existing = {(n.dealer_id, n.hospital_id): n for n in q.notices(session, campaign.id)}
    new = [key for key in expected if key not in existing]
    to = q.recipients(session, followers | {d for d, h in new if d}, {h for d, h in new if not d})
    for dealer_id in followers:
        expected[(dealer_id, None)] = (0, to[(dealer_id, None)].region_id)
    for key, notice in existing.items():
        if key not in expected:
            notice.expected = 0  # holds nothing any more (the trace was refreshed)
    sent = 0
    for (dealer_id, hospital_id), (units, region_id) in sorted(expected.items(),
                                                                key=lambda kv: (kv[0][0] or 0, kv[0][1] or 0)):
        if (dealer_id, hospital_id) in existing:
            existing[(dealer_id, hospital_id)].expected = units
            continue
        session.add(RecallNotice(campaign_id=campaign.id, dealer_id=dealer_id, hospital_id=hospital_id,
                                 region_id=region_id, expected=units))
        _message(session, campaign, to.get((dealer_id, None) if dealer_id else (None, hospital_id)), units)
        sent += 1
    session.flush()
    return sent


def _message(session: Session, campaign: RecallCampaign, recipient: q.Recipient | None, units: int) -> None:
    """The notice's e-mail to each active user of the party and SMS to its contact phone."""
    from app.identity.models import OutboxMessage

    subject = _("Recall %(number)s (%(cls)s): %(title)s", number=campaign.number,
                cls=campaign_class_label(campaign.classification), title=campaign.title)[:300]
    body = _("%(reason)s\n\nActions required:\n%(actions)s\n\nYou hold %(n)d affected unit(s) according to our records. "
             "Acknowledge the notice in MedChannel and report the units on hand, returned and used.")
    text_ = body % {"reason": campaign.reason, "actions": campaign.actions_required, "n": units}
    if recipient is None:
        return
    for email in recipient.emails:
        session.add(OutboxMessage(to_address=email, subject=subject, body=text_, kind="recall_notice"))
    if recipient.contact_phone:
        session.add(OutboxMessage(to_address=recipient.contact_phone, subject=subject, kind="recall_notice_sms",
                                  body=_("Recall %(number)s: %(n)d unit(s) affected. Please acknowledge in MedChannel.",
                                         number=campaign.number, n=units)))


def refresh_trace(session: Session, campaign: RecallCampaign, user) -> int:
    """Trace an active campaign again (sell-out reported since, units received later):
    quarantine what became available, replace the frozen trace, update each notice's
    expected units and notify parties that are new. Returns the number of new notices."""
    campaign = _lock(session, campaign)
    if campaign.status != "active":
        raise InvalidInput("form", _("Only an active campaign can be traced again."))
    why = _("Recall %(number)s", number=campaign.number)
    with reason(session, why, "refresh"):
        _lock_stock(session, campaign)
        _release_allocations(session, campaign, why, getattr(user, "id", None))
        _quarantine(session, campaign, why, getattr(user, "id", None))
        flows = q.flows(session, campaign.id)
        freeze_trace(session, campaign, flows)
        return _send_notices(session, campaign, flows)


def campaign_class_label(classification: int) -> str:
    return {1: _("Class I"), 2: _("Class II"), 3: _("Class III")}.get(classification, str(classification))


# --- the parties' answers ----------------------------------------------------------------------------

def _lock_notice(session: Session, notice: RecallNotice) -> RecallNotice:
    return session.scalar(select(RecallNotice).where(RecallNotice.id == notice.id).with_for_update()
                          .execution_options(populate_existing=True))


def acknowledge(session: Session, notice: RecallNotice, user) -> RecallNotice:
    """The party confirms it received the notice (once; a second time changes nothing)."""
    notice = _lock_notice(session, notice)
    if notice.campaign.status != "active":
        raise InvalidInput("form", _("This recall is closed."))
    if notice.acknowledged_at is None:
        with reason(session, _("Recall notice acknowledged"), "acknowledge"):
            notice.acknowledged_at = _now()
            notice.acknowledged_by_id = getattr(user, "id", None)
            if notice.status == "sent":
                notice.status = "acknowledged"
            session.flush()
    return notice


def report(session: Session, notice: RecallNotice, user, values: dict) -> RecallNotice:
    """The party's count of the affected units: on hand (quarantined, awaiting pick-up),
    returned, used (implanted or consumed). Acknowledges the notice too. A later report
    replaces the earlier one."""
    notice = _lock_notice(session, notice)
    if notice.campaign.status != "active":
        raise InvalidInput("form", _("This recall is closed."))
    on_hand = coerce.whole(values, "on_hand", 0, 1_000_000, default=0)
    returned = coerce.whole(values, "returned", 0, 1_000_000, default=0)
    used = coerce.whole(values, "used", 0, 1_000_000, default=0)
    note = coerce.text(values, "note", max_length=2000)
    if on_hand + returned + used < notice.expected and not note:
        raise InvalidInput("note", _("Our records show %(n)d unit(s): say where the other %(m)d went.",
                                     n=notice.expected, m=notice.expected - on_hand - returned - used))
    with reason(session, note or _("Recall notice reported"), "report"):
        now = _now()
        if notice.acknowledged_at is None:
            notice.acknowledged_at, notice.acknowledged_by_id = now, getattr(user, "id", None)
        notice.on_hand, notice.returned, notice.used, notice.note = on_hand, returned, used, note
        notice.status, notice.reported_at = "reported", now
        session.flush()
    return notice


# --- closing and the report -----------------------------------------------------------------------------

def close_campaign(session: Session, campaign: RecallCampaign, user, note: str | None = None) -> RecallCampaign:
    """Close an active campaign once every traced unit is accounted for (100 %)."""
    campaign = _lock(session, campaign)
    if campaign.status != "active":
        raise InvalidInput("form", _("Only an active campaign can be closed."))
    total, _regions = q.effectiveness(session, campaign.id)
    if not rules.complete(total):
        raise InvalidInput("form", _("%(n)d unit(s) are still unaccounted for: the campaign closes at 100 %%.",
                                     n=total.unaccounted))
    with reason(session, (note or "").strip()[:500] or _("All units accounted for"), "close"):
        campaign.status, campaign.closed_at = "closed", _now()
        session.flush()
    return campaign


def request_report(session: Session, campaign: RecallCampaign, user, request_id: str):
    """Ask for the recall report PDF (trace and acknowledgements) in the background."""
    from app.core.jobs import request_job

    if campaign.status == "draft":
        raise InvalidInput("form", _("Activate the campaign first: the report shows its frozen trace."))
    return request_job(session, RECALL_REPORT_JOB, {"campaign_id": campaign.id}, request_id, requested_by=user,
                       entity=("recall_campaigns", str(campaign.id)))
