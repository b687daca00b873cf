"""Reading the audit trail."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.compliance.models import AuditEvent
from app.compliance.rules import GENESIS, HASHED_FIELDS, event_hash


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
