"""Authorizations (授权): who may sell which products, where, until when — their writes,
their reads, the sellability gate orders call, and the authorization letter (授权书).

The overlap and containment logic is pure (app.channel.rules); this module loads the
rows it needs, turns them into ``Reach`` values and asks the rules.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import any_, literal, and_, false, func, or_, select, text
from sqlalchemy.orm import Session

from app.catalog import queries as catalog_q
from app.catalog.models import ProductLine, Sku
from app.channel import rules
from app.channel.models import Authorization, Dealer, Hospital, Qualification, Region
from app.channel.queries import ChannelScope
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.jobs import JobContext, JobRefused, Output, job_kind, request_job
from app.core.pagination import Page, keyset_page
from app.core.i18n import shanghai_today

LETTER_JOB = "channel.authorization_letter"
LETTER_ROLES = ("admin", "channel_manager", "regional_manager", "finance")


def ancestor_ids(path: str) -> list[int]:
    """The ids on a materialised path "/1/4/17/": the region and every region above it."""
    return [int(p) for p in path.strip("/").split("/") if p]


# --- turning rows into rule values -----------------------------------------------------

def reach_of(auth: Authorization, upstream_id: int | None = None) -> rules.Reach:
    products = auth.product_line_id if auth.product_line_id is not None else frozenset(auth.sku_ids or ())
    territory = auth.region.path if auth.region_id is not None else frozenset(auth.hospital_ids or ())
    return rules.Reach(auth.dealer_id, products, territory, auth.valid_from, auth.valid_until, auth.exclusive,
                       upstream_id, auth)


def _maps(session: Session, reaches) -> tuple[dict[int, int], dict[int, str]]:
    """SKU → product line and hospital → region path for the SKUs and hospitals named."""
    skus, hospitals = set(), set()
    for r in reaches:
        if isinstance(r.products, frozenset):
            skus |= r.products
        if isinstance(r.territory, frozenset):
            hospitals |= r.territory
    sku_line = dict(session.execute(select(Sku.id, Sku.product_line_id).where(Sku.id.in_(skus))).all()) if skus else {}
    hospital_path = dict(session.execute(
        select(Hospital.id, Region.path).join(Region, Region.id == Hospital.region_id).where(Hospital.id.in_(hospitals))
    ).all()) if hospitals else {}
    return sku_line, hospital_path


def _lock(session: Session) -> None:
    """One authorization change at a time per tenant: two exclusive authorizations
    checked concurrently could otherwise both pass."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.authorizations'))"))


# --- writes ----------------------------------------------------------------------------

@dataclass
class _Draft:
    dealer: Dealer
    product_line_id: int | None
    sku_ids: list[int] | None
    region: Region | None
    hospital_ids: list[int] | None
    valid_from: date
    valid_until: date
    exclusive: bool
    notes: str | None

    def reach(self) -> rules.Reach:
        return rules.Reach(self.dealer.id,
                           self.product_line_id if self.product_line_id is not None else frozenset(self.sku_ids),
                           self.region.path if self.region is not None else frozenset(self.hospital_ids),
                           self.valid_from, self.valid_until, self.exclusive, self.dealer.upstream_dealer_id)


def _draft(session: Session, values: dict) -> _Draft:
    dealer_id = coerce.ident(values, "dealer_id", required=True)
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        raise InvalidInput("dealer_id", _("No such dealer."))
    if dealer.status != "active":
        raise InvalidInput("dealer_id", _("Only an active dealer can be authorized; %(dealer)s is not active.",
                                          dealer=dealer.name))
    line_id, sku_ids = coerce.ident(values, "product_line_id"), coerce.idents(values, "sku_ids")
    if (line_id is None) == (sku_ids is None):
        raise InvalidInput("product_line_id", _("Choose a product line or some SKUs (one of the two)."))
    if line_id is not None and session.get(ProductLine, line_id) is None:
        raise InvalidInput("product_line_id", _("No such product line."))
    if sku_ids is not None:
        found = set(session.scalars(select(Sku.id).where(Sku.id.in_(sku_ids))))
        if found != set(sku_ids):
            raise InvalidInput("sku_ids", _("Unknown SKU: %(ids)s.", ids=", ".join(str(i) for i in sku_ids if i not in found)))
    region_id, hospital_ids = coerce.ident(values, "region_id"), coerce.idents(values, "hospital_ids")
    if (region_id is None) == (hospital_ids is None):
        raise InvalidInput("region_id", _("Choose a region or some hospitals (one of the two)."))
    region = None
    if region_id is not None:
        region = session.get(Region, region_id)
        if region is None:
            raise InvalidInput("region_id", _("No such region."))
    if hospital_ids is not None:
        found = set(session.scalars(select(Hospital.id).where(Hospital.id.in_(hospital_ids))))
        if found != set(hospital_ids):
            raise InvalidInput("hospital_ids", _("Unknown hospital: %(ids)s.",
                                                 ids=", ".join(str(i) for i in hospital_ids if i not in found)))
    valid_from = coerce.day(values, "valid_from", required=True)
    valid_until = coerce.day(values, "valid_until", required=True)
    if valid_until < valid_from:
        raise InvalidInput("valid_until", _("The end date is before the start date."))
    return _Draft(dealer, line_id, sku_ids, region, hospital_ids, valid_from, valid_until,
                  coerce.flag(values, "exclusive"), coerce.text(values, "notes", max_length=2000))


