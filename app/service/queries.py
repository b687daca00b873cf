"""Reads of the installed base and the maintenance calendar, scoped by the acting user:
a hospital sees its own units and visits; a dealer the units it sold or services and the
visits of those units or assigned to it; a regional manager the hospitals of its regions;
other after-sales viewers everything."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.channel.queries import ChannelScope
from app.core.pagination import Page, keyset_page
from app.identity.models import User
from app.service.installed import is_equipment
from app.service.models import InstalledUnit, ServicePlan, ServiceVisit

#: manufacturer roles that see the installed base and the maintenance calendar
SERVICE_VIEWERS = ("admin", "channel_manager", "regional_manager", "qa_ra", "after_sales")


def standing_column(day: date):
    """``warranty_standing`` in SQL (same rule as ``app.service.rules``) for filters."""
    u = InstalledUnit
    return case(
        (and_(u.warranty_end.is_not(None), u.warranty_end >= day), literal("warranty")),
        (and_(u.contract_start.is_not(None), u.contract_end.is_not(None), u.contract_start <= day,
              u.contract_end >= day), literal("contract")),
        (u.warranty_end.is_not(None), literal("out_of_warranty")),
        else_=literal("unknown"))


def _dealer_units(dealer_id: int):
    """Units a dealer may see: sold/serviced by it, or with a plan assigned to it."""
    return or_(InstalledUnit.dealer_id == dealer_id,
               exists().where(ServicePlan.unit_id == InstalledUnit.id, ServicePlan.dealer_id == dealer_id))


def scope_units(stmt, user):
    """Limit a statement joined to ``InstalledUnit`` and ``Hospital`` to the user's reach."""
    scope = ChannelScope.of(user)
    if scope.hospital_id is not None:
        return stmt.where(InstalledUnit.hospital_id == scope.hospital_id)
    if scope.dealer_id is not None:
        return stmt.where(_dealer_units(scope.dealer_id))
    clause = scope.regions_clause(Hospital.region_id)
    return stmt if clause is None else stmt.where(clause)


@dataclass
class UnitFilter:
    q: str = ""
    standing: str = ""
    sku_id: int | None = None
    hospital_id: int | None = None
    status: str = "active"
    region_id: int | None = None


