"""Project registrations (项目报备): a dealer claims a hospital opportunity (department,
SKUs with expected quantities, expected date) and the manufacturer approves it through the
engine. Other dealers' open claims on the same hospital and any of the same SKUs are
recorded as conflicts when it is submitted, for the approver to see side by side; the
registering dealer only learns that another dealer has a claim, never which one.
"""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.compliance import approvals
from app.compliance.models import ApprovalRequest
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.numbering import assign_number
from app.core.pagination import Page, keyset_page
from app.orders.models import ProjectRegistration, ProjectRegistrationLine
from app.orders.queries import may_sell_to

OPEN_STATUSES = ("submitted", "approved")
MAX_LINES = 50


def _lines(session: Session, raw_lines) -> list[tuple[Sku, int]]:
    lines, seen = [], set()
    for index, raw in enumerate(raw_lines or []):
        sku_id = coerce.as_id(raw.get("sku_id"))
        qty_text = str(raw.get("expected_quantity") or "").strip()
        if not sku_id and not qty_text:
            continue  # an empty row of the form
        sku = session.get(Sku, sku_id) if sku_id else None
        if sku is None or sku.status != "active":
            raise InvalidInput(f"sku_id_{index}", _("Choose a product from the list."))
        if sku.id in seen:
            raise InvalidInput(f"sku_id_{index}", _("%(sku)s is listed twice.", sku=sku.code))
        if not qty_text.isascii() or not qty_text.isdigit() or not 0 < int(qty_text) <= 1_000_000:
            raise InvalidInput(f"expected_quantity_{index}", _("Enter a whole number from 1 to 1000000."))
        seen.add(sku.id)
        lines.append((sku, int(qty_text)))
    if not lines:
        raise InvalidInput("lines", _("Add at least one product with its expected quantity."))
    if len(lines) > MAX_LINES:
        raise InvalidInput("lines", _("At most %(n)d products in one registration.", n=MAX_LINES))
    return lines


def conflicts_for(session: Session, dealer_id: int, hospital_id: int, sku_ids: list[int],
                  exclude_id: int | None = None, today: date | None = None) -> list[dict]:
    """Other dealers' submitted or approved (and still valid) registrations for the
    hospital that share a SKU: [{id, number, dealer_code, dealer_name, status, skus}]."""
    today = today or shanghai_today()
    stmt = (select(ProjectRegistration).options(selectinload(ProjectRegistration.lines))
            .where(ProjectRegistration.hospital_id == hospital_id, ProjectRegistration.dealer_id != dealer_id,
                   ProjectRegistration.status.in_(OPEN_STATUSES),
                   (ProjectRegistration.valid_until.is_(None)) | (ProjectRegistration.valid_until >= today),
                   ProjectRegistration.id.in_(select(ProjectRegistrationLine.project_registration_id)
                                              .where(ProjectRegistrationLine.sku_id.in_(sku_ids))))
            .order_by(ProjectRegistration.id))
    if exclude_id is not None:
        stmt = stmt.where(ProjectRegistration.id != exclude_id)
    found = []
    for other in session.scalars(stmt).unique():
        shared = sorted(line.sku.code for line in other.lines if line.sku_id in sku_ids)
        found.append({"id": other.id, "number": other.number, "dealer_code": other.dealer.code,
                      "dealer_name": other.dealer.name, "status": other.status, "skus": shared})
    return found


def register_project(session: Session, dealer: Dealer, user, values: dict, today: date | None = None) -> ProjectRegistration:
    """Submit a registration for approval; ``values``: hospital_id, department,
    expected_on, valid_until, note, lines [{sku_id, expected_quantity}]."""
    today = today or shanghai_today()
    hospital_id = coerce.ident(values, "hospital_id", required=True)
    hospital = session.get(Hospital, hospital_id) if hospital_id else None
    if hospital is None:
        raise InvalidInput("hospital_id", _("Choose a hospital from the list."))
    if hospital.status != "active":
        raise InvalidInput("hospital_id", _("%(name)s is not an active hospital.", name=hospital.name))
    if not may_sell_to(session, dealer.id, hospital.id, today):
        raise InvalidInput("hospital_id", _("You are not authorized to sell to %(name)s.", name=hospital.name))
    department = coerce.text(values, "department", max_length=60)
    if department and hospital.departments and department not in hospital.departments:
        raise InvalidInput("department", _("%(hospital)s has no department “%(department)s”.", hospital=hospital.name,
                                           department=department))
    expected_on = coerce.day(values, "expected_on")
    valid_until = coerce.day(values, "valid_until", required=True)
    if valid_until < today:
        raise InvalidInput("valid_until", _("The registration would already have lapsed."))
    if expected_on and expected_on > valid_until:
        raise InvalidInput("expected_on", _("The expected date is after the end of the registration."))
    note = coerce.text(values, "note", max_length=2000)
    lines = _lines(session, values.get("lines"))

    registration = ProjectRegistration(dealer_id=dealer.id, hospital_id=hospital.id, department=department,
                                       expected_on=expected_on, valid_until=valid_until, note=note,
                                       status="submitted", submitted_by_id=getattr(user, "id", None))
    assign_number(session, registration, "PR")
    registration.conflicts = conflicts_for(session, dealer.id, hospital.id, [s.id for s, _q in lines], today=today)
    for sku, quantity in lines:
        registration.lines.append(ProjectRegistrationLine(sku_id=sku.id, expected_quantity=quantity))
    session.add(registration)
    session.flush()
    request = approvals.submit(
        session, "project_registration",
        _("Project registration %(number)s: %(dealer)s at %(hospital)s", number=registration.number, dealer=dealer.name,
          hospital=hospital.name),
        user, {"skus": len(lines), "conflicts": len(registration.conflicts)},
        entity=("project_registrations", str(registration.id)), region_id=hospital.region_id)
    registration.approval_request_id = request.id
    session.flush()
    return registration


