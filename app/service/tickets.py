"""Service tickets (工单): raised by a hospital user, by the hospital's dealer or by
after-sales staff; clocked against the SLA policy of their urgency and region; assigned,
answered, worked (notes, spare parts), resolved, and confirmed with a rating — or
reopened — by the hospital. Every change is one call here, with a timeline event
(``ticket_events``) beside the audit trail.

Scope is data: a hospital user sees its hospital's tickets, a dealer user the tickets of
the hospitals it serves (``dealer_id``), manufacturer staff those of the regions they
cover (``ChannelScope``).

The warranty standing of the unit on the day the ticket is raised decides whether the
labour (``chargeable``) and the parts (``service_parts.charged``) are charged.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, and_, case, cast, false, func, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from app.channel.models import Hospital, Region
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.numbering import assign_number
from app.core.pagination import Page, keyset_page
from app.core.settings import setting
from app.service import sla
from app.service.installed import STANDING_LABELS
from app.service.models import URGENCIES, InstalledUnit, ServiceTicket, SlaPolicy, TicketEvent

#: manufacturer roles that work tickets (assign, answer, resolve) and that see every one
WORKERS = ("admin", "after_sales")
#: manufacturer roles that may read tickets (regional managers: their regions)
VIEWERS = ("admin", "after_sales", "regional_manager", "channel_manager", "qa_ra")
#: dealer roles that raise and work tickets for the dealer's hospitals
DEALER_ROLES = ("dealer_owner", "dealer_sales")
ACTIVE = ("open", "assigned", "in_progress")
MAX_PHOTOS = 5

#: targets when a tenant has no policy for an urgency: (response, resolution) minutes, around the clock
DEFAULT_TARGETS = {"critical": (120, 24 * 60), "high": (4 * 60, 48 * 60), "normal": (8 * 60, 5 * 24 * 60),
                   "low": (24 * 60, 10 * 24 * 60)}


def urgency_labels() -> dict:
    return {"critical": _l("Critical"), "high": _l("High"), "normal": _l("Normal"), "low": _l("Low")}


def status_labels() -> dict:
    return {"open": _l("Awaiting response"), "assigned": _l("Assigned"), "in_progress": _l("In progress"),
            "resolved": _l("Resolved"), "confirmed": _l("Confirmed"), "cancelled": _l("Cancelled")}


def event_labels() -> dict:
    return {"raised": _l("Raised"), "assigned": _l("Assigned"), "responded": _l("Answered"), "note": _l("Note"),
            "part_used": _l("Spare part used"), "escalated": _l("Escalated"), "resolved": _l("Resolved"),
            "reopened": _l("Reopened"), "confirmed": _l("Confirmed by the hospital"), "cancelled": _l("Cancelled")}


# --- SLA policies -------------------------------------------------------------------------------

def service_hours(session: Session) -> sla.ServiceHours:
    """The tenant's service hours (settings), for policies that count business hours."""
    try:
        return sla.ServiceHours(setting(session, "service_hours_start"), setting(session, "service_hours_end"),
                                setting(session, "service_weekdays"))
    except ValueError:
        return sla.ServiceHours()


def policies(session: Session) -> list[SlaPolicy]:
    order = case({u: i for i, u in enumerate(URGENCIES)}, value=SlaPolicy.urgency)
    return list(session.scalars(select(SlaPolicy).outerjoin(Region, Region.id == SlaPolicy.region_id)
                                .options(contains_eager(SlaPolicy.region))
                                .order_by(SlaPolicy.region_id.is_not(None), Region.path, order)))


def policy_for(session: Session, urgency: str, region_id: int | None) -> SlaPolicy | None:
    """The policy for ``urgency`` in the region or its nearest ancestor that has one,
    else the one for every region."""
    path = session.scalar(select(Region.path).where(Region.id == region_id)) if region_id else None
    candidates = session.scalars(select(SlaPolicy).outerjoin(Region, Region.id == SlaPolicy.region_id)
                                 .options(contains_eager(SlaPolicy.region)).where(SlaPolicy.urgency == urgency)
                                 .order_by(func.length(func.coalesce(Region.path, "")).desc())).all()
    for policy in candidates:
        if policy.region_id is None or (path and path.startswith(policy.region.path)):
            return policy
    return None


def targets(session: Session, urgency: str, region_id: int | None, raised_at: datetime) -> tuple[datetime, datetime]:
    """(response due, resolution due) for a ticket raised at ``raised_at``."""
    policy = policy_for(session, urgency, region_id)
    if policy is None:
        response, resolution = DEFAULT_TARGETS[urgency]
        hours = None
    else:
        response, resolution = policy.response_minutes, policy.resolution_minutes
        hours = service_hours(session) if policy.business_hours else None
    return sla.due_at(raised_at, response, hours), sla.due_at(raised_at, resolution, hours)


