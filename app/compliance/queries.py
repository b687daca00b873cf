"""Reading the audit trail."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.compliance.models import AuditEvent
from app.compliance.rules import GENESIS, HASHED_FIELDS, event_hash
from app.core.i18n import SHANGHAI
from app.core.pagination import Page, keyset_page


@dataclass
class ChainCheck:
    events: int
    broken_at: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(session: Session) -> ChainCheck:
    """Walk the pinned tenant's chain in order; name the first sequence number whose
    row was altered, removed or reordered."""
    expected_seq, prev_hash, count = 1, GENESIS, 0
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=2000)).scalars()
    for ev in rows:
        count += 1
        if ev.seq != expected_seq:
            return ChainCheck(count, expected_seq, f"event {expected_seq} is missing (found {ev.seq})")
        if ev.prev_hash != prev_hash:
            return ChainCheck(count, ev.seq, "link to the previous event does not match")
        if event_hash({f: getattr(ev, f) for f in HASHED_FIELDS}) != ev.hash:
            return ChainCheck(count, ev.seq, "content does not match its hash")
        expected_seq, prev_hash = ev.seq + 1, ev.hash
    return ChainCheck(count, None, None)


def history(session: Session, entity_type: str, entity_id: str, limit: int = 200) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    """The audit log's filters; dates are calendar days in Asia/Shanghai."""

    entity_type: str = ""
    entity_id: str = ""
    actor: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_params(self) -> dict:
        return {"entity_type": self.entity_type, "entity_id": self.entity_id, "actor": self.actor, "action": self.action,
                "date_from": self.date_from.isoformat() if self.date_from else None,
                "date_to": self.date_to.isoformat() if self.date_to else None}

    @classmethod
    def from_params(cls, p: dict) -> "AuditFilter":
        return cls(p.get("entity_type") or "", p.get("entity_id") or "", p.get("actor") or "", p.get("action") or "",
                   date.fromisoformat(p["date_from"]) if p.get("date_from") else None,
                   date.fromisoformat(p["date_to"]) if p.get("date_to") else None)

    def apply(self, stmt):
        if self.entity_type:
            stmt = stmt.where(AuditEvent.entity_type == self.entity_type)
        if self.entity_id:
            stmt = stmt.where(AuditEvent.entity_id == self.entity_id)
        if self.actor:
            stmt = stmt.where(AuditEvent.actor_label.ilike(f"%{self.actor.strip()}%"))
        if self.action:
            stmt = stmt.where(AuditEvent.action == self.action)
        if self.date_from:
            stmt = stmt.where(AuditEvent.occurred_at >= _shanghai_midnight(self.date_from))
        if self.date_to:
            stmt = stmt.where(AuditEvent.occurred_at < _shanghai_midnight(self.date_to + timedelta(days=1)))
        return stmt


def _shanghai_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(timezone.utc)


def audit_page(session: Session, flt: AuditFilter, cursor: str | None) -> Page:
    """Newest first, by a keyset on the sequence number (the primary key)."""
    stmt = flt.apply(select(AuditEvent))
    return keyset_page(session, stmt, (AuditEvent.seq,), lambda e: (e.seq,), cursor, descending=True)


def audit_rows(session: Session, flt: AuditFilter, batch: int = 2000):
    """Every matching event, oldest first, streamed in batches (exports)."""
    stmt = flt.apply(select(AuditEvent)).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    return session.scalars(stmt)


def audit_count(session: Session, flt: AuditFilter) -> int:
    return session.scalar(flt.apply(select(func.count()).select_from(AuditEvent)))


def entity_types(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)))


def may_see_job(user, job) -> bool:
    """The requester; manufacturer staff holding one of the kind's roles and, for a job
    made for a dealer or hospital (a letter), reaching that dealer or hospital (a regional
    manager: in their regions); and colleagues of that same dealer or hospital."""
    from app.core.jobs import KINDS

    if job.requested_by_id == user.id:
        return True
    if user.portal == "manufacturer":
        kind = KINDS.get(job.kind)
        return kind is not None and user.has_role(*kind.roles) and _within_reach(user, job)
    kind = KINDS.get(job.kind)
    if kind is not None and kind.portal_roles and not user.has_role(*kind.portal_roles):
        return False  # a colleague without the role the kind asks for (a statement: owner or finance)
    return _same_organisation(user, job)