def _check_overlap(session: Session, new: rules.Reach, exclude_id: int | None = None) -> None:
    """Refuse ``new`` if it overlaps an exclusive authorization of another dealer (or is
    exclusive and overlaps any other dealer's)."""
    stmt = select(Authorization).where(
        Authorization.status == "active", Authorization.dealer_id != new.dealer_id,
        Authorization.valid_from <= new.valid_until, Authorization.valid_until >= new.valid_from)
    if not new.exclusive:
        stmt = stmt.where(Authorization.exclusive.is_(True))
    if exclude_id is not None:
        stmt = stmt.where(Authorization.id != exclude_id)
    existing = [reach_of(a, a.dealer.upstream_dealer_id) for a in session.scalars(stmt)]
    if not existing:
        return
    sku_line, hospital_path = _maps(session, existing + [new])
    found = rules.conflicts(new, existing, sku_line, hospital_path)
    if found:
        other: Authorization = found[0].key
        facts = dict(code=other.code, dealer=other.dealer.name, start=other.valid_from.isoformat(),
                     end=other.valid_until.isoformat())
        if other.exclusive:
            raise InvalidInput(None, _(
                "Refused: this overlaps the exclusive authorization %(code)s of %(dealer)s (%(start)s to %(end)s) "
                "in products, territory and time. Narrow the products, territory or dates, or revoke %(code)s first.",
                **facts))
        raise InvalidInput(None, _(
            "Refused: an exclusive authorization may not overlap the authorization %(code)s of %(dealer)s "
            "(%(start)s to %(end)s). Narrow the products, territory or dates, or make it non-exclusive.", **facts))


def _check_upstream(session: Session, dealer: Dealer, new: rules.Reach, field_name: str = "dealer_id") -> None:
    """逐级授权: a second-tier dealer sells only within an active authorization of its
    upstream dealer (products, territory and the whole window)."""
    if dealer.tier != "tier2":
        return
    if dealer.upstream_dealer_id is None:
        raise InvalidInput(field_name, _("%(dealer)s is a second-tier dealer without an upstream dealer: "
                                         "name its upstream dealer before authorizing it.", dealer=dealer.name))
    outer = [reach_of(a) for a in session.scalars(select(Authorization).where(
        Authorization.dealer_id == dealer.upstream_dealer_id, Authorization.status == "active",
        Authorization.valid_from <= new.valid_from, Authorization.valid_until >= new.valid_until))]
    sku_line, hospital_path = _maps(session, outer + [new])
    if not any(rules.within(new, o, sku_line, hospital_path) for o in outer):
        upstream = session.get(Dealer, dealer.upstream_dealer_id)
        raise InvalidInput(field_name, _(
            "A second-tier dealer's authorization must lie within an active authorization of its upstream dealer "
            "%(upstream)s (products, territory and dates); none covers this one.", upstream=upstream.name))


def _next_code(session: Session, day: date) -> str:
    prefix = f"AUTH-{day.year}-"
    last = session.scalar(select(func.max(Authorization.code)).where(Authorization.code.startswith(prefix)))
    number = int(last.rsplit("-", 1)[1]) + 1 if last and last.rsplit("-", 1)[1].isdigit() else 1
    return f"{prefix}{number:04d}"