def save_policy(session: Session, values: dict) -> SlaPolicy:
    """Add or change the policy of one urgency and region (hours in the form, minutes stored)."""
    urgency = coerce.choice(values, "urgency", URGENCIES)
    region_id = coerce.ident(values, "region_id")
    if region_id is not None and session.get(Region, region_id) is None:
        raise InvalidInput("region_id", _("Choose a valid option."))
    response = _hours(values, "response_hours")
    resolution = _hours(values, "resolution_hours")
    if resolution < response:
        raise InvalidInput("resolution_hours", _("The resolution target cannot be shorter than the response target."))
    policy = session.scalar(select(SlaPolicy).where(SlaPolicy.urgency == urgency, SlaPolicy.region_id.is_(None)
                                                    if region_id is None else SlaPolicy.region_id == region_id))
    if policy is None:
        policy = SlaPolicy(urgency=urgency, region_id=region_id)
        session.add(policy)
    policy.response_minutes, policy.resolution_minutes = response, resolution
    policy.business_hours = coerce.flag(values, "business_hours")
    session.flush()
    return policy


def _hours(values: dict, field: str) -> int:
    """A target in hours (up to two decimals), as whole minutes."""
    raw = str(values.get(field) or "").strip()
    try:
        hours = Decimal(raw)
    except Exception:
        hours = None
    if hours is None or not hours.is_finite() or not Decimal("0.25") <= hours <= Decimal("2000"):
        raise InvalidInput(field, _("Enter a number of hours from 0.25 to 2000."))
    return int((hours * 60).to_integral_value())


def _clock_time(values: dict, field: str) -> int:
    raw = str(values.get(field) or "").strip()
    hh, sep, mm = raw.partition(":")
    if not (sep and hh.isdigit() and mm.isdigit() and len(mm) == 2 and 0 <= int(hh) <= 24 and int(mm) < 60):
        raise InvalidInput(field, _("Enter a time such as 08:30."))
    minute = int(hh) * 60 + int(mm)
    if minute > sla.DAY_MINUTES:
        raise InvalidInput(field, _("Enter a time such as 08:30."))
    return minute


def save_service_hours(session: Session, values: dict) -> sla.ServiceHours:
    """The service desk's hours (opens, closes, weekdays): what business-hours policies count."""
    from app.core.settings import put_setting

    opens, closes = _clock_time(values, "opens"), _clock_time(values, "closes")
    if closes <= opens:
        raise InvalidInput("closes", _("The desk must close after it opens."))
    days = values.get("weekdays") or []
    days = [days] if isinstance(days, str) else days
    mask = 0
    for d in days:
        if str(d) not in ("0", "1", "2", "3", "4", "5", "6"):
            raise InvalidInput("weekdays", _("Choose a valid option."))
        mask |= 1 << int(d)
    if not mask:
        raise InvalidInput("weekdays", _("Choose at least one day."))
    put_setting(session, "service_hours_start", opens)
    put_setting(session, "service_hours_end", closes)
    put_setting(session, "service_weekdays", mask)
    return sla.ServiceHours(opens, closes, mask)


def delete_policy(session: Session, policy: SlaPolicy) -> None:
    session.delete(policy)
    session.flush()


# --- scope ----------------------------------------------------------------------------------------

def _scope(stmt, user):
    if user.portal == "hospital":
        return stmt.where(ServiceTicket.hospital_id == user.hospital_id)
    if user.portal == "dealer":
        return stmt.where(ServiceTicket.dealer_id == user.dealer_id)
    if not user.has_role(*VIEWERS):
        return stmt.where(false())
    from app.channel.queries import ChannelScope

    clause = ChannelScope.of(user).regions_clause(ServiceTicket.region_id)
    return stmt if clause is None else stmt.where(clause)


def ticket_for(session: Session, user, ticket_id: int) -> ServiceTicket | None:
    return session.scalar(_scope(select(ServiceTicket).where(ServiceTicket.id == ticket_id), user))


def may_work(user, ticket: ServiceTicket) -> bool:
    """Assign, answer, add notes and parts, resolve: after-sales, or the ticket's dealer."""
    if ticket.status not in ACTIVE:
        return False
    if user.portal == "manufacturer":
        return user.has_role(*WORKERS)
    return user.portal == "dealer" and user.has_role(*DEALER_ROLES) and ticket.dealer_id == user.dealer_id


