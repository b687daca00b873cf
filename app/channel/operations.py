"""Writes about the channel: regions, dealers and their qualifications (with scanned
files), the first-business review (首营审核) of dealers, and hospitals.

Every function validates, changes, flushes and never commits; a value a user can fix is
refused with ``InvalidInput(field, message)``. ``save_*`` take values keyed by model
attribute names, so that forms and the bulk import call the same code.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.channel.models import QUALIFICATION_KINDS, Dealer, Hospital, Qualification, Region
from app.channel.rules import MAX_SCAN_BYTES, Licence, qualification_gaps, scan_kind, uscc_valid
from app.compliance.operations import reason
from app.core import coerce
from app.core.db import ensure_unique
from app.core.errors import InvalidInput
from app.core.money import fen
from app.core.i18n import shanghai_today

TIERS = ("agent", "tier1", "tier2")
HOSPITAL_GRADES = ("三级甲等", "三级乙等", "三级丙等", "二级甲等", "二级乙等", "一级", "未定级")
DEVICE_CLASSES = ("II", "III")
MAX_CREDIT_LIMIT = Decimal("999999999999.99")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- the seed's short forms ------------------------------------------------------------

def add_region(session: Session, code: str, name: str, name_en: str, parent: Region | None = None) -> Region:
    region = Region(code=code, name=name, name_en=name_en, parent=parent, level=0 if parent is None else parent.level + 1)
    session.add(region)
    session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    session.flush()
    return region


def add_dealer(session: Session, code: str, name: str, region: Region, tier: str = "tier1", **extra) -> Dealer:
    dealer = Dealer(code=code, name=name, region_id=region.id, tier=tier, **extra)
    session.add(dealer)
    session.flush()
    return dealer


def add_hospital(session: Session, code: str, name: str, grade: str, region: Region, city: str | None = None) -> Hospital:
    hospital = Hospital(code=code, name=name, grade=grade, region_id=region.id, city=city)
    session.add(hospital)
    session.flush()
    return hospital


# --- value checks --------------------------------------------------------------------







def _money(values: dict, field: str) -> Decimal:
    value = values.get(field)
    if value in (None, ""):
        return Decimal("0.00")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise InvalidInput(field, _("Enter an amount in CNY, such as 500000.00.")) from None
    if not amount.is_finite():
        raise InvalidInput(field, _("Enter an amount in CNY, such as 500000.00."))
    if amount < 0:
        raise InvalidInput(field, _("The amount cannot be negative."))
    if amount > MAX_CREDIT_LIMIT:
        raise InvalidInput(field, _("The amount is too large."))
    return fen(amount)





def _region(session: Session, region_id: int | None, field: str = "region_id") -> Region:
    region = session.get(Region, region_id) if region_id else None
    if region is None:
        raise InvalidInput(field, _("Choose a region from the list."))
    return region


today = shanghai_today


# --- dealers -------------------------------------------------------------------------------

DEALER_FIELDS = ("code", "name", "uscc", "tier", "upstream_dealer_id", "region_id", "contact_name", "contact_phone",
                 "contact_email", "address", "credit_limit", "payment_terms_days", "bank_name", "bank_account")


def save_dealer(session: Session, values: dict, dealer: Dealer | None = None) -> Dealer:
    """Create a dealer (``pending`` until its first-business review) or change the
    fields of ``dealer`` named in ``values``. Only the seed and the import pass
    ``status`` for a new dealer; an existing dealer's status changes through
    ``set_dealer_status`` and the review."""
    new = dealer is None
    given = {k: values[k] for k in DEALER_FIELDS if k in values}
    if new:
        given = {k: values.get(k) for k in DEALER_FIELDS}
    own_id = None if new else dealer.id
    changes: dict = {}

    if "code" in given:
        code = coerce.text(given, "code", max_length=30, required=True).upper()
        ensure_unique(session, Dealer, Dealer.code, code, own_id, "code", _("Another dealer already has this code."))
        changes["code"] = code
    if "name" in given:
        changes["name"] = coerce.text(given, "name", max_length=200, required=True)
    if "uscc" in given:
        uscc = coerce.text(given, "uscc", max_length=18, required=new or bool(dealer.uscc))
        if uscc is not None:
            uscc = uscc.upper()
            if not uscc_valid(uscc):
                raise InvalidInput("uscc", _("This is not a valid unified social credit code (18 characters, "
                                             "the last one a check character)."))
            ensure_unique(session, Dealer, Dealer.uscc, uscc, own_id, "uscc",
                    _("Another dealer already has this unified social credit code."))
        changes["uscc"] = uscc
    if "region_id" in given:
        changes["region_id"] = _region(session, coerce.ident(given, "region_id", required=True)).id
    if "tier" in given or "upstream_dealer_id" in given:
        tier = given.get("tier", None if new else dealer.tier) or ""
        if tier not in TIERS:
            raise InvalidInput("tier", _("Choose agent, tier 1 or tier 2."))
        upstream_id = coerce.ident(given, "upstream_dealer_id") if "upstream_dealer_id" in given else dealer.upstream_dealer_id
        unchanged = not new and (tier, upstream_id) == (dealer.tier, dealer.upstream_dealer_id)
        if unchanged:
            pass  # an edit that keeps the chain is not refused for what changed around it since
        elif tier == "tier2":
            _check_upstream(session, upstream_id, own_id)
        elif upstream_id is not None:
            raise InvalidInput("upstream_dealer_id", _("Only a second-tier dealer names an upstream dealer."))
        changes["tier"], changes["upstream_dealer_id"] = tier, upstream_id
    for field, max_len in (("contact_name", 100), ("contact_phone", 40), ("address", 300), ("bank_name", 200),
                           ("bank_account", 40)):
        if field in given:
            changes[field] = coerce.text(given, field, max_length=max_len)
    if "contact_email" in given:
        email = coerce.text(given, "contact_email", max_length=254)
        if email is not None and not _EMAIL.match(email):
            raise InvalidInput("contact_email", _("Enter a valid e-mail address."))
        changes["contact_email"] = email
    if "credit_limit" in given:
        changes["credit_limit"] = _money(given, "credit_limit")
    if "payment_terms_days" in given:
        changes["payment_terms_days"] = coerce.whole(given, "payment_terms_days", 0, 365, default=60)

    if new:
        status = values.get("status") or "pending"
        if status not in ("pending", "active", "inactive", "rejected"):
            raise InvalidInput("status", _("Unknown status."))
        dealer = Dealer(status=status, **changes)
        session.add(dealer)
    else:
        for field, value in changes.items():
            if getattr(dealer, field) != value:
                setattr(dealer, field, value)
    session.flush()
    return dealer


def _check_upstream(session: Session, upstream_id: int | None, own_id: int | None) -> None:
    """A second-tier dealer's upstream (逐级授权): an active dealer, not itself, and not
    one of its own downstream dealers (the chain must end)."""
    if upstream_id is None:
        raise InvalidInput("upstream_dealer_id", _("A second-tier dealer needs the upstream dealer that authorizes it."))
    upstream = session.get(Dealer, upstream_id)
    if upstream is None:
        raise InvalidInput("upstream_dealer_id", _("Choose a dealer from the list."))
    if own_id is not None and upstream.id == own_id:
        raise InvalidInput("upstream_dealer_id", _("A dealer cannot be its own upstream dealer."))
    if upstream.status != "active":
        raise InvalidInput("upstream_dealer_id", _("The upstream dealer must be active."))
    seen, current = set(), upstream
    while current is not None and current.id not in seen:
        if own_id is not None and current.id == own_id:
            raise InvalidInput("upstream_dealer_id",
                               _("This dealer is already upstream of the chosen one: the chain would go round."))
        seen.add(current.id)
        current = current.upstream


def upstream_chain(dealer: Dealer) -> list[Dealer]:
    """The dealers above ``dealer`` (逐级授权), nearest first."""
    chain, seen, current = [], {dealer.id}, dealer.upstream
    while current is not None and current.id not in seen:
        chain.append(current)
        seen.add(current.id)
        current = current.upstream
    return chain


def _current_qualifications(session: Session, dealer: Dealer, statuses: tuple[str, ...]) -> list[Qualification]:
    return list(session.scalars(select(Qualification).where(Qualification.dealer_id == dealer.id,
                                                            Qualification.status.in_(statuses))))


def qualification_problems(session: Session, dealer: Dealer, statuses: tuple[str, ...] = ("approved",),
                           on: date | None = None) -> list[str]:
    """Why ``dealer`` may not trade on ``on`` (today), in words; empty when it may."""
    held = [Licence(q.kind, frozenset(q.device_classes), q.valid_until)  # the statuses asked for count as held
            for q in _current_qualifications(session, dealer, statuses)]
    labels = {"business_license": _("a business licence that has not expired"),
              "device_permit": _("a medical-device operating permit or class-II filing that has not expired")}
    return [labels[gap] for gap in qualification_gaps(held, on or today())]


def _problems_message(problems: list[str]) -> str:
    return _("The dealer needs %(what)s.", what=_(" and ").join(problems))


def _open_review(session: Session, dealer: Dealer):
    from app.compliance.models import ApprovalRequest

    return session.scalar(select(ApprovalRequest).where(
        ApprovalRequest.kind == "dealer_review", ApprovalRequest.entity_type == "dealers",
        ApprovalRequest.entity_id == str(dealer.id), ApprovalRequest.status.in_(("in_review", "returned"))).limit(1))


def submit_dealer_review(session: Session, dealer: Dealer, requester):
    """Send a new (or rejected) dealer to its first-business review (首营审核). It needs
    a business licence and an operating permit or class-II filing, present and valid."""
    from app.compliance import approvals

    if dealer.status not in ("pending", "rejected"):
        raise InvalidInput(None, _("Only a new or rejected dealer goes to first-business review."))
    if _open_review(session, dealer) is not None:
        raise InvalidInput(None, _("This dealer's first-business review is already under way."))
    problems = qualification_problems(session, dealer, ("pending", "approved"))
    if problems:
        raise InvalidInput("qualifications", _problems_message(problems))
    if dealer.status == "rejected":
        with reason(session, _("Submitted again for first-business review")):
            dealer.status = "pending"
            session.flush()
    return approvals.submit(session, "dealer_review", _("First-business review: %(name)s (%(code)s)",
                                                        name=dealer.name, code=dealer.code),
                            requester, {}, entity=("dealers", dealer.id), region_id=dealer.region_id)


def dealer_review_check(session: Session, request) -> None:
    """Before the final approval is signed: the dealer's qualifications must still be
    valid on the day it becomes active."""
    from app.compliance.approvals import ApprovalError

    dealer = session.get(Dealer, int(request.entity_id))
    if dealer is None:
        raise ApprovalError(_("The dealer no longer exists."))
    problems = qualification_problems(session, dealer, ("pending", "approved"))
    if problems:
        raise ApprovalError(_("The dealer cannot become active: %(why)s", why=_problems_message(problems)))


def dealer_review_decided(session: Session, request) -> None:
    """First-business review decided: on approval the dealer becomes active and the
    qualifications reviewed with it approved; on rejection the dealer is rejected."""
    dealer = session.get(Dealer, int(request.entity_id))
    if dealer is None or dealer.status != "pending":
        return
    if request.status == "approved":
        dealer_review_check(session, request)
        dealer.status = "active"
        for qualification in _current_qualifications(session, dealer, ("pending",)):
            qualification.status = "approved"
    else:
        dealer.status = "rejected"
    session.flush()


def set_dealer_status(session: Session, dealer: Dealer, status: str, why: str) -> None:
    """Deactivate an active dealer or reactivate an inactive one, with a reason kept in
    the audit trail. Reactivation needs valid qualifications."""
    why = (why or "").strip()
    if not why:
        raise InvalidInput("reason", _("Say why; it is kept in the audit trail."))
    if len(why) > 500:
        raise InvalidInput("reason", _("At most %(n)d characters.", n=500))
    if status == "inactive" and dealer.status != "active":
        raise InvalidInput(None, _("Only an active dealer can be deactivated."))
    if status == "active":
        if dealer.status != "inactive":
            raise InvalidInput(None, _("Only a deactivated dealer can be reactivated; a new one goes to review."))
        problems = qualification_problems(session, dealer)
        if problems:
            raise InvalidInput("reason", _problems_message(problems))
    if status not in ("active", "inactive"):
        raise InvalidInput(None, _("Unknown status."))
    with reason(session, why, action="deactivate" if status == "inactive" else "reactivate"):
        dealer.status = status
        session.flush()


# --- qualifications ----------------------------------------------------------------------------

def _device_classes(values: dict, kind: str) -> list[str]:
    raw = values.get("device_classes") or []
    if isinstance(raw, str):
        raw = re.split(r"[,，、\s/]+", raw)
    classes = sorted({str(c).strip().upper() for c in raw if str(c).strip()})
    if any(c not in DEVICE_CLASSES for c in classes):
        raise InvalidInput("device_classes", _("Device classes are II and/or III."))
    if kind == "business_license":
        return []
    if kind == "operating_permit" and "III" not in classes:
        classes = sorted(set(classes) | {"III"})
    if kind == "class2_filing" and not classes:
        classes = ["II"]
    return classes


def check_scan(upload: tuple[str, bytes] | None) -> tuple[str, str]:
    """``(extension, content type)`` of an uploaded scan, or InvalidInput("file")."""
    if upload is None or not upload[1]:
        raise InvalidInput("file", _("The file is empty: choose the scanned PDF, JPEG or PNG."))
    if len(upload[1]) > MAX_SCAN_BYTES:
        raise InvalidInput("file", _("The file is larger than %(mb)d MB.", mb=MAX_SCAN_BYTES // (1024 * 1024)))
    kind = scan_kind(upload[1])
    if kind is None:
        raise InvalidInput("file", _("Only PDF, JPEG or PNG scans are accepted; this file is none of them."))
    return kind


def _store_scan(session: Session, dealer: Dealer, qualification: Qualification, upload: tuple[str, bytes], by_user):
    """The scan's bytes in storage and its immutable Document row, which names the
    dealer (whose users may download it) and the qualification."""
    from app.compliance.uploads import store_upload

    ext, content_type = check_scan(upload)
    return store_upload(session, upload[0], upload[1], ext, content_type, ("qualifications", qualification.id),
                        dealer.id, by_user, default_name="scan")


def add_qualification(session: Session, dealer: Dealer, values: dict, upload: tuple[str, bytes] | None,
                      by_user) -> Qualification:
    """Record a qualification of ``dealer`` with its scanned file (checked by content
    and size). For a dealer under first-business review it is decided with the review;
    otherwise (a renewal) it goes to its own review and, once approved, supersedes the
    qualification of the same kind it replaces."""
    kind = values.get("kind") or ""
    if kind not in QUALIFICATION_KINDS:
        raise InvalidInput("kind", _("Choose the kind of qualification."))
    number = coerce.text(values, "number", max_length=60, required=True)
    classes = _device_classes(values, kind)
    scope = coerce.text(values, "scope", max_length=2000)
    issued_on, valid_until = coerce.day(values, "issued_on"), coerce.day(values, "valid_until")
    if issued_on and issued_on > today():
        raise InvalidInput("issued_on", _("The issue date is in the future."))
    if valid_until and issued_on and valid_until < issued_on:
        raise InvalidInput("valid_until", _("The expiry date is before the issue date."))
    if valid_until and valid_until < today():
        raise InvalidInput("valid_until", _("This qualification has already expired; upload the current one."))
    replaces = None
    if values.get("replaces_id"):
        replaces = session.get(Qualification, coerce.ident(values, "replaces_id"))
        if replaces is None or replaces.dealer_id != dealer.id or replaces.kind != kind:
            raise InvalidInput("replaces_id", _("Choose one of this dealer's qualifications of the same kind."))
    elif dealer.status not in ("pending", "rejected"):
        replaces = session.scalar(select(Qualification).where(
            Qualification.dealer_id == dealer.id, Qualification.kind == kind, Qualification.status == "approved")
            .order_by(Qualification.valid_until.desc().nulls_first(), Qualification.id.desc()).limit(1))
    if upload is not None or getattr(by_user, "portal", None) == "dealer":
        check_scan(upload)  # before anything is written
    qualification = Qualification(dealer_id=dealer.id, kind=kind, number=number, device_classes=classes, scope=scope,
                                  issued_on=issued_on, valid_until=valid_until, status="pending",
                                  replaces_id=replaces.id if replaces else None)
    session.add(qualification)
    session.flush()
    if upload is not None:
        qualification.document_id = _store_scan(session, dealer, qualification, upload, by_user).id
        session.flush()
    if dealer.status not in ("pending", "rejected"):
        from app.compliance import approvals

        approvals.submit(session, "qualification_review",
                         _("Renewed qualification: %(name)s · %(number)s", name=dealer.name, number=number),
                         by_user, {}, entity=("qualifications", qualification.id), region_id=dealer.region_id)
    return qualification


def qualification_review_decided(session: Session, request) -> None:
    """A renewal reviewed: approved, it replaces the one before (superseded)."""
    qualification = session.get(Qualification, int(request.entity_id))
    if qualification is None or qualification.status != "pending":
        return
    if request.status == "approved":
        qualification.status = "approved"
        if qualification.replaces_id:
            old = session.get(Qualification, qualification.replaces_id)
            if old is not None and old.status == "approved":
                old.status = "superseded"
    else:
        qualification.status = "rejected"
    session.flush()


# --- hospitals -------------------------------------------------------------------------------------

HOSPITAL_FIELDS = ("code", "name", "grade", "region_id", "city", "address", "departments", "contact_name",
                   "contact_phone", "serving_dealer_id")


def save_hospital(session: Session, values: dict, hospital: Hospital | None = None) -> Hospital:
    """Create a hospital or change the fields of ``hospital`` named in ``values``."""
    new = hospital is None
    given = {k: values.get(k) for k in HOSPITAL_FIELDS} if new else {k: values[k] for k in HOSPITAL_FIELDS if k in values}
    own_id = None if new else hospital.id
    changes: dict = {}
    if "code" in given:
        code = coerce.text(given, "code", max_length=30, required=True).upper()
        ensure_unique(session, Hospital, Hospital.code, code, own_id, "code", _("Another hospital already has this code."))
        changes["code"] = code
    if "name" in given:
        changes["name"] = coerce.text(given, "name", max_length=200, required=True)
    if "grade" in given:
        grade = coerce.text(given, "grade", max_length=20, required=True)
        if grade not in HOSPITAL_GRADES:
            raise InvalidInput("grade", _("Choose a grade from the list."))
        changes["grade"] = grade
    if "region_id" in given:
        changes["region_id"] = _region(session, coerce.ident(given, "region_id", required=True)).id
    for field, max_len in (("city", 100), ("address", 300), ("contact_name", 100), ("contact_phone", 40)):
        if field in given:
            changes[field] = coerce.text(given, field, max_length=max_len)
    if "departments" in given:
        raw = given["departments"] or []
        if isinstance(raw, str):
            raw = re.split(r"[,，、;；\n]+", raw)
        departments = list(dict.fromkeys(d.strip() for d in raw if d and d.strip()))
        if any(len(d) > 60 for d in departments):
            raise InvalidInput("departments", _("A department name has at most 60 characters."))
        changes["departments"] = departments
    if "serving_dealer_id" in given:
        dealer_id = coerce.ident(given, "serving_dealer_id")
        if dealer_id is not None and (new or dealer_id != hospital.serving_dealer_id):
            dealer = session.get(Dealer, dealer_id)
            if dealer is None or dealer.status != "active":
                raise InvalidInput("serving_dealer_id", _("Choose an active dealer."))
        changes["serving_dealer_id"] = dealer_id
    if new:
        hospital = Hospital(status=values.get("status") or "active", **changes)
        session.add(hospital)
    else:
        for field, value in changes.items():
            if getattr(hospital, field) != value:
                setattr(hospital, field, value)
    session.flush()
    return hospital


def set_hospital_status(session: Session, hospital: Hospital, status: str, why: str) -> None:
    why = (why or "").strip()
    if not why:
        raise InvalidInput("reason", _("Say why; it is kept in the audit trail."))
    if len(why) > 500:
        raise InvalidInput("reason", _("At most %(n)d characters.", n=500))
    if status not in ("active", "inactive") or status == hospital.status:
        raise InvalidInput(None, _("The hospital is already in that state."))
    with reason(session, why, action="deactivate" if status == "inactive" else "reactivate"):
        hospital.status = status
        session.flush()


# --- regions ------------------------------------------------------------------------------------------

def save_region(session: Session, values: dict, region: Region | None = None) -> Region:
    """Create a region under ``parent_id`` (or rename/move one); the tree keeps at most
    four levels (country → area → province → city) and its materialised paths."""
    new = region is None
    given = {k: values.get(k) for k in ("code", "name", "name_en", "parent_id")} if new else values
    own_id = None if new else region.id
    changes: dict = {}
    if "code" in given:
        code = coerce.text(given, "code", max_length=30, required=True).upper()
        ensure_unique(session, Region, Region.code, code, own_id, "code", _("Another region already has this code."))
        changes["code"] = code
    if "name" in given:
        changes["name"] = coerce.text(given, "name", max_length=100, required=True)
    if "name_en" in given:
        changes["name_en"] = coerce.text(given, "name_en", max_length=100, required=True)
    parent = region.parent if region is not None else None
    if "parent_id" in given:
        parent_id = coerce.ident(given, "parent_id")
        parent = session.get(Region, parent_id) if parent_id else None
        if parent_id and parent is None:
            raise InvalidInput("parent_id", _("Choose a region from the list."))
        if parent is None and session.scalar(select(func.count()).select_from(Region).where(
                Region.parent_id.is_(None), Region.id != (own_id or 0))):
            raise InvalidInput("parent_id", _("Choose the region this one belongs to."))
        if parent is not None and parent.level >= 3:
            raise InvalidInput("parent_id", _("Cities are the last level: choose a province or an area."))
        if region is not None and parent is not None and parent.path.startswith(region.path):
            raise InvalidInput("parent_id", _("A region cannot be moved under itself."))
    level = 0 if parent is None else parent.level + 1
    if new:
        region = Region(level=level, parent_id=parent.id if parent else None, **changes)
        session.add(region)
        session.flush()
        region.path = f"{parent.path if parent else '/'}{region.id}/"
        session.flush()
        return region
    for field, value in changes.items():
        if getattr(region, field) != value:
            setattr(region, field, value)
    new_parent_id = parent.id if parent else None
    if new_parent_id != region.parent_id:
        old_path, new_path = region.path, f"{parent.path if parent else '/'}{region.id}/"
        shift = level - region.level
        for node in session.scalars(select(Region).where(Region.path.startswith(old_path))):
            if node.level + shift > 3:
                raise InvalidInput("parent_id", _("The subtree would be deeper than cities."))
            node.path = new_path + node.path[len(old_path):]
            node.level += shift
        region.parent_id = new_parent_id
    session.flush()
    return region