def request_letter(session: Session, auth: Authorization, request_id: str | None = None, requested_by=None):
    """Ask for the authorization letter PDF (in the background). The job carries the
    dealer, so the dealer's own users may download the letter too."""
    job = request_job(session, LETTER_JOB, {"authorization_id": auth.id},
                      f"authorization-letter-{auth.id}-{request_id or uuid.uuid4().hex}",
                      requested_by=requested_by, entity=("authorizations", str(auth.id)))
    job.dealer_id = auth.dealer_id
    session.flush()
    return job


def create_authorization(session: Session, values: dict, requested_by=None) -> Authorization:
    """Authorize a dealer (values: dealer_id, product_line_id or sku_ids, region_id or
    hospital_ids, valid_from, valid_until, exclusive, notes). Refuses, with an
    ``InvalidInput`` and nothing written, overlaps with exclusive authorizations of other
    dealers and a second-tier dealer's authorization outside its upstream's. Requests
    the letter PDF."""
    _lock(session)
    draft = _draft(session, values)
    new = draft.reach()
    _check_upstream(session, draft.dealer, new)
    _check_overlap(session, new)
    auth = Authorization(code=_next_code(session, shanghai_today()), dealer_id=draft.dealer.id,
                         product_line_id=draft.product_line_id, sku_ids=draft.sku_ids,
                         region_id=draft.region.id if draft.region else None, hospital_ids=draft.hospital_ids,
                         valid_from=draft.valid_from, valid_until=draft.valid_until, exclusive=draft.exclusive,
                         notes=draft.notes)
    session.add(auth)
    session.flush()
    request_letter(session, auth, "created", requested_by)
    return auth


def revoke_authorization(session: Session, auth: Authorization, why: str) -> None:
    if auth.status == "revoked":
        raise InvalidInput(None, _("This authorization is already revoked."))
    why = (why or "").strip()
    if not why:
        raise InvalidInput("reason", _("Give a reason: it is kept in the audit trail."))
    with reason(session, why, "revoke"):
        auth.status = "revoked"
        session.flush()


def extend_authorization(session: Session, auth: Authorization, valid_until, why: str, requested_by=None) -> None:
    """Move the end date later; the longer window is checked for overlaps (and against the
    upstream's authorization) again, and a new letter is requested."""
    if auth.status != "active":
        raise InvalidInput(None, _("A revoked authorization cannot be extended."))
    until = coerce.day({"valid_until": valid_until}, "valid_until", required=True)
    if until <= auth.valid_until:
        raise InvalidInput("valid_until", _("Choose an end date after %(day)s.", day=auth.valid_until.isoformat()))
    why = (why or "").strip()
    if not why:
        raise InvalidInput("reason", _("Give a reason: it is kept in the audit trail."))
    _lock(session)
    dealer = auth.dealer
    current = reach_of(auth, dealer.upstream_dealer_id)
    longer = rules.Reach(current.dealer_id, current.products, current.territory, current.valid_from, until,
                         current.exclusive, current.upstream_id, auth)
    _check_upstream(session, dealer, longer, "valid_until")
    _check_overlap(session, longer, exclude_id=auth.id)
    with reason(session, why, "extend"):
        auth.valid_until = until
        session.flush()
    request_letter(session, auth, f"until-{until.isoformat()}", requested_by)


# --- reads -----------------------------------------------------------------------------

@dataclass(frozen=True)
class AuthorizationFilter:
    #: the authorization's code, or its dealer's code or name
    search: str = ""
    dealer_id: int | None = None
    product_line_id: int | None = None
    region_id: int | None = None
    #: '' | active | expired | revoked
    status: str = ""
    #: only active ones ending within this many days
    expiring: int | None = None


def _scoped(stmt, scope: ChannelScope):
    if scope.dealer_id is not None:
        return stmt.where(Authorization.dealer_id == scope.dealer_id)
    if scope.hospital_id is not None:
        return stmt.where(false())
    clause = scope.regions_clause(Dealer.region_id)
    return stmt if clause is None else stmt.where(clause)