def may_confirm(user, ticket: ServiceTicket) -> bool:
    return ticket.status == "resolved" and user.portal == "hospital" and ticket.hospital_id == user.hospital_id


def may_raise(user) -> bool:
    if user.portal == "manufacturer":
        return user.has_role(*WORKERS)
    if user.portal == "dealer":
        return user.has_role(*DEALER_ROLES)
    return user.portal == "hospital"


def hospitals_for(session: Session, user) -> list[Hospital]:
    """The hospitals the user may raise a ticket for."""
    stmt = select(Hospital).where(Hospital.status == "active")
    if user.portal == "hospital":
        stmt = stmt.where(Hospital.id == user.hospital_id)
    elif user.portal == "dealer":
        stmt = stmt.where(Hospital.serving_dealer_id == user.dealer_id)
    return list(session.scalars(stmt.order_by(Hospital.code)))


def units_of(session: Session, hospital_id: int) -> list[InstalledUnit]:
    return list(session.scalars(select(InstalledUnit).where(InstalledUnit.hospital_id == hospital_id,
                                                            InstalledUnit.status == "active")
                                .options(joinedload(InstalledUnit.sku))
                                .order_by(InstalledUnit.department, InstalledUnit.serial_no)))


def assignees(session: Session) -> list:
    """Manufacturer users who work tickets."""
    from app.identity.models import User

    return list(session.scalars(select(User).where(User.portal == "manufacturer", User.active.is_(True),
                                                   User.roles.overlap(list(WORKERS))).order_by(User.name)))


# --- lists ------------------------------------------------------------------------------------------

def _list_columns():
    from app.catalog.models import Sku

    return (select(ServiceTicket.id, ServiceTicket.number, ServiceTicket.title, ServiceTicket.status,
                   ServiceTicket.urgency, ServiceTicket.created_at, ServiceTicket.response_due_at,
                   ServiceTicket.resolution_due_at, ServiceTicket.responded_at, ServiceTicket.resolved_at,
                   ServiceTicket.escalation_level, ServiceTicket.warranty_standing, ServiceTicket.rating,
                   Hospital.name.label("hospital_name"), Region.name.label("region_name"),
                   InstalledUnit.serial_no, Sku.name.label("sku_name"))
            .join(Hospital, Hospital.id == ServiceTicket.hospital_id)
            .join(Region, Region.id == ServiceTicket.region_id)
            .outerjoin(InstalledUnit, InstalledUnit.id == ServiceTicket.unit_id)
            .outerjoin(Sku, Sku.id == InstalledUnit.sku_id))


