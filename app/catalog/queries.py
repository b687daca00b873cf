"""Reads about the catalog. The catalog is the manufacturer's own and the same for all
of its staff, so these take no user scope; dealer- and hospital-facing views of it
(what a dealer may sell) belong to authorizations."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.catalog.models import ProductLine, Registration, Sku
from app.catalog.rules import EXPIRING_DAYS
from app.compliance.models import ApprovalRequest
from app.core.pagination import Page, keyset_page

#: Why a SKU may not be ordered or shipped (``sku_blocks``), as people read it.
BLOCK_REASONS = {
    "unknown": _l("No such SKU."),
    "pending": _l("Awaiting its first-business review."),
    "rejected": _l("Rejected in its first-business review."),
    "inactive": _l("Deactivated."),
    "no_registration": _l("No registration certificate on file."),
    "registration_expired": _l("Its registration certificate has expired."),
}


def _sku_columns():
    own = [c for c in Sku.__table__.columns if c.key not in ("created_at", "updated_at")]
    return (select(*own, ProductLine.code.label("line_code"), ProductLine.name.label("line_name"),
                   ProductLine.name_en.label("line_name_en"), Registration.number.label("registration_number"),
                   Registration.valid_until.label("registration_valid_until"))
            .join(ProductLine, ProductLine.id == Sku.product_line_id)
            .outerjoin(Registration, Registration.id == Sku.registration_id))


def skus_page(session: Session, cursor: str | None, search: str = "", product_line_id: int | None = None,
              status: str = "") -> Page:
    """One page of SKUs by code (plain rows with the product line's code and names and the
    registration's number and end date), searched in code, name, specification, UDI-DI
    and registration number."""
    stmt = _sku_columns()
    if search := search.strip():
        like = f"%{search}%"
        stmt = stmt.where(or_(Sku.code.ilike(like), Sku.name.ilike(like), Sku.specification.ilike(like),
                              Sku.udi_di.ilike(like), Registration.number.ilike(like)))
    if product_line_id:
        stmt = stmt.where(Sku.product_line_id == product_line_id)
    if status:
        stmt = stmt.where(Sku.status == status)
    return keyset_page(session, stmt, (Sku.code, Sku.id), lambda r: (r.code, r.id), cursor, entities=False)


def sku_row(session: Session, sku_id: int):
    """One SKU as a list row (what the inline editor swaps back in)."""
    return session.execute(_sku_columns().where(Sku.id == sku_id)).first()


def registrations_page(session: Session, cursor: str | None, search: str = "", device_class: str = "") -> Page:
    """One page of registration certificates by number, searched in number, product
    name and holder."""
    own = [c for c in Registration.__table__.columns if c.key not in ("created_at", "updated_at")]
    stmt = select(*own)
    if search := search.strip():
        like = f"%{search}%"
        stmt = stmt.where(or_(Registration.number.ilike(like), Registration.product_name.ilike(like),
                              Registration.holder.ilike(like)))
    if device_class:
        stmt = stmt.where(Registration.device_class == device_class)
    return keyset_page(session, stmt, (Registration.number, Registration.id), lambda r: (r.number, r.id), cursor,
                       entities=False)


def registration_row(session: Session, registration_id: int):
    own = [c for c in Registration.__table__.columns if c.key not in ("created_at", "updated_at")]
    return session.execute(select(*own).where(Registration.id == registration_id)).first()


def registration_choices(session: Session, limit: int = 2000) -> list[Registration]:
    return list(session.scalars(select(Registration).order_by(Registration.number).limit(limit)))


def product_lines(session: Session) -> list[ProductLine]:
    return list(session.scalars(select(ProductLine).order_by(ProductLine.code)))


def skus_of_registration(session: Session, registration_id: int, limit: int = 200) -> list[Sku]:
    return list(session.scalars(select(Sku).where(Sku.registration_id == registration_id).order_by(Sku.code)
                                .limit(limit)))


def sku_blocks(session: Session, sku_ids: Iterable[int], day: date) -> dict[int, str]:
    """The SKUs of ``sku_ids`` that may not be ordered or shipped on ``day``, each with
    the reason code (a key of ``BLOCK_REASONS``): unknown, pending, rejected, inactive,
    no_registration, registration_expired. A SKU missing from the answer may be sold
    as far as the catalog is concerned (authorization, price and credit are checked
    elsewhere). Orders call this when they are checked; one query for any number."""
    ids = {int(i) for i in sku_ids}
    if not ids:
        return {}
    rows = session.execute(select(Sku.id, Sku.status, Sku.registration_id, Registration.valid_until)
                           .outerjoin(Registration, Registration.id == Sku.registration_id)
                           .where(Sku.id.in_(ids))).all()
    blocks = {i: "unknown" for i in ids}
    for row in rows:
        del blocks[row.id]
        if row.status != "active":
            blocks[row.id] = row.status
        elif row.registration_id is None:
            blocks[row.id] = "no_registration"
        elif row.valid_until is not None and row.valid_until < day:
            blocks[row.id] = "registration_expired"
    return blocks


def expired_registration_skus(session: Session, day: date, within_days: int = EXPIRING_DAYS, limit: int = 200):
    """The warning list: SKUs still in the catalog (active or in review) whose
    registration has expired or expires within ``within_days``, soonest first (plain
    rows: id, code, name, status, registration_id, registration_number, valid_until)."""
    horizon = day + timedelta(days=within_days)
    return list(session.execute(
        select(Sku.id, Sku.code, Sku.name, Sku.status, Sku.registration_id,
               Registration.number.label("registration_number"), Registration.valid_until)
        .join(Registration, Registration.id == Sku.registration_id)
        .where(Sku.status.in_(("active", "pending")), Registration.valid_until.is_not(None),
               Registration.valid_until <= horizon)
        .order_by(Registration.valid_until, Sku.code).limit(limit)))


def review_requests(session: Session, sku_id: int) -> list[ApprovalRequest]:
    """The SKU's first-business review requests, newest first."""
    return list(session.scalars(select(ApprovalRequest).where(ApprovalRequest.kind == "product_review",
                                                              ApprovalRequest.entity_type == "skus",
                                                              ApprovalRequest.entity_id == str(sku_id))
                                .order_by(ApprovalRequest.id.desc())))