def units_page(session: Session, user, flt: UnitFilter, cursor: str | None, day: date) -> Page:
    standing = standing_column(day).label("standing")
    stmt = (select(InstalledUnit.id, InstalledUnit.serial_no, InstalledUnit.department, InstalledUnit.installed_on,
                   InstalledUnit.warranty_end, InstalledUnit.contract_no, InstalledUnit.contract_end,
                   InstalledUnit.status, Sku.code.label("sku_code"), Sku.name.label("sku_name"),
                   Sku.specification, Hospital.name.label("hospital_name"), Dealer.name.label("dealer_name"), standing)
            .join(Sku, Sku.id == InstalledUnit.sku_id).join(Hospital, Hospital.id == InstalledUnit.hospital_id)
            .outerjoin(Dealer, Dealer.id == InstalledUnit.dealer_id))
    stmt = scope_units(stmt, user)
    if flt.q.strip():
        like = f"%{flt.q.strip()}%"
        stmt = stmt.where(or_(InstalledUnit.serial_no.ilike(like), Sku.code.ilike(like), Sku.name.ilike(like),
                              Hospital.name.ilike(like), InstalledUnit.department.ilike(like)))
    if flt.standing:
        stmt = stmt.where(standing_column(day) == flt.standing)
    if flt.sku_id:
        stmt = stmt.where(InstalledUnit.sku_id == flt.sku_id)
    if flt.hospital_id:
        stmt = stmt.where(InstalledUnit.hospital_id == flt.hospital_id)
    if flt.status:
        stmt = stmt.where(InstalledUnit.status == flt.status)
    if flt.region_id:
        from app.channel.queries import _subtree_ids

        stmt = stmt.where(Hospital.region_id.in_(_subtree_ids(flt.region_id)))
    return keyset_page(session, stmt, (InstalledUnit.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def unit_for(session: Session, user, unit_id: int) -> InstalledUnit | None:
    """The unit if the user's reach covers it, else None (404)."""
    stmt = select(InstalledUnit).join(Hospital, Hospital.id == InstalledUnit.hospital_id).where(InstalledUnit.id == unit_id)
    return session.scalar(scope_units(stmt, user))


def standing_counts(session: Session, user, day: date) -> dict[str, int]:
    standing = standing_column(day)
    stmt = (select(standing, func.count()).select_from(InstalledUnit)
            .join(Hospital, Hospital.id == InstalledUnit.hospital_id)
            .where(InstalledUnit.status == "active").group_by(standing))
    return dict(session.execute(scope_units(stmt, user)).all())


def plans_of(session: Session, unit_id: int) -> list[ServicePlan]:
    return list(session.scalars(select(ServicePlan).where(ServicePlan.unit_id == unit_id).order_by(ServicePlan.id)))


def equipment_skus(session: Session) -> list[Sku]:
    return list(session.scalars(select(Sku).where(Sku.tracking == "serial", Sku.implant.is_(False),
                                                  Sku.status == "active").order_by(Sku.code)))


# --- plans ---------------------------------------------------------------------------------------

def plans_page(session: Session, user, cursor: str | None, status: str = "", q: str = "") -> Page:
    next_due = (select(func.min(ServiceVisit.due_on)).where(ServiceVisit.plan_id == ServicePlan.id,
                                                             ServiceVisit.status == "scheduled")
                .correlate(ServicePlan).scalar_subquery())
    engineer = select(User.name).where(User.id == ServicePlan.engineer_id).correlate(ServicePlan).scalar_subquery()
    stmt = (select(ServicePlan.id, ServicePlan.name, ServicePlan.interval_months, ServicePlan.status,
                   ServicePlan.unit_id, InstalledUnit.serial_no, Sku.code.label("sku_code"), Sku.name.label("sku_name"),
                   Hospital.name.label("hospital_name"), Dealer.name.label("dealer_name"),
                   engineer.label("engineer_name"), next_due.label("next_due"))
            .join(InstalledUnit, InstalledUnit.id == ServicePlan.unit_id).join(Sku, Sku.id == InstalledUnit.sku_id)
            .join(Hospital, Hospital.id == InstalledUnit.hospital_id)
            .outerjoin(Dealer, Dealer.id == ServicePlan.dealer_id))
    stmt = scope_units(stmt, user)
    if status:
        stmt = stmt.where(ServicePlan.status == status)
    if q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(InstalledUnit.serial_no.ilike(like), Hospital.name.ilike(like), ServicePlan.name.ilike(like)))
    return keyset_page(session, stmt, (ServicePlan.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def plan_for(session: Session, user, plan_id: int) -> ServicePlan | None:
    stmt = (select(ServicePlan).join(InstalledUnit, InstalledUnit.id == ServicePlan.unit_id)
            .join(Hospital, Hospital.id == InstalledUnit.hospital_id).where(ServicePlan.id == plan_id))
    return session.scalar(scope_units(stmt, user))


# --- visits --------------------------------------------------------------------------------------

def _scope_visits(stmt, user):
    scope = ChannelScope.of(user)
    if scope.hospital_id is not None:
        return stmt.where(InstalledUnit.hospital_id == scope.hospital_id)
    if scope.dealer_id is not None:
        return stmt.where(or_(ServiceVisit.dealer_id == scope.dealer_id, InstalledUnit.dealer_id == scope.dealer_id))
    clause = scope.regions_clause(Hospital.region_id)
    return stmt if clause is None else stmt.where(clause)


#: the calendar's tabs: what each shows, and in which order
WHENS = ("upcoming", "overdue", "past")


def visits(session: Session, user, when: str, today: date, unit_id: int | None = None, plan_id: int | None = None,
           limit: int = 200) -> list:
    """The calendar: ``upcoming`` (scheduled from today, soonest first), ``overdue``
    (scheduled before today, oldest first), ``past`` (done or cancelled, newest first)."""
    engineer = select(User.name).where(User.id == ServiceVisit.engineer_id).correlate(ServiceVisit).scalar_subquery()
    stmt = (select(ServiceVisit.id, ServiceVisit.due_on, ServiceVisit.status, ServiceVisit.done_on,
                   ServiceVisit.unit_id, ServiceVisit.plan_id, ServiceVisit.findings,
                   InstalledUnit.serial_no, InstalledUnit.department, Sku.code.label("sku_code"), Sku.name.label("sku_name"),
                   Hospital.name.label("hospital_name"), ServicePlan.name.label("plan_name"),
                   Dealer.name.label("dealer_name"), engineer.label("engineer_name"))
            .join(InstalledUnit, InstalledUnit.id == ServiceVisit.unit_id).join(Sku, Sku.id == InstalledUnit.sku_id)
            .join(Hospital, Hospital.id == InstalledUnit.hospital_id)
            .outerjoin(ServicePlan, ServicePlan.id == ServiceVisit.plan_id)
            .outerjoin(Dealer, Dealer.id == ServiceVisit.dealer_id))
    stmt = _scope_visits(stmt, user)
    if unit_id is not None:
        stmt = stmt.where(ServiceVisit.unit_id == unit_id)
    if plan_id is not None:
        stmt = stmt.where(ServiceVisit.plan_id == plan_id)
    if when == "overdue":
        stmt = stmt.where(ServiceVisit.status == "scheduled", ServiceVisit.due_on < today).order_by(ServiceVisit.due_on)
    elif when == "past":
        stmt = stmt.where(ServiceVisit.status != "scheduled").order_by(
            func.coalesce(ServiceVisit.done_on, ServiceVisit.due_on).desc(), ServiceVisit.id.desc())
    else:
        stmt = stmt.where(ServiceVisit.status == "scheduled", ServiceVisit.due_on >= today).order_by(
            ServiceVisit.due_on, ServiceVisit.id)
    return list(session.execute(stmt.limit(limit)))


def visit_counts(session: Session, user, today: date) -> dict[str, int]:
    when = case((ServiceVisit.status != "scheduled", literal("past")),
                (ServiceVisit.due_on < today, literal("overdue")), else_=literal("upcoming"))
    stmt = (select(when, func.count()).select_from(ServiceVisit)
            .join(InstalledUnit, InstalledUnit.id == ServiceVisit.unit_id)
            .join(Hospital, Hospital.id == InstalledUnit.hospital_id).group_by(when))
    return dict(session.execute(_scope_visits(stmt, user)).all())


def visit_for(session: Session, user, visit_id: int) -> ServiceVisit | None:
    stmt = (select(ServiceVisit).join(InstalledUnit, InstalledUnit.id == ServiceVisit.unit_id)
            .join(Hospital, Hospital.id == InstalledUnit.hospital_id).where(ServiceVisit.id == visit_id))
    return session.scalar(_scope_visits(stmt, user))


def part_skus(session: Session) -> list[Sku]:
    """What a visit may use as spare parts: active products that are not installed
    equipment themselves."""
    return [s for s in session.scalars(select(Sku).where(Sku.status == "active").order_by(Sku.code).limit(1000))
            if not is_equipment(s)]


# --- export of the manufacturer's installed base list ---------------------------------------------

def _export_rows(session, user, params):
    from app.compliance.exports import choice_param, id_param, walk_batches
    from app.core.i18n import shanghai_today
    from app.service.installed import STANDING_LABELS

    status = params.get("status", "active")
    flt = UnitFilter(q=str(params.get("q") or "")[:60], standing=choice_param(params, "standing", STANDING_LABELS),
                     sku_id=id_param(params, "sku"), status=status if status in ("active", "retired", "") else "active",
                     region_id=id_param(params, "region"))
    day = shanghai_today()
    for items in walk_batches(lambda cursor: units_page(session, user, flt, cursor, day)):
        for r in items:
            yield [r.serial_no, r.sku_code, r.sku_name, r.hospital_name, r.department, r.installed_on,
                   str(STANDING_LABELS[r.standing]), r.warranty_end, r.contract_no, r.contract_end, r.dealer_name]


def _register_export():
    from flask_babel import lazy_gettext as _l

    from app.compliance.exports import register_export

    register_export("installed_base", _l("Installed base"), SERVICE_VIEWERS,
                    (_l("Serial no."), _l("SKU code"), _l("Product"), _l("Hospital"), _l("Department"), _l("Installed on"),
                     _l("Warranty status"), _l("Warranty end"), _l("Contract no."), _l("Contract end"), _l("Dealer")),
                    _export_rows, params=("q", "standing", "sku", "status", "region"))


_register_export()