def tickets_page(session: Session, user, cursor: str | None, status: str = "", urgency: str = "",
                 region_id: int | None = None, overdue: bool = False, now: datetime | None = None) -> Page:
    """A page of tickets in the user's scope. ``status`` "" or "active": the queue, most
    urgent due time first; any other status (or "all"), newest first."""
    now = now or datetime.now(timezone.utc)
    stmt = _scope(_list_columns(), user)
    if urgency in URGENCIES:
        stmt = stmt.where(ServiceTicket.urgency == urgency)
    if region_id:
        from app.channel.queries import _subtree_ids

        stmt = stmt.where(ServiceTicket.region_id.in_(_subtree_ids(region_id)))
    if overdue:
        stmt = stmt.where(ServiceTicket.status.in_(ACTIVE), or_(
            and_(ServiceTicket.responded_at.is_(None), ServiceTicket.response_due_at < now),
            ServiceTicket.resolution_due_at < now))
    if status in ("", "active"):
        # the queue runs by due time; the cursor carries it as whole epoch seconds (a
        # cursor is JSON), tickets without a due time last
        due_key = cast(func.coalesce(func.floor(func.extract("epoch", ServiceTicket.resolution_due_at)), 2**53),
                       BigInteger)
        stmt = stmt.add_columns(due_key.label("due_key")).where(ServiceTicket.status.in_(ACTIVE))
        return keyset_page(session, stmt, (due_key, ServiceTicket.id), lambda r: (r.due_key, r.id), cursor,
                           entities=False)
    if status in status_labels():
        stmt = stmt.where(ServiceTicket.status == status)
    return keyset_page(session, stmt, (ServiceTicket.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def ticket_counts(session: Session, user) -> dict[str, int]:
    """Tickets in the user's scope by status (active ones and those awaiting confirmation)."""
    stmt = _scope(select(ServiceTicket.status, func.count()).where(ServiceTicket.status.in_((*ACTIVE, "resolved")))
                  .group_by(ServiceTicket.status), user)
    counts = dict(session.execute(stmt).all())
    return {"active": sum(counts.get(s, 0) for s in ACTIVE), "resolved": counts.get("resolved", 0)}


def tickets_of_unit(session: Session, user, unit_id: int, limit: int = 10) -> list[ServiceTicket]:
    """The unit's latest tickets in the user's scope, newest first."""
    return list(session.scalars(_scope(select(ServiceTicket).where(ServiceTicket.unit_id == unit_id), user)
                                .order_by(ServiceTicket.id.desc()).limit(limit)))


def timeline(session: Session, ticket: ServiceTicket) -> list:
    from app.identity.models import User

    return session.execute(select(TicketEvent, User.name.label("actor_name"))
                           .outerjoin(User, User.id == TicketEvent.actor_id)
                           .where(TicketEvent.ticket_id == ticket.id)
                           .order_by(TicketEvent.at, TicketEvent.id)).all()


# --- writes -------------------------------------------------------------------------------------------

def _event(session: Session, ticket: ServiceTicket, kind: str, user, note: str | None = None, at: datetime | None = None,
           **data) -> TicketEvent:
    event = TicketEvent(ticket_id=ticket.id, kind=kind, actor_id=getattr(user, "id", None), note=note,
                        data=data or None)
    if at is not None:
        event.at = at
    session.add(event)
    return event


def _lock(session: Session, ticket: ServiceTicket) -> ServiceTicket:
    """Lock and reread the ticket: of two changes racing (a double submit, a confirm and
    a reopen) the second waits and then sees the first's."""
    session.scalar(select(ServiceTicket).where(ServiceTicket.id == ticket.id).with_for_update(of=ServiceTicket)
                   .execution_options(populate_existing=True))
    return ticket


def charges(unit: InstalledUnit | None, day: date) -> tuple[str, bool, bool]:
    """(warranty standing, labour charged, parts charged) of a repair on ``unit`` on
    ``day``: what the warranty or service contract does not cover is charged. A ticket
    with no unit, or a unit whose warranty is unknown, charges nothing until after-sales
    settles it."""
    from app.service.rules import covered, warranty_standing

    standing = warranty_standing(unit, day)
    if standing == "unknown":
        return standing, False, False
    parts_covered, labour_covered = covered(unit, day)
    return standing, not labour_covered, not parts_covered


def _text(values: dict, field: str, max_length: int, required: bool = True) -> str | None:
    return coerce.text(values, field, required=required, max_length=max_length)


def _photos(uploads) -> list[tuple[str, bytes, str, str]]:
    from app.channel.operations import check_scan

    out = []
    for name, data in [u for u in (uploads or []) if u and u[1]]:
        try:
            ext, content_type = check_scan((name, data))
        except InvalidInput as err:
            raise InvalidInput("photos", err.message) from None
        if ext not in ("jpg", "png"):
            raise InvalidInput("photos", _("Photos must be JPEG or PNG images."))
        out.append((name, data, ext, content_type))
    if len(out) > MAX_PHOTOS:
        raise InvalidInput("photos", _("At most %(n)d photos per ticket.", n=MAX_PHOTOS))
    return out


def raise_ticket(session: Session, user, values: dict, uploads=None, now: datetime | None = None) -> ServiceTicket:
    """A hospital, its dealer or after-sales raises a ticket: the hospital (a hospital
    user's own), the unit (one of the hospital's, optional), urgency, title, fault
    description and up to five photos. The SLA targets and the warranty standing are
    frozen now."""
    from app.compliance.uploads import store_upload

    now = now or datetime.now(timezone.utc)
    if not may_raise(user):
        raise InvalidInput("form", _("You may not raise service tickets."))
    allowed = {h.id: h for h in hospitals_for(session, user)}
    hospital_id = user.hospital_id if user.portal == "hospital" else coerce.ident(values, "hospital_id", required=True)
    hospital = allowed.get(hospital_id)
    if hospital is None:
        raise InvalidInput("hospital_id", _("Choose a hospital you serve."))
    unit = None
    unit_id = coerce.ident(values, "unit_id")
    if unit_id is not None:
        unit = session.get(InstalledUnit, unit_id)
        if unit is None or unit.hospital_id != hospital.id:
            raise InvalidInput("unit_id", _("Choose one of this hospital's installed units."))
    urgency = coerce.choice(values, "urgency", URGENCIES, default="normal")
    title = _text(values, "title", 200)
    description = _text(values, "description", 4000)
    photos = _photos(uploads)
    standing, labour_charged, _parts = charges(unit, now.astimezone(sla.SHANGHAI).date())
    response_due, resolution_due = targets(session, urgency, hospital.region_id, now)
    ticket = ServiceTicket(hospital_id=hospital.id, unit_id=unit.id if unit else None,
                           dealer_id=user.dealer_id if user.portal == "dealer" else (
                               (unit.dealer_id if unit and unit.dealer_id else None) or hospital.serving_dealer_id),
                           region_id=hospital.region_id, raised_via=user.portal, raised_by_id=user.id, urgency=urgency,
                           title=title, description=description, status="open", warranty_standing=standing,
                           chargeable=labour_charged, response_due_at=response_due, resolution_due_at=resolution_due,
                           created_at=now)
    assign_number(session, ticket, "TK", now.astimezone(sla.SHANGHAI).date())
    session.add(ticket)
    session.flush()
    ids = [store_upload(session, name, data, ext, content_type, ("service_tickets", ticket.id), ticket.dealer_id, user,
                        default_name="photo", hospital_id=hospital.id).id for name, data, ext, content_type in photos]
    ticket.photo_ids = ids
    _event(session, ticket, "raised", user, description[:500], at=now, urgency=urgency, standing=standing)
    session.flush()
    return ticket


def _responds(ticket: ServiceTicket, user, now: datetime) -> None:
    """The service side's first act on a ticket answers it (stops the response clock)."""
    if ticket.responded_at is None and user.portal in ("manufacturer", "dealer"):
        ticket.responded_at = now


def _require_work(user, ticket: ServiceTicket) -> None:
    if not may_work(user, ticket):
        raise InvalidInput("form", _("This ticket cannot be worked on any more, or not by you."))


def assign(session: Session, ticket: ServiceTicket, user, assignee_id, note: str | None = None,
           now: datetime | None = None) -> ServiceTicket:
    now = now or datetime.now(timezone.utc)
    _lock(session, ticket)
    if not (user.portal == "manufacturer" and may_work(user, ticket)):
        raise InvalidInput("form", _("This ticket cannot be worked on any more, or not by you."))
    assignee_id = coerce.ident({"assigned_to_id": assignee_id}, "assigned_to_id", required=True)
    assignee = next((u for u in assignees(session) if u.id == assignee_id), None)
    if assignee is None:
        raise InvalidInput("assigned_to_id", _("Choose an after-sales engineer."))
    ticket.assigned_to_id = assignee.id
    if ticket.status == "open":
        ticket.status = "assigned"
    _responds(ticket, user, now)
    _event(session, ticket, "assigned", user, (note or "").strip()[:1000] or None, at=now, assignee=assignee.name)
    session.flush()
    return ticket


def add_note(session: Session, ticket: ServiceTicket, user, note: str, now: datetime | None = None) -> ServiceTicket:
    """A note from the service side answers the ticket and moves it into progress; a
    hospital user may add a note to its open ticket too (more detail, a question)."""
    now = now or datetime.now(timezone.utc)
    _lock(session, ticket)
    text_ = _text({"note": note}, "note", 2000)
    if user.portal == "hospital":
        if ticket.hospital_id != user.hospital_id or ticket.status not in ACTIVE:
            raise InvalidInput("note", _("This ticket is closed for notes."))
        _event(session, ticket, "note", user, text_, at=now)
    else:
        _require_work(user, ticket)
        first = ticket.responded_at is None
        _responds(ticket, user, now)
        if ticket.status in ("open", "assigned"):
            ticket.status = "in_progress"
        _event(session, ticket, "responded" if first else "note", user, text_, at=now)
    session.flush()
    return ticket


def available_parts(session: Session, limit: int = 300) -> list:
    """Stock a ticket can draw spare parts from: available lots in the manufacturer's own
    active warehouses (not consignment, not expired, not under recall), by product and
    first expiry."""
    from app.catalog.models import Sku
    from app.inventory.models import Lot, StockBalance, Warehouse
    from app.service.recall_queries import blocked_lot_ids

    rows = session.execute(
        select(StockBalance.warehouse_id, StockBalance.lot_id, StockBalance.quantity, Sku.code, Sku.name,
               Lot.lot_no, Lot.serial_no, Lot.expires_on, Warehouse.code.label("warehouse_code"))
        .join(Lot, Lot.id == StockBalance.lot_id).join(Sku, Sku.id == Lot.sku_id)
        .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
        .where(StockBalance.state == "available", StockBalance.quantity > 0, Warehouse.status == "active",
               Warehouse.kind != "consignment", or_(Lot.expires_on.is_(None), Lot.expires_on >= shanghai_today()),
               Lot.id.not_in(blocked_lot_ids()))
        .order_by(Sku.code, Lot.expires_on.nulls_last(), Lot.id, Warehouse.code).limit(limit)).all()
    return [{"warehouse_id": r.warehouse_id, "lot_id": r.lot_id,
             "label": f"{r.code} {r.name} · {r.lot_no or r.serial_no} · {r.warehouse_code} · {r.quantity}"}
            for r in rows]


PART_FIELDS = {"quantity": "quantity", "unit_price": "price"}


def use_ticket_parts(session: Session, ticket: ServiceTicket, user, lines: list[dict],
                     now: datetime | None = None) -> list:
    """Spare parts used on the ticket: taken from stock (``app.service.parts.use_parts``,
    a ``service_use`` movement per lot), charged at the price entered when the unit's
    warranty standing on the day the ticket was raised does not cover parts. ``lines``:
    ``{"warehouse_id", "lot_id", "quantity", "unit_price"}`` each."""
    from app.catalog.models import Sku
    from app.inventory.models import Lot
    from app.service.parts import PartLine, PartsRefused, use_parts

    now = now or datetime.now(timezone.utc)
    _lock(session, ticket)
    if not (user.portal == "manufacturer" and may_work(user, ticket)):
        raise InvalidInput("form", _("This ticket cannot be worked on any more, or not by you."))
    _standing, _labour, parts_charged = charges(ticket.unit, ticket.created_at.astimezone(sla.SHANGHAI).date())
    part_lines = []
    for row, line in enumerate(lines):
        lot = session.get(Lot, line["lot_id"])
        if lot is None:
            raise InvalidInput(f"stock-{row}", _("Choose a valid option."))
        price = None
        if parts_charged:
            price = coerce.money({f"price-{row}": line.get("unit_price")}, f"price-{row}", required=True)
        part_lines.append(PartLine(sku_id=lot.sku_id, quantity=line["quantity"], warehouse_id=line["warehouse_id"],
                                   lot_id=lot.id, unit_price=price))
    try:
        used = use_parts(session, ticket=ticket, lines=part_lines, actor_id=user.id, charged=parts_charged)
    except PartsRefused as err:
        raise InvalidInput(f"{PART_FIELDS.get(err.field, 'stock')}-{err.row}", err.message) from None
    for part in used:
        sku = session.get(Sku, part.sku_id)
        _event(session, ticket, "part_used", user, None, at=now, sku=sku.code, lot_id=part.lot_id,
               quantity=part.quantity, charged=part.charged, unit_price=str(part.unit_price))
    _responds(ticket, user, now)
    if ticket.status in ("open", "assigned"):
        ticket.status = "in_progress"
    session.flush()
    return used


def resolve(session: Session, ticket: ServiceTicket, user, values: dict, now: datetime | None = None) -> ServiceTicket:
    """The engineer's resolution: what was found and done (and the labour amount when
    the standing charges labour). The hospital then confirms or reopens."""
    from app.identity.models import OutboxMessage, User

    now = now or datetime.now(timezone.utc)
    _lock(session, ticket)
    _require_work(user, ticket)
    resolution = _text(values, "resolution", 4000)
    raw = str(values.get("labour_amount") or "").strip()
    labour = Decimal("0.00") if raw in ("", "0", "0.0", "0.00") else coerce.money(values, "labour_amount")
    if labour and not ticket.chargeable:
        raise InvalidInput("labour_amount", _("Labour is covered for this unit; leave the amount at zero."))
    ticket.resolution, ticket.labour_amount = resolution, labour
    _responds(ticket, user, now)
    ticket.status, ticket.resolved_at = "resolved", now
    _event(session, ticket, "resolved", user, resolution[:1000], at=now, labour_amount=str(labour))
    raiser = session.get(User, ticket.raised_by_id) if ticket.raised_by_id else None
    if raiser is not None and raiser.portal == "hospital" and raiser.active:
        session.add(OutboxMessage(to_address=raiser.email, kind="ticket_resolved",
                                  subject=_("Service ticket %(number)s resolved: please confirm", number=ticket.number)[:300],
                                  body=_("%(title)s\n\n%(resolution)s\n\nPlease confirm and rate the service, or reopen the ticket.",
                                         title=ticket.title, resolution=resolution)))
    session.flush()
    return ticket


def confirm(session: Session, ticket: ServiceTicket, user, values: dict, now: datetime | None = None) -> ServiceTicket:
    """The hospital confirms the fix and rates the service (1–5)."""
    now = now or datetime.now(timezone.utc)
    _lock(session, ticket)
    if not may_confirm(user, ticket):
        raise InvalidInput("form", _("Only the hospital can confirm a resolved ticket."))
    rating = coerce.whole(values, "rating", 1, 5, required=True)
    ticket.rating, ticket.rating_comment = rating, _text(values, "rating_comment", 1000, required=False)
    ticket.status, ticket.confirmed_at = "confirmed", now
    _event(session, ticket, "confirmed", user, ticket.rating_comment, at=now, rating=rating)
    session.flush()
    return ticket


def reopen(session: Session, ticket: ServiceTicket, user, values: dict, now: datetime | None = None) -> ServiceTicket:
    """The hospital says the fault is not fixed: back in progress, resolution clock running again
    against the original target (a reopened ticket is late if that has passed)."""
    now = now or datetime.now(timezone.utc)
    _lock(session, ticket)
    if not may_confirm(user, ticket):
        raise InvalidInput("form", _("Only the hospital can reopen a resolved ticket."))
    why = _text(values, "reopen_reason", 1000)
    with reason(session, why, "reopen"):
        ticket.status, ticket.resolved_at = "in_progress", None
        _event(session, ticket, "reopened", user, why, at=now)
        session.flush()
    return ticket


def cancel(session: Session, ticket: ServiceTicket, user, values: dict, now: datetime | None = None) -> ServiceTicket:
    """Withdrawn by the hospital that raised it, or closed by after-sales (a duplicate)."""
    now = now or datetime.now(timezone.utc)
    _lock(session, ticket)
    own = user.portal == "hospital" and ticket.hospital_id == user.hospital_id
    if ticket.status not in ACTIVE or not (own or (user.portal == "manufacturer" and user.has_role(*WORKERS))):
        raise InvalidInput("form", _("This ticket cannot be cancelled."))
    why = _text(values, "cancel_reason", 1000)
    with reason(session, why, "cancel"):
        ticket.status = "cancelled"
        _event(session, ticket, "cancelled", user, why, at=now)
        session.flush()
    return ticket


# --- escalation -----------------------------------------------------------------------------------------

def _escalation_staff(session: Session) -> list:
    """(email, roles, region paths) of the manufacturer staff escalations may go to."""
    from app.identity.models import User

    users = session.scalars(select(User).where(User.portal == "manufacturer", User.active.is_(True),
                                               User.roles.overlap(["after_sales", "regional_manager", "admin"]))
                           .options(selectinload(User.regions))).all()
    return [(u.email, set(u.roles), [r.path for r in u.regions]) for u in users]


def _escalation_recipients(staff: list, path: str, level: int) -> list[str]:
    """Level 1: after-sales; 2: also the regional managers covering the ticket's region; 3: also the admins."""
    out = set()
    for email, roles, paths in staff:
        if "after_sales" in roles or (level >= 3 and "admin" in roles) or (
                level >= 2 and "regional_manager" in roles and any(path.startswith(p) for p in paths)):
            out.add(email)
    return sorted(out)


def escalate_overdue(session: Session, now: datetime | None = None) -> int:
    """Raise the escalation level of every active ticket whose targets have passed
    (``sla.escalation_level``), with a timeline event and mail to the people of the new
    level. Never lowers a level; safe to run any number of times."""
    from app.identity.models import OutboxMessage

    now = now or datetime.now(timezone.utc)
    due = session.scalars(select(ServiceTicket).where(
        ServiceTicket.status.in_(ACTIVE), ServiceTicket.escalation_level < sla.MAX_ESCALATION,
        or_(and_(ServiceTicket.responded_at.is_(None), ServiceTicket.response_due_at < now),
            ServiceTicket.resolution_due_at < now))
        .options(selectinload(ServiceTicket.hospital))
        .order_by(ServiceTicket.id).with_for_update(of=ServiceTicket, skip_locked=True)).all()
    if not due:
        return 0
    staff = _escalation_staff(session)
    paths = dict(session.execute(select(Region.id, Region.path)).all())
    urgencies = urgency_labels()
    raised = 0
    for ticket in due:
        level = sla.escalation_level(now, ticket.created_at, ticket.response_due_at, ticket.responded_at,
                                     ticket.resolution_due_at, ticket.resolved_at)
        if level <= ticket.escalation_level:
            continue
        ticket.escalation_level, ticket.escalated_at = level, now
        _event(session, ticket, "escalated", None, None, at=now, level=level)
        what = _("no answer yet") if level == 1 else _("not resolved in time")
        subject = _("Escalation %(level)d: service ticket %(number)s, %(what)s", level=level, number=ticket.number,
                    what=what)[:300]
        body = _("%(hospital)s: %(title)s (urgency %(urgency)s).", hospital=ticket.hospital.name, title=ticket.title,
                 urgency=str(urgencies[ticket.urgency]))
        for address in _escalation_recipients(staff, paths.get(ticket.region_id, ""), level):
            session.add(OutboxMessage(to_address=address, kind="ticket_escalated", subject=subject, body=body))
        raised += 1
    session.flush()
    return raised


# --- region view ---------------------------------------------------------------------------------------

def region_times(session: Session, user, since: date, until: date, now: datetime | None = None) -> list:
    """Per area (京津冀, 华东, 华南 …): tickets raised between ``since`` and ``until``
    (Shanghai days, inclusive), median response and resolution times in minutes, and
    the share of targets met among those that have come due or been met."""
    from datetime import timedelta

    now = now or datetime.now(timezone.utc)
    start = datetime.combine(since, datetime.min.time(), sla.SHANGHAI)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), sla.SHANGHAI)
    area = Region.__table__.alias("area")
    city = Region.__table__.alias("city")
    t = ServiceTicket
    response_min = func.extract("epoch", t.responded_at - t.created_at) / 60
    resolution_min = func.extract("epoch", t.resolved_at - t.created_at) / 60
    resp_counted = or_(t.responded_at.is_not(None), t.response_due_at < now)
    resp_met = t.responded_at <= t.response_due_at
    res_counted = and_(t.status != "cancelled", or_(t.resolved_at.is_not(None), t.resolution_due_at < now))
    res_met = t.resolved_at <= t.resolution_due_at
    stmt = (select(area.c.id, area.c.name, area.c.name_en,
                   func.count(t.id).label("tickets"),
                   func.count(t.id).filter(t.status.in_(ACTIVE)).label("active"),
                   func.percentile_cont(0.5).within_group(response_min).label("median_response"),
                   func.percentile_cont(0.5).within_group(resolution_min).label("median_resolution"),
                   func.count(t.id).filter(resp_counted).label("response_counted"),
                   func.count(t.id).filter(resp_met).label("response_met"),
                   func.count(t.id).filter(res_counted).label("resolution_counted"),
                   func.count(t.id).filter(res_met).label("resolution_met"),
                   func.avg(t.rating).label("rating"))
            .select_from(t)
            .join(city, city.c.id == t.region_id)
            .join(area, and_(area.c.level == 1, city.c.path.startswith(area.c.path)))
            .where(t.created_at >= start, t.created_at < end)
            .group_by(area.c.id, area.c.name, area.c.name_en).order_by(area.c.id))
    rows = []
    for r in session.execute(_scope(stmt, user)).all():
        rows.append({**r._asdict(),
                     "response_pct": _pct(r.response_met, r.response_counted),
                     "resolution_pct": _pct(r.resolution_met, r.resolution_counted)})
    return rows