def _within_reach(user, record) -> bool:
    """Whether a manufacturer user's channel scope reaches the record's dealer and hospital."""
    from sqlalchemy.orm import object_session

    from app.channel.queries import ChannelScope, dealer_detail, hospital_detail

    scope = ChannelScope.of(user)
    if scope.region_paths is None or (record.dealer_id is None and record.hospital_id is None):
        return True
    session = object_session(record)
    return ((record.dealer_id is None or dealer_detail(session, scope, record.dealer_id) is not None)
            and (record.hospital_id is None or hospital_detail(session, scope, record.hospital_id) is not None))


def _same_organisation(user, record) -> bool:
    """A dealer's or hospital's user and a record made for that same dealer or hospital."""
    if user.portal == "dealer":
        return record.dealer_id is not None and record.dealer_id == user.dealer_id
    if user.portal == "hospital":
        return record.hospital_id is not None and record.hospital_id == user.hospital_id
    return False


def may_manage_job(user, job) -> bool:
    """Retrying is for manufacturer staff holding one of the kind's roles."""
    from app.core.jobs import KINDS

    kind = KINDS.get(job.kind)
    return user.portal == "manufacturer" and kind is not None and user.has_role(*kind.roles)


def job_for(session: Session, user, job_id: int):
    from app.compliance.models import Job

    job = session.get(Job, job_id)
    return job if job is not None and may_see_job(user, job) else None


def document_for(session: Session, user, document_id: int):
    from app.compliance.models import Document, Job

    doc = session.get(Document, document_id)
    if doc is None:
        return None
    if doc.job_id is not None:
        return doc if may_see_job(user, session.get(Job, doc.job_id)) else None
    if user.portal != "manufacturer":
        if doc.entity_type == "statements":
            from app.finance.statements.queries import DEALER_ROLES

            if not user.has_role(*DEALER_ROLES):
                return None  # a statement's spreadsheet: the dealer's owner and finance only
        return doc if _same_organisation(user, doc) else None
    if user.has_role("admin", "qa_ra") or doc.created_by_id == user.id:
        return doc
    if doc.entity_type == "qualifications" and doc.dealer_id is not None:
        # a dealer's scanned licence: whoever may see the dealer may read it
        from app.channel.queries import CHANNEL_VIEWERS, ChannelScope, dealer_detail

        if user.has_role(*CHANNEL_VIEWERS) and dealer_detail(session, ChannelScope.of(user), doc.dealer_id) is not None:
            return doc
    if doc.entity_type == "price_requests":
        # a special-price request's tender documents: whoever may open the request
        from app.pricing.special_prices import may_see_evidence

        return doc if may_see_evidence(session, user, doc) else None
    if doc.entity_type == "installed_units" and (doc.entity_id or "").isdigit():
        # an installation report: whoever may open the unit may read it
        from app.service.queries import SERVICE_VIEWERS, unit_for

        if user.has_role(*SERVICE_VIEWERS) and unit_for(session, user, int(doc.entity_id)) is not None:
            return doc
    if doc.entity_type == "service_tickets" and (doc.entity_id or "").isdigit():
        # a ticket's photos: whoever may see the ticket may see them
        from app.service.tickets import ticket_for

        return doc if ticket_for(session, user, int(doc.entity_id)) is not None else None
    if doc.entity_type == "rebate_claims" and doc.dealer_id is not None:
        # a claim's evidence: whoever may see the claim may read it
        from app.channel.queries import ChannelScope, dealer_detail
        from app.rebates.ledger_queries import LEDGER_VIEWERS

        if user.has_role(*LEDGER_VIEWERS) and dealer_detail(session, ChannelScope.of(user), doc.dealer_id) is not None:
            return doc
    return None


def jobs_page(session: Session, status: str, cursor: str | None) -> Page:
    from app.compliance.models import Job

    from sqlalchemy.orm import selectinload

    stmt = select(Job).options(selectinload(Job.requested_by))
    if status:
        stmt = stmt.where(Job.status == status)
    return keyset_page(session, stmt, (Job.id,), lambda j: (j.id,), cursor, descending=True)