def authorizations_page(session: Session, scope: ChannelScope, cursor: str | None,
                        filters: AuthorizationFilter = AuthorizationFilter(), today: date | None = None) -> Page:
    """Newest first; a dealer sees its own, a regional manager those of dealers in its regions."""
    today = today or shanghai_today()
    stmt = _scoped(select(Authorization).join(Dealer, Dealer.id == Authorization.dealer_id), scope)
    f = filters
    if search := f.search.strip():
        like = f"%{search}%"
        stmt = stmt.where(or_(Authorization.code.ilike(like), Dealer.code.ilike(like), Dealer.name.ilike(like)))
    if f.dealer_id:
        stmt = stmt.where(Authorization.dealer_id == f.dealer_id)
    if f.product_line_id:
        stmt = stmt.where(or_(Authorization.product_line_id == f.product_line_id, Authorization.sku_ids.overlap(
            select(func.array_agg(Sku.id)).where(Sku.product_line_id == f.product_line_id).scalar_subquery())))
    if f.region_id:
        subtree = select(Region.id).where(Region.path.startswith(
            select(Region.path).where(Region.id == f.region_id).scalar_subquery()))
        stmt = stmt.where(or_(Authorization.region_id.in_(subtree),
                              and_(Authorization.hospital_ids.is_not(None), Dealer.region_id.in_(subtree))))
    if f.status == "active":
        stmt = stmt.where(Authorization.status == "active", Authorization.valid_until >= today)
    elif f.status == "expired":
        stmt = stmt.where(Authorization.status == "active", Authorization.valid_until < today)
    elif f.status == "revoked":
        stmt = stmt.where(Authorization.status == "revoked")
    if f.expiring:
        stmt = stmt.where(Authorization.status == "active", Authorization.valid_until >= today,
                          Authorization.valid_until <= today + timedelta(days=f.expiring))
    return keyset_page(session, stmt, (Authorization.id,), lambda a: (a.id,), cursor, descending=True)


def authorization_for(session: Session, scope: ChannelScope, auth_id: int) -> Authorization | None:
    """One authorization, or None when missing or outside ``scope``."""
    stmt = _scoped(select(Authorization).join(Dealer, Dealer.id == Authorization.dealer_id), scope)
    return session.scalars(stmt.where(Authorization.id == auth_id)).unique().one_or_none()


def products_of(session: Session, auth: Authorization) -> list[Sku]:
    stmt = select(Sku).order_by(Sku.code)
    stmt = stmt.where(Sku.product_line_id == auth.product_line_id) if auth.product_line_id else stmt.where(
        Sku.id.in_(auth.sku_ids or []))
    return list(session.scalars(stmt))


def hospitals_of(session: Session, auth: Authorization) -> list[Hospital]:
    if not auth.hospital_ids:
        return []
    return list(session.scalars(select(Hospital).where(Hospital.id.in_(auth.hospital_ids)).order_by(Hospital.name)))


def latest_letter_job(session: Session, auth: Authorization):
    from app.compliance.models import Job

    return session.scalar(select(Job).where(Job.entity_type == "authorizations", Job.entity_id == str(auth.id),
                                            Job.kind == LETTER_JOB).order_by(Job.id.desc()).limit(1))


def _covering(sku: Sku, hospital: Hospital | None, day: date):
    """SQL: active authorizations letting their dealer sell ``sku`` to ``hospital`` on ``day``
    (to anyone, when ``hospital`` is None)."""
    conds = [Authorization.status == "active", Authorization.valid_from <= day, Authorization.valid_until >= day,
             or_(Authorization.product_line_id == sku.product_line_id, literal(sku.id) == any_(Authorization.sku_ids))]
    if hospital is not None:
        conds.append(or_(literal(hospital.id) == any_(Authorization.hospital_ids),
                         Authorization.region_id.in_(ancestor_ids(hospital.region.path))))
    return and_(*conds)


@dataclass(frozen=True)
class AuthorizedDealer:
    dealer: Dealer
    authorization: Authorization


def authorized_dealers(session: Session, sku_id: int, hospital_id: int, day: date) -> list[AuthorizedDealer]:
    """The active dealers authorized to sell ``sku_id`` to ``hospital_id`` on ``day``."""
    sku, hospital = session.get(Sku, sku_id), session.get(Hospital, hospital_id)
    if sku is None or hospital is None:
        return []
    rows = session.scalars(select(Authorization).join(Dealer, Dealer.id == Authorization.dealer_id)
                           .where(_covering(sku, hospital, day), Dealer.status == "active")
                           .order_by(Dealer.name, Authorization.id)).unique()
    return [AuthorizedDealer(a.dealer, a) for a in rows]


