"""Rebate claims (返利申请): a dealer claims a rebate under a program that needs evidence
(a promotion, a market activity), with scans of that evidence, through the approval
engine (kind ``rebate_claim``). Approved, it is a ``claim`` credit in the ledger.

The approver may allow less than was claimed: whoever holds the request's current step
sets an *approved amount* on the claim before signing (it goes into the request's
facts, so the signature covers it); approval credits the approved amount, or the
claimed amount when none was set. Returned for changes, the dealer edits the claim
(and may add evidence) and submits it again as the request's next version; the dealer
may withdraw it while it is open.

Evidence files are checked by their content (PDF, JPEG or PNG magic bytes, as
qualification scans are) and stored as immutable ``documents`` with entity
``('rebate_claims', id)`` and the dealer's id, so the dealer's users and the
manufacturer's staff who may see the claim can download them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from app.channel.models import Dealer
from app.compliance import approvals
from app.compliance.models import ApprovalRequest, Document
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.money import MAX_AMOUNT
from app.core.numbering import assign_number
from app.core.pagination import Page, keyset_page
from app.rebates import ledger
from app.rebates.models import CLAIM_STATUSES, RebateClaim

#: dealer roles that claim
CLAIMANTS = ("dealer_owner", "dealer_finance")
MAX_FILES = 5
OPEN = ("in_review", "returned")
STATUS_LABELS = {"in_review": _l("In review"), "returned": _l("Returned for changes"), "approved": _l("Approved"),
                 "rejected": _l("Rejected"), "withdrawn": _l("Withdrawn")}
STATUS_BADGES = {"in_review": "wait", "returned": "late", "approved": "on", "rejected": "off", "withdrawn": "off"}
assert set(STATUS_LABELS) == set(CLAIM_STATUSES)


# --- the form's values ------------------------------------------------------------------------

@dataclass(frozen=True)
class ClaimValues:
    program: str
    activity_on: date | None
    description: str | None
    amount: Decimal


def _values(values: dict, today: date) -> ClaimValues:
    program = coerce.text(values, "program", required=True, max_length=200)
    activity_on = coerce.day(values, "activity_on")
    if activity_on is not None and activity_on > today:
        raise InvalidInput("activity_on", _("The activity day is in the future: claim once it has taken place."))
    if activity_on is not None and activity_on.year < 2000:
        raise InvalidInput("activity_on", _("Enter a date as YYYY-MM-DD."))
    description = coerce.text(values, "description", max_length=4000)
    amount = coerce.money(values, "amount", required=True)
    if amount >= MAX_AMOUNT:
        raise InvalidInput("amount", _("Enter an amount such as 1280.00."))
    return ClaimValues(program, activity_on, description, amount.quantize(Decimal("0.01")))


def _uploads(uploads) -> list[tuple[str, bytes, tuple[str, str]]]:
    """The non-empty uploads with their checked kind; InvalidInput("evidence") if one
    is not a PDF, JPEG or PNG by its content, too large, or there are too many."""
    from app.channel.operations import check_scan

    files = [(name or "", data) for name, data in (uploads or []) if data]
    if len(files) > MAX_FILES:
        raise InvalidInput("evidence", _("Attach at most %(n)d files.", n=MAX_FILES))
    checked = []
    for name, data in files:
        try:
            kind = check_scan((name, data))
        except InvalidInput as err:
            raise InvalidInput("evidence", _("%(file)s: %(why)s", file=name or "—", why=err.message)) from None
        checked.append((name, data, kind))
    return checked


def _store(session: Session, claim: RebateClaim, files, user) -> list[Document]:
    """The evidence kept as immutable documents naming the dealer (whose users may
    download them) and the claim."""
    from app.compliance.uploads import store_upload

    return [store_upload(session, name, data, ext, content_type, ("rebate_claims", claim.id), claim.dealer_id, user)
            for name, data, (ext, content_type) in files]


def _title(claim: RebateClaim, dealer: Dealer) -> str:
    return _("Rebate claim %(number)s of %(dealer)s: %(program)s", number=claim.number, dealer=dealer.name,
             program=claim.program)[:200]


# --- writing ----------------------------------------------------------------------------------------

def submit_claim(session: Session, dealer: Dealer, user, values: dict, uploads=None,
                 today: date | None = None) -> RebateClaim:
    """A dealer's claim with its evidence (at least one file), sent for approval."""
    today = today or shanghai_today()
    if dealer.status != "active":
        raise InvalidInput(None, _("%(dealer)s is not active and cannot claim.", dealer=dealer.name))
    v = _values(values, today)
    files = _uploads(uploads)
    if not files:
        raise InvalidInput("evidence", _("Attach the evidence: photos, the activity report or invoices (PDF, JPEG or "
                                         "PNG)."))
    claim = RebateClaim(dealer_id=dealer.id, program=v.program, activity_on=v.activity_on, description=v.description,
                        amount=v.amount, status="in_review", requested_by_id=getattr(user, "id", None))
    assign_number(session, claim, "RC")
    session.add(claim)
    session.flush()
    _store(session, claim, files, user)
    request = approvals.submit(session, "rebate_claim", _title(claim, dealer), user, {"amount": claim.amount},
                               entity=("rebate_claims", claim.id), region_id=dealer.region_id)
    claim.approval_request_id = request.id
    session.flush()
    return claim