def _pct(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


# --- export of the manufacturer's ticket list ---------------------------------------------------------

def _export_rows(session: Session, user, params: dict):
    from app.compliance.exports import choice_param, id_param, walk_batches

    now = datetime.now(timezone.utc)
    status = choice_param(params, "status", ("all", *status_labels()))
    urgency = choice_param(params, "urgency", URGENCIES)
    region_id, overdue = id_param(params, "region"), params.get("overdue") == "1"
    statuses, urgencies, standings = status_labels(), urgency_labels(), STANDING_LABELS

    def minutes(start, end):
        return None if start is None or end is None else int((end - start).total_seconds() // 60)

    for items in walk_batches(lambda cursor: tickets_page(session, user, cursor, status, urgency, region_id, overdue, now)):
        for r in items:
            yield [r.number, r.title, r.hospital_name, r.region_name, r.sku_name, r.serial_no, str(urgencies[r.urgency]),
                   str(statuses[r.status]), str(standings[r.warranty_standing]), r.created_at.astimezone(sla.SHANGHAI),
                   r.response_due_at.astimezone(sla.SHANGHAI) if r.response_due_at else None,
                   minutes(r.created_at, r.responded_at), r.resolution_due_at.astimezone(sla.SHANGHAI)
                   if r.resolution_due_at else None, minutes(r.created_at, r.resolved_at), r.escalation_level, r.rating]


def _register_export():
    from app.compliance.exports import register_export

    register_export("service_tickets", _l("Service tickets"), VIEWERS,
                    (_l("Ticket"), _l("Fault"), _l("Hospital"), _l("Region"), _l("Equipment"), _l("Serial no."),
                     _l("Urgency"), _l("Status"), _l("Warranty"), _l("Raised"), _l("Response due"),
                     _l("Response minutes"), _l("Resolution due"), _l("Resolution minutes"), _l("Escalation level"),
                     _l("Rating")),
                    _export_rows, params=("status", "urgency", "region", "overdue"))


_register_export()
