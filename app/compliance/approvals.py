"""The approvals engine (审批流) and electronic signatures (电子签名).

Domains plug their request kinds in with ``register_kind`` and call ``submit``; they
never copy the engine. A manufacturer admin configures each kind's chain: ordered steps,
each naming a role, optionally limited to the requester's region, optionally applying
only when a fact of the request meets a condition (discount above 15 %, amount above
500,000 CNY), optionally with an SLA in hours. At submission the applicable steps are
fixed as the request's route; decisions move it along. Every decision is an electronic
signature: the password again (and the TOTP code if the signer has two-step
verification), the meaning, and the SHA-256 of the exact request version signed.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyotp
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.channel.models import Region
from app.compliance.models import (ApprovalChain, ApprovalDecision, ApprovalRequest, ApprovalStep, Delegation,
                                   Signature)
from app.compliance.operations import reason, record_event
from app.compliance.rules import record_hash, route
from app.identity.models import User
from app.identity.operations import verify_password
from app.core.i18n import shanghai_today



class ApprovalError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


# --- kinds ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Fact:
    name: str
    label: object
    unit: str = ""


@dataclass(frozen=True)
class RequestKind:
    name: str
    label: object
    facts: tuple[Fact, ...] = ()
    #: called in the deciding transaction when a request is approved or rejected; given
    #: as "package.module:function" so that domains need not be imported before the kinds
    on_decided: str | None = None
    #: called before the final approval is signed ("package.module:function"); it raises
    #: ApprovalError to refuse the approval while nothing has been written yet
    before_approval: str | None = None
    #: called in the same transaction when a request is returned for changes, withdrawn
    #: or submitted again ("package.module:function"), so a domain record that mirrors its
    #: request's status (a special-price request) follows it whichever page acted
    on_changed: str | None = None

    def decided(self, session: Session, request: ApprovalRequest) -> None:
        if self.on_decided:
            _function(self.on_decided)(session, request)

    def changed(self, session: Session, request: ApprovalRequest) -> None:
        if self.on_changed:
            _function(self.on_changed)(session, request)

    def check_approval(self, session: Session, request: ApprovalRequest) -> None:
        if self.before_approval:
            _function(self.before_approval)(session, request)


def _function(name: str):
    module, function = name.split(":")
    return getattr(importlib.import_module(module), function)


KINDS: dict[str, RequestKind] = {}


def register_kind(name: str, label, facts: tuple[Fact, ...] = (), on_decided=None, before_approval=None,
                  on_changed=None) -> RequestKind:
    KINDS[name] = RequestKind(name, label, facts, on_decided, before_approval, on_changed)
    return KINDS[name]


def _changed(session: Session, request: ApprovalRequest) -> None:
    kind = KINDS.get(request.kind)
    if kind:
        kind.changed(session, request)


# --- signatures ------------------------------------------------------------------------

MEANINGS = ("approved", "rejected", "returned", "reviewed", "confirmed", "disputed")


def sign(session: Session, signer: User, password: str, totp_code: str | None, meaning: str, entity_type: str,
         entity_id, version: dict, comment: str | None = None, on_behalf_of: User | None = None) -> Signature:
    """Record an electronic signature after re-authenticating the signer."""
    if meaning not in MEANINGS:
        raise ValueError(meaning)
    if not verify_password(signer, password):
        record_event(session, "signature_refused", entity_type, entity_id, after={"signer": signer.email, "meaning": meaning})
        raise ApprovalError(_("Your password is not correct; nothing was signed."), "password")
    if signer.totp_secret:
        if not totp_code or not pyotp.TOTP(signer.totp_secret).verify(totp_code.strip(), valid_window=1):
            record_event(session, "signature_refused", entity_type, entity_id,
                         after={"signer": signer.email, "meaning": meaning, "second_factor": "wrong"})
            raise ApprovalError(_("The code from your authenticator app is not correct."), "totp_code")
    signature = Signature(signer_id=signer.id, signer_name=signer.name, signer_email=signer.email, meaning=meaning,
                          entity_type=entity_type, entity_id=str(entity_id), record_version=version,
                          record_hash=record_hash(version), second_factor=bool(signer.totp_secret),
                          comment=comment or None, on_behalf_of_id=getattr(on_behalf_of, "id", None))
    session.add(signature)
    session.flush()
    return signature


def signatures_for(session: Session, entity_type: str, entity_id) -> list[Signature]:
    return list(session.scalars(select(Signature).where(Signature.entity_type == entity_type,
                                                        Signature.entity_id == str(entity_id)).order_by(Signature.id)))


# --- chains --------------------------------------------------------------------------------

def chain_for(session: Session, kind: str) -> ApprovalChain:
    chain = session.scalar(select(ApprovalChain).where(ApprovalChain.kind == kind))
    if chain is None:
        chain = ApprovalChain(kind=kind)
        session.add(chain)
        session.flush()
    return chain


@dataclass
class StepSpec:
    name: str
    role: str
    same_region: bool = False
    condition_field: str | None = None
    condition_op: str | None = None
    condition_value: Decimal | None = None
    sla_hours: int | None = None


def add_step(session: Session, kind: str, spec: StepSpec) -> ApprovalStep:
    from app.identity.rules import ROLES

    if kind not in KINDS:
        raise ApprovalError(_("Unknown kind of request."))
    if spec.role not in ROLES["manufacturer"]:
        raise ApprovalError(_("Choose a manufacturer role."), "role")
    if not spec.name.strip():
        raise ApprovalError(_("Give the step a name."), "name")
    facts = {f.name for f in KINDS[kind].facts}
    if spec.condition_field:
        if spec.condition_field not in facts:
            raise ApprovalError(_("This kind of request has no such figure."), "condition_field")
        if spec.condition_op not in ("gt", "gte", "lt", "lte", "eq") or spec.condition_value is None:
            raise ApprovalError(_("A condition needs a comparison and a value."), "condition_value")
    chain = chain_for(session, kind)
    position = (max((s.position for s in chain.steps), default=0)) + 1
    step = ApprovalStep(chain_id=chain.id, position=position, name=spec.name.strip(), role=spec.role,
                        same_region=spec.same_region, condition_field=spec.condition_field or None,
                        condition_op=spec.condition_op if spec.condition_field else None,
                        condition_value=spec.condition_value if spec.condition_field else None,
                        sla_hours=spec.sla_hours)
    session.add(step)
    session.flush()
    chain.steps.append(step)
    return step


def remove_step(session: Session, step: ApprovalStep) -> None:
    chain = step.chain
    session.delete(step)
    session.flush()
    for i, s in enumerate(sorted((s for s in chain.steps if s.id != step.id), key=lambda s: s.position), 1):
        s.position = i
    session.flush()


# --- requests ------------------------------------------------------------------------------

def _route_for(session: Session, kind: str, facts: dict) -> list[dict]:
    chain = session.scalar(select(ApprovalChain).where(ApprovalChain.kind == kind))
    steps = [dict(position=s.position, name=s.name, role=s.role, same_region=s.same_region,
                  condition_field=s.condition_field, condition_op=s.condition_op,
                  condition_value=None if s.condition_value is None else str(s.condition_value),
                  sla_hours=s.sla_hours) for s in (chain.steps if chain else [])]
    return route(steps, facts)


def version_of(request: ApprovalRequest) -> dict:
    """The content a decision signs: what is being decided, in which version."""
    return {"request_id": request.id, "kind": request.kind, "title": request.title, "facts": request.facts,
            "entity_type": request.entity_type, "entity_id": request.entity_id, "version": request.version,
            "requester_id": request.requester_id, "region_id": request.region_id}


def submit(session: Session, kind: str, title: str, requester: User, facts: dict,
           entity: tuple[str | None, str | None] = (None, None), region_id: int | None = None) -> ApprovalRequest:
    """Start a request. With no applicable step it is approved at once (and says so)."""
    if kind not in KINDS:
        raise ApprovalError(_("Unknown kind of request."))
    facts = {k: str(v) if isinstance(v, Decimal) else v for k, v in facts.items()}
    now = session.execute(select(func.now())).scalar()
    request = ApprovalRequest(kind=kind, title=title, requester_id=requester.id, facts=facts,
                              entity_type=entity[0], entity_id=None if entity[1] is None else str(entity[1]),
                              region_id=region_id, route=_route_for(session, kind, facts), current_index=0,
                              status="in_review", submitted_at=now, step_started_at=now)
    session.add(request)
    session.flush()
    if not request.route:
        _finish(session, request, "approved", now)
    return request


def _finish(session: Session, request: ApprovalRequest, status: str, now) -> None:
    request.status, request.decided_at = status, now
    session.flush()
    kind = KINDS.get(request.kind)
    if kind and status in ("approved", "rejected"):
        kind.decided(session, request)


def _region_paths(users: list[User]) -> list[str]:
    return [r.path for u in users for r in u.regions]


def acting_for(session: Session, user: User, today: date | None = None) -> list[User]:
    """The user and everyone who has delegated their approvals to them today."""
    today = today or shanghai_today()
    delegators = list(session.scalars(
        select(User).join(Delegation, Delegation.from_user_id == User.id)
        .where(Delegation.to_user_id == user.id, Delegation.starts_on <= today, Delegation.ends_on >= today,
               User.active.is_(True))))
    return [user] + delegators


def holder_for(session: Session, user: User, request: ApprovalRequest, people: list[User] | None = None) -> User | None:
    """Whom ``user`` acts for on the request's current step: themself, a delegator, or
    None when the step is not theirs (or when they asked for it themselves).
    ``people`` is ``acting_for(user)`` when the caller already has it."""
    if request.status != "in_review" or user.portal != "manufacturer" or user.id == request.requester_id:
        return None
    step = request.route[request.current_index]
    region_path = None
    if step["same_region"]:
        region = session.get(Region, request.region_id) if request.region_id else None
        if region is None:
            return None
        region_path = region.path
    for candidate in people if people is not None else acting_for(session, user):
        if candidate.id == request.requester_id or step["role"] not in candidate.roles:
            continue
        if region_path is None or any(region_path.startswith(p) for p in _region_paths([candidate])):
            return candidate
    return None


DECISION_MEANING = {"approve": "approved", "reject": "rejected", "return": "returned"}


def decide(session: Session, request: ApprovalRequest, user: User, decision: str, password: str,
           totp_code: str | None = None, comment: str | None = None) -> ApprovalDecision:
    if decision not in DECISION_MEANING:
        raise ApprovalError(_("Choose approve, reject or return."), "decision")
    holder = holder_for(session, user, request)
    if holder is None:
        raise ApprovalError(_("This step is not waiting for you."))
    if decision in ("reject", "return") and not (comment or "").strip():
        raise ApprovalError(_("Say why; the requester will read it."), "comment")
    kind = KINDS.get(request.kind)
    if kind and decision == "approve" and request.current_index + 1 >= len(request.route):
        kind.check_approval(session, request)
    signature = sign(session, user, password, totp_code, DECISION_MEANING[decision], "approval_requests", request.id,
                     version_of(request), comment, on_behalf_of=holder if holder.id != user.id else None)
    step = request.route[request.current_index]
    record = ApprovalDecision(request_id=request.id, version=request.version, step_index=request.current_index,
                              step_name=step["name"], approver_id=user.id, decision=decision,
                              on_behalf_of_id=holder.id if holder.id != user.id else None,
                              comment=(comment or "").strip() or None, signature_id=signature.id)
    session.add(record)
    now = session.execute(select(func.now())).scalar()
    with reason(session, (comment or "").strip() or None, action=decision):
        if decision == "approve" and request.current_index + 1 < len(request.route):
            request.current_index += 1
            request.step_started_at = now
            session.flush()
        elif decision == "approve":
            _finish(session, request, "approved", now)
        elif decision == "reject":
            _finish(session, request, "rejected", now)
        else:
            request.status = "returned"
            session.flush()
            _changed(session, request)
    return record


def withdraw(session: Session, request: ApprovalRequest, user: User, why: str) -> None:
    if user.id != request.requester_id or request.status not in ("in_review", "returned"):
        raise ApprovalError(_("Only the requester can withdraw a request that is still open."))
    with reason(session, why or None, action="withdraw"):
        request.status = "withdrawn"
        request.decided_at = session.execute(select(func.now())).scalar()
        session.flush()
        _changed(session, request)


def resubmit(session: Session, request: ApprovalRequest, user: User, facts: dict | None = None) -> None:
    """After changes, a returned request starts its route again as a new version."""
    if user.id != request.requester_id or request.status != "returned":
        raise ApprovalError(_("Only a returned request can be submitted again, by its requester."))
    now = session.execute(select(func.now())).scalar()
    with reason(session, None, action="resubmit"):
        if facts is not None:
            request.facts = {k: str(v) if isinstance(v, Decimal) else v for k, v in facts.items()}
        request.version += 1
        request.route = _route_for(session, request.kind, request.facts)
        request.current_index, request.status, request.step_started_at = 0, "in_review", now
        session.flush()
        _changed(session, request)
        if not request.route:
            _finish(session, request, "approved", now)


def set_delegation(session: Session, user: User, to_user_id: int, starts_on: date, ends_on: date,
                   why: str | None) -> Delegation:
    if ends_on < starts_on:
        raise ApprovalError(_("The end date is before the start date."), "ends_on")
    delegate = session.get(User, to_user_id)
    if delegate is None or delegate.id == user.id or delegate.portal != "manufacturer" or not delegate.active:
        raise ApprovalError(_("Choose an active colleague."), "to_user_id")
    delegation = Delegation(from_user_id=user.id, to_user_id=delegate.id, starts_on=starts_on, ends_on=ends_on,
                            reason=why or None)
    session.add(delegation)
    session.flush()
    return delegation


# --- queries ----------------------------------------------------------------------------------

def is_overdue(request: ApprovalRequest, now: datetime | None = None) -> bool:
    if request.status != "in_review":
        return False
    sla = request.route[request.current_index].get("sla_hours")
    now = now or datetime.now(timezone.utc)
    return bool(sla) and now - request.step_started_at > timedelta(hours=sla)


def inbox(session: Session, user: User, limit: int = 200) -> list[ApprovalRequest]:
    """Requests whose current step waits for ``user`` (or for someone they stand in for)."""
    if user.portal != "manufacturer":
        return []
    people = acting_for(session, user)
    roles = sorted({r for p in people for r in p.roles})
    candidates = session.scalars(
        select(ApprovalRequest).options(selectinload(ApprovalRequest.requester))
        .where(ApprovalRequest.status == "in_review", ApprovalRequest.requester_id != user.id,
               ApprovalRequest.route[ApprovalRequest.current_index]["role"].astext.in_(roles))
        .order_by(ApprovalRequest.step_started_at).limit(limit))
    return [r for r in candidates if holder_for(session, user, r, people) is not None]


def inbox_count(session: Session, user: User) -> int:
    return len(inbox(session, user)) if user.portal == "manufacturer" else 0


def requested_by(session: Session, user: User, limit: int = 200) -> list[ApprovalRequest]:
    return list(session.scalars(select(ApprovalRequest).options(selectinload(ApprovalRequest.requester))
                                .where(ApprovalRequest.requester_id == user.id)
                                .order_by(ApprovalRequest.id.desc()).limit(limit)))


def request_for(session: Session, user: User, request_id: int) -> ApprovalRequest | None:
    """A request the user may see: their own, one waiting for them, or any for the
    manufacturer's admin and QA/RA; dealers and hospitals see only their own."""
    request = session.get(ApprovalRequest, request_id)
    if request is None:
        return None
    if request.requester_id == user.id:
        return request
    if user.portal != "manufacturer":
        return None
    if user.has_role("admin", "qa_ra") or holder_for(session, user, request) is not None:
        return request
    if any(d.approver_id == user.id for d in request.decisions):
        return request
    return None


def open_requests(session: Session, limit: int = 200) -> list[ApprovalRequest]:
    return list(session.scalars(select(ApprovalRequest).options(selectinload(ApprovalRequest.requester))
                                .where(ApprovalRequest.status.in_(("in_review", "returned")))
                                .order_by(ApprovalRequest.step_started_at).limit(limit)))


def chain_steps(session: Session, kind: str) -> list[ApprovalStep]:
    chain = session.scalar(select(ApprovalChain).where(ApprovalChain.kind == kind))
    return list(chain.steps) if chain else []


def delegations_of(session: Session, user: User) -> list[Delegation]:
    return list(session.scalars(select(Delegation).where(or_(Delegation.from_user_id == user.id,
                                                             Delegation.to_user_id == user.id))
                                .where(Delegation.ends_on >= today()).order_by(Delegation.starts_on)))


today = shanghai_today  # the engine's name for it (delegations, SLAs)