def set_approved_amount(session: Session, claim: RebateClaim, user, value, why: str | None = None) -> None:
    """The approver holding the current step allows ``value`` (more than zero, at most
    what was claimed) before signing; it becomes a fact of the request, so the
    signature covers it. Blank clears it (the claimed amount stands)."""
    request = session.get(ApprovalRequest, claim.approval_request_id) if claim.approval_request_id else None
    if request is None or request.status != "in_review" or approvals.holder_for(session, user, request) is None:
        raise InvalidInput(None, _("Only the approver holding the current step can set the approved amount."))
    amount = coerce.money({"approved_amount": value}, "approved_amount")
    if amount is not None and (amount.as_tuple().exponent < -2 or amount > claim.amount):
        raise InvalidInput("approved_amount", _("Allow more than zero and at most the %(amount)s claimed.",
                                                amount=ledger.cny(claim.amount)))
    why = (why or "").strip()[:500] or None
    if amount is not None and amount < claim.amount and not why:
        raise InvalidInput("reason", _("Say why less is allowed: the dealer reads it."))
    with reason(session, why, action="update"):
        claim.approved_amount = amount.quantize(Decimal("0.01")) if amount is not None else None
        facts = dict(request.facts)
        if amount is None:
            facts.pop("approved_amount", None)
        else:
            facts["approved_amount"] = str(claim.approved_amount)
        request.facts = facts
        session.flush()


def claim_decided(session: Session, request) -> None:
    """The engine decided: an approved claim credits the approved (or claimed) amount;
    a rejected one is closed. A claim withdrawn meanwhile stays withdrawn."""
    claim = session.get(RebateClaim, int(request.entity_id)) if request.entity_id else None
    if claim is None or claim.status not in OPEN:
        return
    if request.status == "approved":
        credited = claim.approved_amount if claim.approved_amount is not None else claim.amount
        claim.approved_amount = credited
        claim.status = "approved"
        session.flush()
        if credited > 0:
            ledger.add_credit(session, claim.dealer_id, "claim", credited, ref=("rebate_claims", claim.id),
                              explanation={"program": claim.program, "claimed": str(claim.amount),
                                           "approved": str(credited),
                                           "activity_on": claim.activity_on.isoformat() if claim.activity_on else None})
    elif request.status == "rejected":
        claim.status = "rejected"
        session.flush()


def claim_changed(session: Session, request) -> None:
    """The request was returned for changes, withdrawn or submitted again, from whichever
    page: the claim follows it."""
    claim = session.get(RebateClaim, int(request.entity_id)) if request.entity_id else None
    if claim is not None and claim.status in OPEN and request.status in ("in_review", "returned", "withdrawn"):
        claim.status = request.status
        session.flush()


def _open_request(session: Session, claim: RebateClaim) -> ApprovalRequest | None:
    return session.get(ApprovalRequest, claim.approval_request_id) if claim.approval_request_id else None


def withdraw_claim(session: Session, claim: RebateClaim, user, why: str | None) -> None:
    """The dealer takes an open claim back; its request is withdrawn with it."""
    request = _open_request(session, claim)
    if effective_status(claim, request) not in OPEN:
        raise InvalidInput(None, _("Only a claim in review or returned for changes can be withdrawn."))
    why = (why or "").strip()[:500] or None
    if request is not None and request.status in OPEN:
        if request.requester_id == getattr(user, "id", None):
            approvals.withdraw(session, request, user, why or "")
        else:  # a colleague of the requester at the same dealer
            with reason(session, why, action="withdraw"):
                request.status = "withdrawn"
                request.decided_at = session.scalar(select(func.now()))
                session.flush()
    with reason(session, why, action="withdraw"):
        claim.status = "withdrawn"
        session.flush()