def project_decided(session: Session, request) -> None:
    """The engine decided: the registration follows (unless it was withdrawn meanwhile)."""
    registration = session.get(ProjectRegistration, int(request.entity_id))
    if registration is None or registration.status != "submitted":
        return
    registration.status = "approved" if request.status == "approved" else "rejected"
    session.flush()


def withdraw_project(session: Session, registration: ProjectRegistration, user, why: str | None) -> None:
    """The dealer takes its claim back; an open approval request is withdrawn with it."""
    if registration.status not in OPEN_STATUSES:
        raise InvalidInput(None, _("Only a submitted or approved registration can be withdrawn."))
    why = (why or "").strip()[:500] or None
    with reason(session, why, action="withdraw"):
        registration.status = "withdrawn"
        session.flush()
    request = session.get(ApprovalRequest, registration.approval_request_id) \
        if registration.approval_request_id else None
    if request is not None and request.status in ("in_review", "returned"):
        if request.requester_id == getattr(user, "id", None):
            approvals.withdraw(session, request, user, why or "")
        else:
            with reason(session, why, action="withdraw"):
                request.status = "withdrawn"
                session.flush()


# --- reading -------------------------------------------------------------------------------

def _scoped(stmt, scope):
    if scope.hospital_id is not None:
        return stmt.where(false())
    if scope.dealer_id is not None:
        return stmt.where(ProjectRegistration.dealer_id == scope.dealer_id)
    clause = scope.regions_clause(Hospital.region_id)
    return stmt if clause is None else stmt.where(clause)


def projects_page(session: Session, scope, cursor: str | None, status: str = "", conflicts_only: bool = False) -> Page:
    """Registrations the scope may see, newest first (a regional manager: hospitals in
    its regions; a dealer: its own)."""
    later = aliased(ProjectRegistration)
    # named as a conflict by another dealer's later, still open registration
    named = (exists().where(later.status.in_(OPEN_STATUSES), later.conflicts.op("@>")(
        func.jsonb_build_array(func.jsonb_build_object("id", ProjectRegistration.id)))))
    stmt = (select(ProjectRegistration.id, ProjectRegistration.number, ProjectRegistration.status,
                   ProjectRegistration.department, ProjectRegistration.expected_on, ProjectRegistration.valid_until,
                   ProjectRegistration.conflicts, ProjectRegistration.created_at, named.label("named_in_conflict"),
                   Hospital.name.label("hospital_name"), Hospital.code.label("hospital_code"),
                   Dealer.code.label("dealer_code"), Dealer.name.label("dealer_name"))
            .join(Hospital, Hospital.id == ProjectRegistration.hospital_id)
            .join(Dealer, Dealer.id == ProjectRegistration.dealer_id))
    stmt = _scoped(stmt, scope)
    if status:
        stmt = stmt.where(ProjectRegistration.status == status)
    if conflicts_only:
        stmt = stmt.where(or_(ProjectRegistration.conflicts != [], named))
    return keyset_page(session, stmt, (ProjectRegistration.id,), lambda r: (r.id,), cursor, entities=False,
                       descending=True)


def project_for(session: Session, scope, registration_id: int) -> ProjectRegistration | None:
    stmt = (select(ProjectRegistration).join(Hospital, Hospital.id == ProjectRegistration.hospital_id)
            .where(ProjectRegistration.id == registration_id))
    return session.scalar(_scoped(stmt, scope))


def conflicting_registrations(session: Session, registration: ProjectRegistration) -> list[ProjectRegistration]:
    """For the manufacturer's side-by-side view: the registrations named as conflicts at
    submission, plus any open one that conflicts now."""
    ids = {c.get("id") for c in registration.conflicts if c.get("id")}
    ids |= {c["id"] for c in conflicts_for(session, registration.dealer_id, registration.hospital_id,
                                            [line.sku_id for line in registration.lines], exclude_id=registration.id)}
    if not ids:
        return []
    return list(session.scalars(select(ProjectRegistration).options(selectinload(ProjectRegistration.lines))
                                .where(ProjectRegistration.id.in_(ids)).order_by(ProjectRegistration.id)).unique())