# --- the sellability gate ----------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """Why a sale may not go ahead: a stable ``code`` for programs, a translated message."""

    code: str
    message: str
    facts: dict = field(default_factory=dict, compare=False)


def sellability(session: Session, dealer_id: int, sku_id: int, hospital_id: int | None, day: date) -> list[Block]:
    """Everything that stops ``dealer_id`` selling ``sku_id`` to ``hospital_id`` on ``day``;
    empty when the sale may go ahead. Orders call this before they accept a line."""
    blocks: list[Block] = []
    dealer, sku = session.get(Dealer, dealer_id), session.get(Sku, sku_id)
    hospital = session.get(Hospital, hospital_id) if hospital_id is not None else None
    if dealer is None or dealer.status != "active":
        blocks.append(Block("dealer_inactive", _("The dealer is not active.")))
    if hospital_id is not None and (hospital is None or hospital.status != "active"):
        blocks.append(Block("hospital_inactive", _("The hospital is not active.")))
    registration = sku.registration if sku is not None else None
    sku_block = catalog_q.sku_blocks(session, [sku_id], day).get(sku_id)  # the catalog's own rule
    if sku_block == "no_registration":
        blocks.append(Block("sku_unregistered", _("The product has no registration certificate on file.")))
    elif sku_block == "registration_expired":
        blocks.append(Block("registration_expired", _(
            "Registration certificate %(number)s expired on %(day)s.", number=registration.number,
            day=registration.valid_until.isoformat()), {"number": registration.number}))
    elif sku_block is not None:
        blocks.append(Block("sku_inactive", _("The product is not active (first-business review pending, rejected or withdrawn).")))
    if dealer is not None:
        licences = [rules.Licence(q.kind, frozenset(q.device_classes or ()), q.valid_until, q.status)
                    for q in session.scalars(select(Qualification).where(Qualification.dealer_id == dealer.id))]
        messages = {
            "business_license": _("The dealer has no approved, unexpired business licence."),
            "operating_permit": _("Class III devices need an approved, unexpired medical device operating permit "
                                  "covering class III."),
            "class2_filing": _("Class II devices need an approved, unexpired operating permit covering class II "
                               "or a class II filing certificate."),
            "device_permit": _("The dealer has no approved, unexpired operating permit or class II filing certificate."),
        }
        for gap in rules.qualification_gaps(licences, day, registration.device_class if registration else None):
            blocks.append(Block(f"qualification_{gap}", messages[gap]))
    if dealer is not None and sku is not None and (hospital is not None or hospital_id is None):
        covered = session.scalar(select(Authorization.id).where(
            Authorization.dealer_id == dealer.id, _covering(sku, hospital, day)).limit(1))
        if covered is None:
            blocks.append(Block("not_authorized", _(
                "%(dealer)s holds no active authorization for %(sku)s at this hospital on %(day)s.",
                dealer=dealer.name, sku=sku.code, day=day.isoformat()) if hospital is not None else _(
                "%(dealer)s holds no active authorization for %(sku)s on %(day)s.",
                dealer=dealer.name, sku=sku.code, day=day.isoformat())))
    return blocks


# --- the authorization letter (授权书) -----------------------------------------------------

def _letter_done(session: Session, job, document) -> None:
    """Point the authorization at its newest letter (an older job finishing late does not
    replace a newer letter)."""
    from app.compliance.models import Document

    auth = session.get(Authorization, int(job.params["authorization_id"]))
    if auth is None:
        return
    current = session.get(Document, auth.letter_document_id) if auth.letter_document_id else None
    if current is None or (current.job_id or 0) < job.id:
        auth.letter_document_id = document.id
        session.flush()


@job_kind(LETTER_JOB, _l("Authorization letter (PDF)"), roles=LETTER_ROLES, timeout=300, on_done=_letter_done)
def authorization_letter(ctx: JobContext) -> Output:
    from app.core.pdf import render_pdf

    with ctx.session() as session:
        auth = session.get(Authorization, int(ctx.params["authorization_id"]))
        if auth is None:
            raise JobRefused("no such authorization")
        ctx.progress(30, _("Laying out the letter"))
        data = render_pdf("documents/authorization_letter.html", auth=auth, tenant=ctx.tenant,
                          products=products_of(session, auth), hospitals=hospitals_of(session, auth),
                          issued_on=shanghai_today())
        filename = f"{auth.code}.pdf"
    return Output(filename, data, "application/pdf", "pdf")