def resubmit_claim(session: Session, claim: RebateClaim, user, values: dict, uploads=None,
                   today: date | None = None) -> None:
    """A claim returned for changes, edited (and perhaps with more evidence), goes
    through its route again as the request's next version."""
    request = _open_request(session, claim)
    if request is None or request.status != "returned":
        raise InvalidInput(None, _("Only a claim returned for changes can be submitted again."))
    v = _values(values, today or shanghai_today())
    files = _uploads(uploads)
    dealer = session.get(Dealer, claim.dealer_id)
    with reason(session, None, action="resubmit"):
        claim.program, claim.activity_on, claim.description, claim.amount = (v.program, v.activity_on, v.description,
                                                                              v.amount)
        claim.approved_amount = None
        claim.status = "in_review"
        session.flush()
    if files:
        _store(session, claim, files, user)
    requester = user
    if request.requester_id != getattr(user, "id", None):
        from app.identity.models import User

        requester = session.get(User, request.requester_id)  # the engine resubmits as its requester
    request.title = _title(claim, dealer)
    approvals.resubmit(session, request, requester, facts={"amount": claim.amount})


# --- reading ----------------------------------------------------------------------------------------

def effective_status(claim: RebateClaim, request: ApprovalRequest | None) -> str:
    """The claim's status as it stands: an open claim follows its request (returned,
    or withdrawn from the request's own page)."""
    if claim.status in OPEN and request is not None and request.status in ("returned", "withdrawn"):
        return request.status
    return claim.status


def _scoped(stmt, scope):
    if scope.hospital_id is not None:
        return stmt.where(false())
    if scope.dealer_id is not None:
        return stmt.where(RebateClaim.dealer_id == scope.dealer_id)
    clause = scope.regions_clause(Dealer.region_id)
    return stmt if clause is None else stmt.where(clause)


def claims_page(session: Session, scope, cursor: str | None, status: str = "", dealer_id: int | None = None) -> Page:
    """Claims newest first (keyset on the id), with their request's status."""
    shown = ApprovalRequest.status.label("request_status")
    stmt = (select(RebateClaim.id, RebateClaim.number, RebateClaim.program, RebateClaim.activity_on, RebateClaim.amount,
                   RebateClaim.approved_amount, RebateClaim.status, RebateClaim.created_at, shown,
                   Dealer.code.label("dealer_code"), Dealer.name.label("dealer_name"))
            .join(Dealer, Dealer.id == RebateClaim.dealer_id)
            .outerjoin(ApprovalRequest, ApprovalRequest.id == RebateClaim.approval_request_id))
    stmt = _scoped(stmt, scope)
    if status == "returned":
        stmt = stmt.where(RebateClaim.status.in_(OPEN), ApprovalRequest.status == "returned")
    elif status == "in_review":
        stmt = stmt.where(RebateClaim.status == "in_review", ApprovalRequest.status == "in_review")
    elif status == "withdrawn":
        stmt = stmt.where((RebateClaim.status == "withdrawn") | (ApprovalRequest.status == "withdrawn"))
    elif status in STATUS_LABELS:
        stmt = stmt.where(RebateClaim.status == status)
    if dealer_id:
        stmt = stmt.where(RebateClaim.dealer_id == dealer_id)
    return keyset_page(session, stmt, (RebateClaim.id,), lambda r: (r.id,), cursor, entities=False, descending=True)


def row_status(row) -> str:
    if row.status in OPEN and row.request_status in ("returned", "withdrawn"):
        return row.request_status
    return row.status


def claim_for(session: Session, scope, claim_id: int) -> RebateClaim | None:
    stmt = select(RebateClaim).join(Dealer, Dealer.id == RebateClaim.dealer_id).where(RebateClaim.id == claim_id)
    return session.scalars(_scoped(stmt, scope)).unique().one_or_none()


def evidence_of(session: Session, claim: RebateClaim) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.entity_type == "rebate_claims",
                                                       Document.entity_id == str(claim.id)).order_by(Document.id)))


def credit_of(session: Session, claim: RebateClaim):
    """The ledger row an approved claim credited, or None."""
    return session.scalar(select(ledger.Entry).where(ledger.Entry.ref_type == "rebate_claims",
                                                     ledger.Entry.ref_id == claim.id).order_by(ledger.Entry.id).limit(1))


__all__ = ["submit_claim", "set_approved_amount", "claim_decided", "withdraw_claim", "resubmit_claim", "claims_page",
           "claim_for", "evidence_of", "effective_status", "row_status", "credit_of", "CLAIMANTS", "STATUS_LABELS"]
